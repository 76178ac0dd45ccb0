"""Parsing notebooks: Databricks source, plain scripts, Jupyter; SQL splitting; path mapping."""

from __future__ import annotations

import json
import re
import types
from pathlib import Path

import pytest

import streamlab.notebook as nb
from streamlab.errors import StreamlabError
from streamlab.notebook import PathMapper, guide_notebook, load_notebook, parse_notebook
from streamlab.notebook.display import format_table, to_table
from streamlab.notebook.sql import database_created, split_sql

GUIDE = Path("/work/shared/seed/000_5b4a09c93d9d1abc.txt")

DATABRICKS = """\
# Databricks notebook source
# MAGIC %md
# MAGIC # Title
# MAGIC
# MAGIC Some text

# COMMAND ----------

# DBTITLE 1,Load things
x = 1
y = x + 1

# COMMAND ----------

# MAGIC %sql
# MAGIC SELECT 1;
# MAGIC SELECT 2

# COMMAND ----------

# MAGIC %sql SELECT 3

# COMMAND ----------

# MAGIC %pip install rich

# COMMAND ----------

# MAGIC %scala
# MAGIC val x = 1

# COMMAND ----------

# MAGIC %sh
# MAGIC echo hi
"""


def _check_lines(path: Path, text: str) -> None:
    """Every cell's source lines are the file's lines from first_line on (minus MAGIC)."""
    file_lines = text.split("\n")
    for cell in parse_notebook(text, path).cells:
        for i, line in enumerate(cell.source.split("\n")):
            original = file_lines[cell.first_line - 1 + i]
            assert original.endswith(line), (cell.number, i, original, line)


def test_databricks_cells_kinds_and_lines(tmp_path: Path) -> None:
    book = parse_notebook(DATABRICKS, tmp_path / "nb.py")
    assert book.format == "databricks"
    assert book.language == "python"
    kinds = [(c.number, c.kind, c.first_line) for c in book.cells]
    assert kinds == [
        (1, "md", 3),
        (2, "python", 10),
        (3, "sql", 16),
        (4, "sql", 21),
        (5, "pip", 25),
        (6, "unknown", 30),
        (7, "sh", 35),
    ]
    md, code, sql, inline, pip, scala, sh = book.cells
    assert md.source == "# Title\n\nSome text"
    assert code.title == "Load things"
    assert code.source == "x = 1\ny = x + 1"
    assert sql.source == "SELECT 1;\nSELECT 2"
    assert sql.magic == "%sql"
    assert inline.source == "SELECT 3"
    assert pip.source == "install rich"
    assert scala.magic == "%scala"
    assert sh.source == "echo hi"
    assert sh.last_line == 35
    _check_lines(tmp_path / "nb.py", DATABRICKS)


def test_windows_line_endings(tmp_path: Path) -> None:
    text = DATABRICKS.replace("\n", "\r\n")
    assert parse_notebook(text, tmp_path / "nb.py") == parse_notebook(
        DATABRICKS, tmp_path / "nb.py"
    )


def test_sql_notebook_with_python_cell(tmp_path: Path) -> None:
    text = (
        "-- Databricks notebook source\nSELECT 1\n\n-- COMMAND ----------\n\n"
        "-- MAGIC %python\n-- MAGIC print(1)\n"
    )
    book = parse_notebook(text, tmp_path / "q.sql")
    assert book.language == "sql"
    assert [(c.kind, c.source, c.first_line) for c in book.cells] == [
        ("sql", "SELECT 1", 2),
        ("python", "print(1)", 7),
    ]


def test_plain_script_is_one_cell(tmp_path: Path) -> None:
    book = parse_notebook("\n\nimport os\nprint(os.sep)\n\n", tmp_path / "s.py")
    assert book.format == "script"
    assert [(c.kind, c.source, c.first_line) for c in book.cells] == [
        ("python", "import os\nprint(os.sep)", 3)
    ]


def test_script_split_on_command_lines(tmp_path: Path) -> None:
    text = "a = 1\n# COMMAND ----------\nb = 2\n\n# COMMAND ----------\n\n%sql SELECT 1\n"
    book = parse_notebook(text, tmp_path / "s.py")
    assert [(c.kind, c.source, c.first_line) for c in book.cells] == [
        ("python", "a = 1", 1),
        ("python", "b = 2", 3),
        ("sql", "SELECT 1", 7),
    ]


def test_plain_sql_file(tmp_path: Path) -> None:
    text = "SELECT 1;\nSELECT 2\n-- COMMAND ----------\nSHOW DATABASES\n"
    book = parse_notebook(text, tmp_path / "q.sql")
    assert (book.format, book.language) == ("script", "sql")
    assert [(c.kind, c.source, c.first_line) for c in book.cells] == [
        ("sql", "SELECT 1;\nSELECT 2", 1),
        ("sql", "SHOW DATABASES", 4),
    ]


def test_percent_cells(tmp_path: Path) -> None:
    text = "# %%\nx = 1\n# %% [markdown]\n# # Heading\n# text\n# %%\nprint(x)\n"
    book = parse_notebook(text, tmp_path / "p.py")
    assert [(c.kind, c.source, c.first_line) for c in book.cells] == [
        ("python", "x = 1", 2),
        ("md", "# Heading\ntext", 4),
        ("python", "print(x)", 7),
    ]


def test_ipynb_cells(tmp_path: Path) -> None:
    doc = {
        "cells": [
            {"cell_type": "markdown", "source": ["# Title\n", "text"]},
            {"cell_type": "code", "source": ["\n", "x = 1\n", "print(x)"]},
            {"cell_type": "code", "source": "%%sql\nSELECT 1"},
            {"cell_type": "code", "source": ["%pip install rich"]},
            {"cell_type": "code", "source": []},
            {"cell_type": "raw", "source": "ignored"},
        ],
        "nbformat": 4,
    }
    book = parse_notebook(json.dumps(doc), tmp_path / "n.ipynb")
    assert book.format == "ipynb"
    assert not book.lines_in_file
    assert [(c.number, c.kind, c.source, c.first_line) for c in book.cells] == [
        (1, "md", "# Title\ntext", 1),
        (2, "python", "x = 1\nprint(x)", 2),
        (3, "sql", "SELECT 1", 2),
        (4, "pip", "install rich", 1),
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.py", None, "does not exist"),
        ("notes.txt", "hello", "is not a notebook"),
        ("data.bin", b"\xff\xfe\x00bad", "not UTF-8"),
        ("broken.ipynb", "{not json", "not valid JSON"),
        ("empty.ipynb", '{"metadata": {}}', "no list of 'cells'"),
        ("Main.scala", "// Databricks notebook source\nval x = 1\n", "cannot run"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, name: str, content: object, message: str) -> None:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(StreamlabError, match=message) as info:
        load_notebook(path)
    assert "\n" not in str(info.value)


def test_a_folder_is_not_a_notebook(tmp_path: Path) -> None:
    with pytest.raises(StreamlabError, match="not a file"):
        load_notebook(tmp_path)


def _guide_blocks() -> list[tuple[str, str]]:
    text = GUIDE.read_text()
    return re.findall(r"### Step \d: [^\n]+\n\n```(sql|python)\n(.*?)```", text, re.S)


@pytest.mark.skipif(not GUIDE.exists(), reason="the guide's text is not on this machine")
def test_shipped_notebooks_hold_the_guide_verbatim_but_one_line() -> None:
    blocks = _guide_blocks()
    assert len(blocks) == 6
    written = load_notebook(guide_notebook(as_written=True))
    fixed = load_notebook(guide_notebook())
    for book in (written, fixed):
        assert book.format == "databricks"
        code = [c for c in book.cells if c.kind != "md"]
        assert [c.kind for c in code] == [lang for lang, _ in blocks]
    written_code = [c.source for c in written.cells if c.kind != "md"]
    assert written_code == [body.rstrip("\n") for _, body in blocks]
    fixed_code = [c.source for c in fixed.cells if c.kind != "md"]
    changed = [(a, b) for a, b in zip(written_code, fixed_code, strict=True) if a != b]
    assert len(changed) == 1  # only Step 2 changes, by one added line
    before, after = (part.split("\n") for part in changed[0])
    added = [line for line in after if line not in before]
    assert added == [
        "from builtins import max, round  "
        "# Fix: the star import above shadows Python's round and max"
    ]
    assert [line for line in after if line != added[0]] == before


def test_split_sql_statements_and_lines() -> None:
    source = (
        "-- a comment; not a split\n"
        "CREATE DATABASE IF NOT EXISTS a;\n"
        "SELECT ';' AS s, `x;y`, \"q;\" /* c; */ FROM t;\n"
        "\n"
        "SELECT\n  2"
    )
    statements = split_sql(source, first_line=10)
    assert [(s.line, s.text) for s in statements] == [
        (11, "CREATE DATABASE IF NOT EXISTS a"),
        (12, "SELECT ';' AS s, `x;y`, \"q;\"   FROM t"),
        (14, "SELECT\n  2"),
    ]
    assert split_sql("-- only a comment\n;;") == []


def test_database_created_only_for_the_bare_form() -> None:
    assert database_created("create schema x") == "x"
    assert database_created("CREATE DATABASE IF NOT EXISTS `my db`") == "my db"
    assert database_created("CREATE DATABASE x LOCATION '/y'") is None
    assert database_created("CREATE TABLE x (a INT)") is None


def test_path_mapping() -> None:
    mapper = PathMapper(Path("/lab"))
    assert mapper.local("/tmp/streaming") == Path("/lab")
    assert mapper.local("/tmp/streaming/events/") == Path("/lab/events")
    assert mapper.local("dbfs:/tmp/streaming/clicks") == Path("/lab/clicks")
    assert mapper.local("/dbfs/tmp/streaming/x") == Path("/lab/x")
    assert mapper.local("file:/tmp/streaming/x") == Path("/lab/x")
    assert mapper.local("dbfs:/mnt/raw/a.json") == Path("/lab/dbfs/mnt/raw/a.json")
    assert mapper.local("dbfs:/") == Path("/lab/dbfs")
    assert mapper.local("/tmp/streaming_other") == Path("/tmp/streaming_other")
    assert mapper.local("/var/data") == Path("/var/data")


def test_rewrite_code_paths() -> None:
    mapper = PathMapper(Path("/lab"))
    code = (
        'save(f"/tmp/streaming/events/batch_{b:04d}/")\n'
        "LOCATION 'dbfs:/tmp/streaming/x'\n"
        'open("/dbfs/mnt/a")  # "/tmp/streaming_x" and "/var/tmp/streaming" stay\n'
        'p = "dbfs:/tmp/streaming"\n'
    )
    assert mapper.rewrite(code) == (
        'save(f"/lab/events/batch_{b:04d}/")\n'
        "LOCATION '/lab/x'\n"
        'open("/lab/dbfs/mnt/a")  # "/tmp/streaming_x" and "/var/tmp/streaming" stay\n'
        'p = "/lab"\n'
    )
    assert mapper.rewrite("x = 1") == "x = 1"


def test_rewrite_refuses_a_root_that_breaks_string_literals() -> None:
    mapper = PathMapper(Path("/tmp/it's"))
    assert mapper.rewrite("x = 1") == "x = 1"  # nothing to rewrite, nothing to refuse
    with pytest.raises(StreamlabError, match="cannot be written into"):
        mapper.rewrite('spark.read.json("/tmp/streaming/events")')


def test_display_tables_without_spark() -> None:
    import pandas as pd

    assert to_table("text") is None
    assert to_table([]) is None
    columns, rows, more = to_table([{"a": 1, "b": None}, {"a": 2.0, "c": "x"}]) or ([], [], True)
    assert columns == ["a", "b", "c"]
    assert rows == [["1", "NULL", "NULL"], ["2.0", "NULL", "x"]]
    assert not more
    frame = pd.DataFrame({"n": [1, 2, 3]})
    assert to_table(frame, max_rows=2) == (["n"], [["1"], ["2"]], True)
    assert to_table([(1, "a"), (2, "b")]) == (["_1", "_2"], [["1", "a"], ["2", "b"]], False)
    assert format_table(["n", "name"], [["1", "x" * 50]], more=True) == (
        "+---+----------------------------------------+\n"
        "|  n|                                    name|\n"
        "+---+----------------------------------------+\n"
        f"|  1|{'x' * 37}...|\n"
        "+---+----------------------------------------+\n"
        "only showing the first 1 rows\n"
    )


def test_display_prints_rich_or_plain_tables() -> None:
    import io

    from streamlab.notebook import Display

    plain, fancy = io.StringIO(), io.StringIO()
    Display(lambda: plain)([{"n": 1}])
    Display(lambda: fancy, rich=True)([{"n": 1}])
    Display(lambda: plain)("just text")
    assert plain.getvalue() == "+---+\n|  n|\n+---+\n|  1|\n+---+\njust text\n"
    assert "┃ n ┃" in fancy.getvalue()


def test_public_surface() -> None:
    # pytest rewrites the asserts of a plugin's package (streamlab.testing.plugin), adding "@..."
    exported = {
        name
        for name, value in vars(nb).items()
        if not name.startswith(("_", "@")) and not isinstance(value, types.ModuleType)
    }
    assert set(nb.__all__) == exported - {"annotations"}

"""Running notebooks on the test session: the guide end to end, every cell kind, failures, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from streamlab.cli import app
from streamlab.errors import StreamlabError
from streamlab.lab.catalog import attach_catalog
from streamlab.lab.paths import CHECKPOINTS, SOURCES, LabPaths
from streamlab.notebook import RunResult, guide_notebook, run_notebook
from tests.support.lab import snapshot


def _output(result: RunResult) -> str:
    return "".join(c.output or "" for c in result.cells)


@pytest.mark.slow
def test_fixed_guide_runs_to_setup_complete(spark: SparkSession, tmp_path: Path) -> None:
    root = tmp_path / "lab"
    # The session may know the guide's databases from another lab root: Step 1 re-points them.
    spark.sql(f"CREATE DATABASE IF NOT EXISTS streaming_gold LOCATION '{tmp_path}/elsewhere.db'")
    result = run_notebook(guide_notebook(), spark, root, capture=True)
    assert result.status == "ok", result.to_dict()["error"]
    assert [c.status for c in result.cells] == ["ok"] * 13
    last = result.cells[-1].output or ""
    assert "✅ Setup Complete! Ready for watermarking and windowing exercises." in last
    assert "Event batches: 10" in last
    assert "Impression batches: 10" in last
    # Every path the guide writes (/tmp/streaming/...) landed under the lab root.
    for source in SOURCES:
        batches = sorted(p.name for p in (root / source).iterdir())
        assert batches == [f"batch_{b:04d}" for b in range(10)]
        assert list((root / source / "batch_0009").glob("part-*.json"))
    assert spark.read.json(str(root / "events" / "batch_*")).count() == 1000
    assert spark.read.json(str(root / "impressions" / "batch_*")).count() == 500
    assert spark.read.json(str(root / "clicks" / "batch_*")).count() == 100
    for name in CHECKPOINTS:
        assert (root / "checkpoints" / name).is_dir()
    # Step 1's databases live in the lab's warehouse.
    for database in ("streaming_bronze", "streaming_silver", "streaming_gold"):
        folder = root / "warehouse" / f"{database}.db"
        assert folder.is_dir()
        rows = {r[0]: r[1] for r in spark.sql(f"DESCRIBE DATABASE {database}").collect()}
        assert rows["Location"].removeprefix("file:").rstrip("/") == str(folder)
    assert "/tmp/streaming" not in _output(result)


def test_guide_as_written_fails_in_step_2_on_round(spark: SparkSession, tmp_path: Path) -> None:
    path = guide_notebook(as_written=True)
    result = run_notebook(path, spark, tmp_path / "lab", capture=True)
    failure = result.failure
    assert failure is not None
    # Cell 5 is Step 2's code; its line is the guide's call of round().
    round_line = (
        path.read_text().split("\n").index('            "value": round(random.uniform(1, 100), 2),')
        + 1
    )
    assert (failure.number, failure.error_line) == (5, round_line)
    assert failure.where == f"cell 5 (line {round_line} of day17_setup_as_written.py)"
    assert failure.error.startswith(
        "PySparkTypeError: [NOT_EXPECTED_TYPE] Argument `col` should be Column or str, got float"
    )
    assert "round(random.uniform(1, 100), 2)" in failure.traceback
    assert [c.status for c in result.cells] == ["ok"] * 4 + ["failed"] + ["not run"] * 8
    assert not (tmp_path / "lab" / "events").exists()  # it fails before the first write


NOTEBOOK = """\
# Databricks notebook source
dbutils.widgets.text("day", "1")
day = int(dbutils.widgets.get("day"))
dbutils.fs.put("dbfs:/tmp/streaming/notes/a.json", '{"n": 1}\\n{"n": 2}\\n', True)

# COMMAND ----------

# MAGIC %sql
# MAGIC CREATE OR REPLACE TEMP VIEW notes AS
# MAGIC   SELECT * FROM json.`/tmp/streaming/notes/a.json`;
# MAGIC -- the last statement's result is displayed and kept as _sqldf
# MAGIC SELECT n, n * 10 AS tens FROM notes ORDER BY n

# COMMAND ----------

total = sum(r.tens for r in _sqldf.collect()) + day
display(spark.table("notes"))
total

# COMMAND ----------

# MAGIC %fs ls /tmp/streaming/notes

# COMMAND ----------

# MAGIC %run ./helpers

# COMMAND ----------

# MAGIC %sh echo "shell sees $((6 * 7))"

# COMMAND ----------

# MAGIC %pip install pyspark

# COMMAND ----------

dbutils.notebook.exit(f"total={total} helper={helper(2)}")

# COMMAND ----------

raise RuntimeError("never reached")
"""


def test_every_cell_kind(spark: SparkSession, tmp_path: Path) -> None:
    folder = tmp_path / "nb"
    folder.mkdir()
    (folder / "helpers.py").write_text(
        "# Databricks notebook source\ndef helper(x):\n    return x * day\n"
    )
    path = folder / "main.py"
    path.write_text(NOTEBOOK)
    result = run_notebook(path, spark, tmp_path / "lab", params={"day": "17"}, capture=True)
    assert result.status == "exit"
    assert result.exit_value == "total=47 helper=34"
    statuses = [(c.number, c.kind, c.status) for c in result.cells]
    assert statuses == [
        (1, "python", "ok"),
        (2, "sql", "ok"),
        (3, "python", "ok"),
        (4, "fs", "ok"),
        (5, "run", "ok"),
        (6, "sh", "ok"),
        (7, "pip", "ok"),
        (8, "python", "exit"),
        (9, "python", "not run"),
    ]
    sql_out, python_out = result.cells[1].output or "", result.cells[2].output or ""
    assert "|  n|tens|" in sql_out
    assert "|  2|  20|" in sql_out
    assert "|  n|" in python_out  # display(df)
    assert python_out.rstrip().endswith("47")  # the last expression's value
    assert "a.json" in (result.cells[3].output or "")
    assert result.cells[5].output == "shell sees 42\n"
    assert result.cells[6].note == "already installed: pyspark"
    assert (tmp_path / "lab" / "notes" / "a.json").exists()
    spark.catalog.dropTempView("notes")


TABLES = """\
# Databricks notebook source
# MAGIC %sql
# MAGIC CREATE DATABASE IF NOT EXISTS streaming_silver;
# MAGIC CREATE DATABASE IF NOT EXISTS streaming_gold;
# MAGIC CREATE TABLE IF NOT EXISTS streaming_gold.notes (lab STRING) USING DELTA

# COMMAND ----------

lab, n = dbutils.widgets.get("lab"), int(dbutils.widgets.get("rows"))
rows = spark.createDataFrame([(lab, i) for i in range(n)], "lab string, n long")
rows.write.format("delta").mode("overwrite").saveAsTable("streaming_gold.counts")
rows.write.format("delta").mode("overwrite").saveAsTable("streaming_gold.counts")  # drops, makes
spark.sql(f"INSERT INTO streaming_gold.notes VALUES ('{lab}')")
landed = (
    spark.readStream.schema("lab string, n long").json("/tmp/streaming/landed/")
    .writeStream.format("delta")
    .option("checkpointLocation", "/tmp/streaming/checkpoints/landed")
    .toTable("streaming_silver.landed")
)
"""
SHARED = ("streaming_gold.counts", "streaming_gold.notes", "streaming_silver.landed")


def _rows(spark: SparkSession, root: Path) -> dict[str, list[tuple[object, ...]]]:
    attach_catalog(spark, LabPaths.resolve(root))
    return {t: sorted(tuple(r) for r in spark.table(t).collect()) for t in SHARED}


@pytest.mark.slow
def test_a_notebooks_tables_belong_to_its_lab_alone(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "tables.py"
    path.write_text(TABLES)
    sizes = {"a": 2, "b": 3}
    for lab, n in sizes.items():
        landed = tmp_path / lab / "landed"
        landed.mkdir(parents=True)
        lines = (json.dumps({"lab": lab, "n": i}) for i in range(n))
        (landed / "part-0.json").write_text("\n".join(lines) + "\n")
    first = run_notebook(path, spark, tmp_path / "a", params={"lab": "a", "rows": "2"})
    assert first.status == "ok", first.to_dict()["error"]
    before = snapshot(tmp_path / "a")
    # The same session serves lab b next: a's tables must neither shadow b's nor be written.
    second = run_notebook(path, spark, tmp_path / "b", params={"lab": "b", "rows": "3"})
    assert second.status == "ok", second.to_dict()["error"]
    assert snapshot(tmp_path / "a") == before
    # What toTable and saveAsTable made is an external table at its folder in lab b.
    for table in ("streaming_gold.counts", "streaming_silver.landed"):
        rows = {r[0]: r[1] for r in spark.sql(f"DESCRIBE TABLE EXTENDED {table}").collect()}
        database, name = table.split(".")
        folder = tmp_path / "b" / "warehouse" / f"{database}.db" / name
        assert (rows["Type"], rows["Location"].removeprefix("file:")) == ("EXTERNAL", str(folder))

    for lab, n in (("b", 3), ("a", 2)):  # there and back again
        assert _rows(spark, tmp_path / lab) == {
            "streaming_gold.counts": [(lab, i) for i in range(n)],
            "streaming_gold.notes": [(lab,)],
            "streaming_silver.landed": [(lab, i) for i in range(n)],
        }

    empty = LabPaths.resolve(tmp_path / "c")
    for database in ("streaming_silver", "streaming_gold"):
        (empty.warehouse / f"{database}.db").mkdir(parents=True)
    attach_catalog(spark, empty)
    assert not any(spark.catalog.tableExists(t) for t in SHARED)
    attach_catalog(spark, LabPaths.resolve(tmp_path / "a"))
    for table in SHARED:  # dropping a catalog entry never deletes a lab's data
        spark.sql(f"DROP TABLE {table}")
    assert snapshot(tmp_path / "a") == before


@pytest.mark.parametrize(
    ("cell", "line", "error"),
    [
        ("x = 1\ny = (\n", 2, "SyntaxError"),
        ("x = 1\n\ndef f():\n    return 1 / 0\n\nf()", 4, "ZeroDivisionError: division by zero"),
        (
            "# MAGIC %sql\n# MAGIC SELECT 1;\n# MAGIC\n# MAGIC SELECT * FROM no_such_table",
            4,
            "AnalysisException: [TABLE_OR_VIEW_NOT_FOUND]",
        ),
        ("# MAGIC %scala\n# MAGIC val x = 1", 2, "NotImplementedError: %scala cells"),
        (
            "# MAGIC %sh\n# MAGIC echo out; exit 3",
            2,
            "ShellCommandError: the command exited with status 3",
        ),
        (
            "dbutils.fs.mkdirs('/tmp/streaming/elsewhere')\n"
            "spark.readStream.format('json').load('/tmp/streaming/elsewhere/')",
            2,
            "a streaming file source needs a schema: pass one with spark.readStream.schema(",
        ),
        (
            "from delta.tables import DeltaTable",
            1,
            "DeltaTable (the delta package) is a Delta Lake feature: Delta Lake is not installed",
        ),
        (
            "# MAGIC %sql\n# MAGIC OPTIMIZE streaming_gold.windowed_metrics ZORDER BY (window)",
            2,
            "OPTIMIZE is a Delta Lake feature: Delta Lake is not installed here",
        ),
        (
            "dbutils.widgets.get('nope')",
            1,
            "InputWidgetNotDefined: No input widget named nope is defined",
        ),
    ],
)
def test_failing_cell_reports_number_and_line(
    spark: SparkSession, tmp_path: Path, cell: str, line: int, error: str
) -> None:
    path = tmp_path / "bad.py"
    path.write_text(f"# Databricks notebook source\nok = 1\n\n# COMMAND ----------\n\n{cell}\n")
    result = run_notebook(path, spark, tmp_path / "lab", capture=True)
    failure = result.failure
    assert failure is not None
    assert failure.number == 2
    assert failure.error.startswith(error), failure.error
    # The cell's text starts on line 6 of the file; ``line`` counts within that text.
    assert failure.where == f"cell 2 (line {line + 5} of bad.py)"
    assert result.cells[0].status == "ok"


def test_traceback_shows_lines_of_earlier_cells(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "t.py"
    path.write_text(
        "# Databricks notebook source\ndef f(x):\n    return 10 // x\n\n"
        "# COMMAND ----------\n\ny = f(0)\n"
    )
    failure = run_notebook(path, spark, tmp_path / "lab").failure
    assert failure is not None
    assert failure.where == "cell 2 (line 3 of t.py)"  # the line in cell 1 that raised
    assert "y = f(0)" in failure.traceback
    assert "return 10 // x" in failure.traceback


def test_failure_inside_run_names_both_notebooks(spark: SparkSession, tmp_path: Path) -> None:
    (tmp_path / "lib.py").write_text("# Databricks notebook source\nok = 1\nraise KeyError('k')\n")
    main = tmp_path / "main.py"
    main.write_text("# Databricks notebook source\n# MAGIC %run ./lib\n")
    failure = run_notebook(main, spark, tmp_path / "lab").failure
    assert failure is not None
    assert failure.where == "cell 1 (line 2 of main.py, %run) → cell 1 (line 3 of lib.py)"
    assert failure.error == "KeyError: 'k'"


def test_ipynb_failure_counts_lines_in_the_cell(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "n.ipynb"
    cells = [
        {"cell_type": "markdown", "source": "# Title"},
        {"cell_type": "code", "source": ["a = 1\n", "b = a / 0\n"]},
    ]
    path.write_text(json.dumps({"cells": cells}))
    failure = run_notebook(path, spark, tmp_path / "lab").failure
    assert failure is not None
    assert failure.where == "cell 2 (line 2 of cell 2 of n.ipynb)"


runner = CliRunner()


def test_cli_bad_input_exits_2(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["notebook", "run", str(tmp_path / "nope.py")])
    assert missing.exit_code == 2
    assert missing.output.strip().splitlines() == [
        f"streamlab: error: notebook {tmp_path / 'nope.py'} does not exist: check the path"
    ]
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")
    wrong = runner.invoke(app, ["notebook", "run", str(tmp_path / "data.csv")])
    assert wrong.exit_code == 2
    assert len(wrong.output.strip().splitlines()) == 1
    assert "is not a notebook" in wrong.output
    param = runner.invoke(app, ["notebook", "run", str(tmp_path / "data.csv"), "--param", "x"])
    assert param.exit_code == 2
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "lab.json").write_text("{}")  # a lab made by streamlab setup
    guide = runner.invoke(app, ["notebook", "guide", "--root", str(tmp_path / "lab")])
    assert guide.exit_code == 2
    assert "the guide would append its own random batches" in guide.output


def test_cli_runs_with_params_and_json(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "w.py"
    path.write_text(
        'dbutils.widgets.text("who", "nobody")\nprint("hello", dbutils.widgets.get("who"))\n'
    )
    args = ["notebook", "run", str(path), "--root", str(tmp_path / "lab"), "--param", "who=lab"]
    done = runner.invoke(app, [*args, "--json"])
    assert done.exit_code == 0, done.output
    data = json.loads(done.stdout)
    assert data["status"] == "ok"
    assert data["cells"][0]["output"] == "hello lab\n"
    text = runner.invoke(app, args)
    assert text.exit_code == 0
    assert "hello lab" in text.stdout
    assert "✓ w.py: 1 of 1 cells ran" in text.stdout
    path.write_text("print('before')\n1 / 0\n")
    failed = runner.invoke(app, args)
    assert failed.exit_code == 1
    assert "✗ w.py: cell 1 (line 2 of w.py): ZeroDivisionError: division by zero" in failed.stdout
    assert spark.range(1).count() == 1  # the test session is still alive


def test_a_root_paths_cannot_map_to_fails_before_any_cell(
    spark: SparkSession, tmp_path: Path
) -> None:
    path = tmp_path / "p.py"
    path.write_text('print("ran")\n# COMMAND ----------\nspark.read.json("/tmp/streaming/x")\n')
    with pytest.raises(StreamlabError, match="cannot be written into a notebook's code"):
        run_notebook(path, spark, tmp_path / "it's")
    assert not (tmp_path / "it's").exists()


@pytest.mark.slow
def test_cli_guide_as_written_exits_1_naming_the_cell(spark: SparkSession, tmp_path: Path) -> None:
    done = runner.invoke(app, ["notebook", "guide", "--as-written", "--root", str(tmp_path / "g")])
    assert done.exit_code == 1
    assert "── cell 5 · python · line 30" in done.stdout
    assert "Traceback (notebook frames):" in done.stdout
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("✗ day17_setup_as_written.py: cell 5 (line 60 of ")
    assert last.endswith(
        "PySparkTypeError: [NOT_EXPECTED_TYPE] Argument `col` should be Column or str, got float."
    )

"""Reading notebooks: Databricks source files, plain ``.py`` scripts and Jupyter ``.ipynb``.

Every format becomes a list of :class:`Cell` whose lines map back to the file, so an error can
be reported by cell number and file line. The Databricks source format is what "Export > Source
file" writes: a ``# Databricks notebook source`` header, cells split by ``# COMMAND ----------``
and non-Python cells written as ``# MAGIC`` comment lines whose first line names the language
(``%md``, ``%sql``, ``%pip``...). SQL notebooks use ``--`` instead of ``#``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from streamlab.errors import StreamlabError

CellKind = Literal["python", "sql", "md", "pip", "sh", "fs", "run", "unknown"]

_MAGIC_KINDS: dict[str, CellKind] = {
    "python": "python",
    "py": "python",
    "sql": "sql",
    "md": "md",
    "md-sandbox": "md",
    "markdown": "md",
    "pip": "pip",
    "sh": "sh",
    "bash": "sh",
    "fs": "fs",
    "run": "run",
}
_HEADERS = {"#": "python", "--": "sql"}
_DBTITLE = re.compile(r"^DBTITLE \d+,(.*)$")
_PERCENT = re.compile(r"^# %%(.*)$")


@dataclass(frozen=True)
class Cell:
    """One cell of a notebook."""

    number: int
    """The cell's position, counting from 1 as Databricks and Jupyter show it."""
    kind: CellKind
    """How the cell runs: ``python``, ``sql``, ``md``, ``pip``, ``sh``, ``fs``, ``run`` or
    ``unknown`` (a language that cannot run here, such as ``%scala``)."""
    source: str
    """The cell's code without its magic command (``%sql``) or ``# MAGIC`` prefixes."""
    first_line: int
    """The line of the file holding the first line of ``source`` (1-based); line ``i`` of the
    source is line ``first_line + i`` of the file. For ``.ipynb`` it is 1: lines count within
    the cell."""
    magic: str = ""
    """The magic command as written (``%sql``, ``%scala``), empty for a plain code cell."""
    title: str = ""
    """The cell's title (``DBTITLE``), if any."""

    @property
    def last_line(self) -> int:
        """The line of the file holding the last line of ``source``."""
        return self.first_line + max(self.source.count("\n"), 0)


@dataclass(frozen=True)
class Notebook:
    """A parsed notebook: where it came from, its format and its cells."""

    path: Path
    """The file the notebook was read from."""
    format: Literal["databricks", "script", "ipynb"]
    """``databricks`` (source format), ``script`` (a plain ``.py`` or ``.sql``) or ``ipynb``."""
    language: Literal["python", "sql"]
    """The notebook's default language: cells without a magic command are in it."""
    cells: tuple[Cell, ...]

    @property
    def lines_in_file(self) -> bool:
        """Whether cell line numbers are lines of the file (not of the cell, as in ``.ipynb``)."""
        return self.format != "ipynb"


def load_notebook(path: str | Path) -> Notebook:
    """Read the notebook at ``path``; fail with one line when it is missing or not a notebook.

    >>> load_notebook("day17_setup.py").cells[1].kind  # doctest: +SKIP
    'sql'
    """
    file = Path(path)
    if not file.exists():
        raise StreamlabError(f"notebook {file} does not exist: check the path")
    if not file.is_file():
        raise StreamlabError(f"{file} is not a file: pass a notebook (.py, .sql or .ipynb)")
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StreamlabError(
            f"{file} is not a notebook: it is not UTF-8 text (byte {exc.start})"
        ) from exc
    except OSError as exc:
        raise StreamlabError(f"cannot read {file} ({exc.strerror}): check its permissions") from exc
    return parse_notebook(text, file)


def parse_notebook(text: str, path: str | Path = "<notebook>") -> Notebook:
    """Parse notebook ``text``; the file name's suffix tells the format when the text does not."""
    file = Path(path)
    stripped = text.lstrip("\ufeff").replace("\r\n", "\n")
    first = stripped.split("\n", 1)[0].strip()
    for prefix, language in _HEADERS.items():
        if first == f"{prefix} Databricks notebook source":
            cells = _databricks_cells(stripped, prefix, language)
            return Notebook(file, "databricks", _lang(language), tuple(cells))
    if first.endswith("Databricks notebook source"):
        raise StreamlabError(
            f"{file} is a Databricks notebook in a language streamlab cannot run "
            f"({first!r}): export it as Python or SQL"
        )
    suffix = file.suffix.lower()
    if suffix == ".ipynb":
        return Notebook(file, "ipynb", "python", tuple(_ipynb_cells(stripped, file)))
    if suffix in (".py", ".sql"):
        language = "python" if suffix == ".py" else "sql"
        cells = _script_cells(stripped, language)
        return Notebook(file, "script", _lang(language), tuple(cells))
    raise StreamlabError(
        f"{file} is not a notebook: expected a Databricks source file, a .py, .sql or .ipynb file"
    )


def _lang(language: str) -> Literal["python", "sql"]:
    return "sql" if language == "sql" else "python"


def _databricks_cells(text: str, prefix: str, language: str) -> list[Cell]:
    lines = text.split("\n")
    separator = f"{prefix} COMMAND ----------"
    magic_prefix = f"{prefix} MAGIC"
    chunks: list[tuple[int, list[str]]] = []
    start, current = 2, list[str]()
    for number, line in enumerate(lines[1:], start=2):
        if line.rstrip() == separator:
            chunks.append((start, current))
            start, current = number + 1, []
        else:
            current.append(line)
    chunks.append((start, current))

    cells: list[Cell] = []
    for start, chunk in chunks:
        first, body = _trim(start, chunk)
        if not body:
            continue
        title = ""
        match = _DBTITLE.match(body[0].removeprefix(prefix).strip())
        if body[0].startswith(prefix) and match:
            title = match.group(1).strip()
            first, body = _trim(first + 1, body[1:])
            if not body:
                continue
        if all(_is_magic(line, magic_prefix) for line in body):
            body = [_unmagic(line, magic_prefix) for line in body]
            cells.append(_magic_cell(len(cells) + 1, first, body, language, title))
        else:
            kind: CellKind = "sql" if language == "sql" else "python"
            cells.append(Cell(len(cells) + 1, kind, "\n".join(body), first, title=title))
    return cells


def _is_magic(line: str, magic_prefix: str) -> bool:
    return line == magic_prefix or line.startswith(magic_prefix + " ")


def _unmagic(line: str, magic_prefix: str) -> str:
    return line[len(magic_prefix) + 1 :] if line != magic_prefix else ""


def _magic_cell(number: int, first: int, body: list[str], language: str, title: str) -> Cell:
    """Build a cell whose first line may be a magic command such as ``%sql``."""
    head = body[0].lstrip()
    if not head.startswith("%"):
        kind: CellKind = "sql" if language == "sql" else "python"
        return Cell(number, kind, "\n".join(body), first, title=title)
    word, _, rest = head.partition(" ")
    found = _MAGIC_KINDS.get(word[1:].lower(), "unknown")
    if rest.strip():
        # The command continues on the magic's own line (``%sql SELECT 1``, ``%pip install x``).
        lines = [rest, *body[1:]]
        return Cell(number, found, "\n".join(lines).strip("\n"), first, word, title)
    line, rest_lines = _trim(first + 1, body[1:])
    return Cell(number, found, "\n".join(rest_lines), line, word, title)


def _trim(first: int, lines: list[str]) -> tuple[int, list[str]]:
    """Drop blank lines at both ends; return the new first line and the remaining lines."""
    lo, hi = 0, len(lines)
    while lo < hi and not lines[lo].strip():
        lo += 1
    while hi > lo and not lines[hi - 1].strip():
        hi -= 1
    return first + lo, lines[lo:hi]


def _script_cells(text: str, language: str) -> list[Cell]:
    """Split a plain script on ``# COMMAND ----------`` or ``# %%`` lines; else one cell."""
    prefix = "#" if language == "python" else "--"
    lines = text.split("\n")
    separator = f"{prefix} COMMAND ----------"
    percent = language == "python" and any(_PERCENT.match(line) for line in lines)
    chunks: list[tuple[int, list[str], str]] = []
    start, current, marker = 1, list[str](), ""
    for number, line in enumerate(lines, start=1):
        match = _PERCENT.match(line) if percent else None
        if line.rstrip() == separator or match:
            chunks.append((start, current, marker))
            start, current, marker = number + 1, [], match.group(1).strip() if match else ""
        else:
            current.append(line)
    chunks.append((start, current, marker))

    cells: list[Cell] = []
    kind: CellKind = "sql" if language == "sql" else "python"
    for start, chunk, marker in chunks:
        first, body = _trim(start, chunk)
        if not body:
            continue
        if marker.startswith("[markdown]") or marker.startswith("[md]"):
            text_lines = [line.removeprefix("#").removeprefix(" ") for line in body]
            cells.append(Cell(len(cells) + 1, "md", "\n".join(text_lines), first, "%md"))
        elif kind == "python" and body[0].lstrip().startswith("%"):
            cells.append(_magic_cell(len(cells) + 1, first, body, language, ""))
        else:
            cells.append(Cell(len(cells) + 1, kind, "\n".join(body), first))
    return cells


def _ipynb_cells(text: str, file: Path) -> list[Cell]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise StreamlabError(f"{file} is not a notebook: it is not valid JSON ({exc})") from exc
    raw = document.get("cells") if isinstance(document, dict) else None
    if not isinstance(raw, list):
        raise StreamlabError(f"{file} is not a notebook: its JSON has no list of 'cells'")
    cells: list[Cell] = []
    for item in raw:
        if not isinstance(item, dict):
            raise StreamlabError(f"{file} is not a notebook: a cell is not a JSON object")
        source = _joined(item.get("source", ""))
        first, body = _trim(1, source.split("\n"))
        if not body:
            continue
        kind = item.get("cell_type")
        number = len(cells) + 1
        if kind == "markdown":
            cells.append(Cell(number, "md", "\n".join(body), first, "%md"))
        elif kind == "code":
            if body[0].lstrip().startswith("%%"):
                # Jupyter cell magics: %%sql, %%sh, %%bash and %%markdown run like Databricks'.
                body = [body[0].lstrip()[1:], *body[1:]]
            cells.append(_magic_cell(number, first, body, "python", ""))
    return cells


def _joined(source: Any) -> str:
    if isinstance(source, list):
        return "".join(str(part) for part in source)
    return str(source)

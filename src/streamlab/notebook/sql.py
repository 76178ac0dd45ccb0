"""Splitting a ``%sql`` cell into statements, as Databricks runs them: one after the other.

``spark.sql`` takes one statement; a notebook cell may hold several separated by ``;``.
Semicolons inside quotes, backquotes and comments do not split. Comments are dropped, so a
statement's first line is where its first keyword stands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CREATE_DATABASE = re.compile(
    r"^\s*CREATE\s+(?:DATABASE|SCHEMA)\s+(?:IF\s+NOT\s+EXISTS\s+)?(`[^`]+`|[A-Za-z_]\w*)\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Statement:
    """One SQL statement of a cell."""

    text: str
    """The statement without comments or its final ``;``."""
    line: int
    """The line (of the file, like the cell's ``first_line``) where the statement starts."""


def split_sql(source: str, first_line: int = 1) -> list[Statement]:
    r"""Split ``source`` on ``;`` outside quotes and comments; drop comments and empty statements.

    >>> [s.text for s in split_sql("SELECT 1; -- one\nSELECT ';'")]
    ['SELECT 1', "SELECT ';'"]
    """
    statements: list[Statement] = []
    buf: list[str] = []
    line = first_line
    start: int | None = None
    i, n = 0, len(source)
    quote = ""
    while i < n:
        ch = source[i]
        if quote:
            buf.append(ch)
            if ch == "\\" and quote != "`" and i + 1 < n:
                buf.append(source[i + 1])
                line += source[i + 1] == "\n"
                i += 2
                continue
            if ch == quote:
                quote = ""
            line += ch == "\n"
            i += 1
            continue
        if source.startswith("--", i):
            end = source.find("\n", i)
            i = n if end < 0 else end
            continue
        if source.startswith("/*", i):
            end = source.find("*/", i + 2)
            chunk = source[i : n if end < 0 else end + 2]
            line += chunk.count("\n")
            buf.append(" " + "\n" * chunk.count("\n"))
            i += len(chunk)
            continue
        if ch == ";":
            _flush(statements, buf, start)
            buf, start = [], None
            i += 1
            continue
        if ch in "'\"`":
            quote = ch
        if start is None and not ch.isspace():
            start = line
        buf.append(ch)
        line += ch == "\n"
        i += 1
    _flush(statements, buf, start)
    return statements


def _flush(statements: list[Statement], buf: list[str], start: int | None) -> None:
    text = "".join(buf).strip()
    if text and start is not None:
        statements.append(Statement(text, start))


def database_created(statement: str) -> str | None:
    """Return the database a bare ``CREATE DATABASE|SCHEMA [IF NOT EXISTS] name`` creates.

    Only the bare form: a statement with ``LOCATION``, ``COMMENT`` or properties gives None.

    >>> database_created("CREATE DATABASE IF NOT EXISTS streaming_bronze")
    'streaming_bronze'
    """
    match = _CREATE_DATABASE.match(statement)
    return match.group(1).strip("`") if match else None

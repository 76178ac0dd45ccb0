"""``display``: a notebook's tables, printed as text (or a Rich table on a terminal).

Databricks renders ``display(df)`` as an interactive grid. Locally it prints the first rows
like ``DataFrame.show()``, for Spark and pandas DataFrames, lists of rows, dicts or tuples, and
``dbutils.fs.ls`` results. A streaming DataFrame cannot be shown without starting a query, so
``display`` says how to write it instead.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

DEFAULT_ROWS = 1000
"""The most rows ``display`` prints, as Databricks shows by default."""
_CELL_WIDTH = 40


class Display:
    """The ``display`` callable of a notebook; prints to ``out`` (stdout by default)."""

    def __init__(
        self,
        out: Callable[[], TextIO] | None = None,
        *,
        max_rows: int = DEFAULT_ROWS,
        rich: bool | None = None,
    ) -> None:
        self._out = out or (lambda: sys.stdout)
        self.max_rows = max_rows
        self._rich = rich

    def __call__(self, value: object = None, *args: object, **kwargs: object) -> None:
        """Print ``value`` as a table when it is tabular, else as text."""
        table = to_table(value, self.max_rows)
        stream = self._out()
        if table is None:
            print(value, file=stream)
            return
        columns, rows, more = table
        if self._use_rich(stream):
            _print_rich(columns, rows, more, stream)
        else:
            stream.write(format_table(columns, rows, more))
        stream.flush()

    def html(self, html: str) -> None:
        """``displayHTML``: print the HTML source, as there is no browser to render it."""
        print(html, file=self._out())

    def _use_rich(self, stream: TextIO) -> bool:
        if self._rich is not None:
            return self._rich
        return bool(getattr(stream, "isatty", lambda: False)())


Table = tuple[list[str], list[list[str]], bool]


def to_table(value: object, max_rows: int = DEFAULT_ROWS) -> Table | None:
    """Return (columns, rows as text, whether rows were cut) for tabular ``value``, else None."""
    if _is_spark_dataframe(value):
        df: Any = value
        if df.isStreaming:
            raise ValueError(
                "display() of a streaming DataFrame needs a running query: write it with "
                "writeStream (for example .format('memory') or .format('console')) and "
                "show the result"
            )
        rows = df.limit(max_rows + 1).collect()
        return (
            list(df.columns),
            [[_text(v) for v in r] for r in rows[:max_rows]],
            len(rows) > max_rows,
        )
    if _is_pandas(value):
        frame: Any = value
        columns = [str(c) for c in frame.columns]
        head = frame.head(max_rows + 1)
        data = [[_text(v) for v in row] for row in head.itertuples(index=False, name=None)]
        return columns, data[:max_rows], len(data) > max_rows
    if isinstance(value, Sequence) and not isinstance(value, str | bytes) and value:
        return _from_records(list(value), max_rows)
    return None


def _from_records(items: list[Any], max_rows: int) -> Table | None:
    first = items[0]
    fields = getattr(first, "__fields__", None) or getattr(first, "_fields", None)
    if isinstance(first, tuple) and fields:  # Row, FileInfo and other named tuples
        columns = list(fields)
        rows = [[_text(v) for v in item] for item in items[:max_rows]]
    elif isinstance(first, Mapping):
        columns = list(dict.fromkeys(k for item in items for k in item))
        rows = [[_text(item.get(c)) for c in columns] for item in items[:max_rows]]
    elif isinstance(first, tuple | list):
        width = max(len(item) for item in items)
        columns = [f"_{i + 1}" for i in range(width)]
        rows = [[_text(v) for v in item] for item in items[:max_rows]]
    else:
        columns = ["value"]
        rows = [[_text(item)] for item in items[:max_rows]]
    return [str(c) for c in columns], rows, len(items) > max_rows


def format_table(columns: list[str], rows: list[list[str]], more: bool = False) -> str:
    """Format a table as ``DataFrame.show()`` does: a ruled grid, long values cut."""
    cut = [[_cut(v) for v in row] for row in rows]
    widths = [max(3, len(c)) for c in columns]  # show() pads columns to 3 characters
    for row in cut:
        for i, value in enumerate(row[: len(widths)]):
            widths[i] = max(widths[i], len(value))
    rule = "+" + "+".join("-" * w for w in widths) + "+"
    lines = [rule, "|" + "|".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)) + "|"]
    lines.append(rule)
    for row in cut:
        padded = [*row, *[""] * (len(widths) - len(row))][: len(widths)]
        lines.append("|" + "|".join(v.rjust(w) for v, w in zip(padded, widths, strict=True)) + "|")
    lines.append(rule)
    if more:
        lines.append(f"only showing the first {len(rows)} rows")
    return "\n".join(lines) + "\n"


def _print_rich(columns: list[str], rows: list[list[str]], more: bool, stream: TextIO) -> None:
    from rich.console import Console
    from rich.table import Table as RichTable

    table = RichTable(*columns, show_lines=False)
    for row in rows:
        table.add_row(*row)
    console = Console(file=stream, highlight=False)
    console.print(table)
    if more:
        console.print(f"only showing the first {len(rows)} rows")


def _text(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float) and value.is_integer():
        return f"{value:.1f}"
    return str(value)


def _cut(value: str) -> str:
    value = value.replace("\n", "\\n")
    return value if len(value) <= _CELL_WIDTH else value[: _CELL_WIDTH - 3] + "..."


def _is_spark_dataframe(value: object) -> bool:
    kind = type(value)
    return kind.__name__ == "DataFrame" and kind.__module__.startswith("pyspark.sql")


def _is_pandas(value: object) -> bool:
    kind = type(value)
    return kind.__name__ == "DataFrame" and kind.__module__.startswith("pandas")

"""``display``: a notebook's tables, printed as text (or a Rich table on a terminal).

Databricks renders ``display(df)`` as an interactive grid. Locally it prints the first rows
like ``DataFrame.show()``, for Spark and pandas DataFrames, lists of rows, dicts or tuples, and
``dbutils.fs.ls`` results.

A streaming DataFrame is shown as Databricks shows it: as its rows arrive. The notebook runner
starts a query into a memory table (complete mode for an aggregation, as Databricks does, update
mode where complete is refused, append otherwise) and hands it to a :class:`StreamDisplay`,
which draws the table now, again after every later cell, and a last time when the run stops the
query. In a Jupyter kernel it keeps one HTML table up to date instead, every second. Without a
runner to start the query, ``display`` says how to write it.
"""

from __future__ import annotations

import html
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming.query import StreamingQuery

DEFAULT_ROWS = 1000
"""The most rows ``display`` prints, as Databricks shows by default."""
_CELL_WIDTH = 40
JUPYTER_REFRESH = 1.0
"""Seconds between redraws of a stream's HTML table in a Jupyter kernel."""


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
        self.stream_starter: Callable[[DataFrame], object] | None = None
        """Starts the query behind ``display()`` of a stream: the notebook runner sets it."""

    def __call__(self, value: object = None, *args: object, **kwargs: object) -> None:
        """Print ``value`` as a table when it is tabular, else as text."""
        if self.stream_starter is not None and _is_spark_dataframe(value):
            frame: Any = value
            if frame.isStreaming:
                self.stream_starter(frame)
                return
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

    def use_rich(self, stream: TextIO) -> bool:
        """Whether tables go out as Rich tables (on a terminal) rather than plain text."""
        if self._rich is not None:
            return self._rich
        return bool(getattr(stream, "isatty", lambda: False)())

    _use_rich = use_rich

    def show(self, table: Table, heading: str = "") -> None:
        """Print ``table`` (columns, rows, whether cut) under ``heading``."""
        stream = self._out()
        columns, rows, more = table
        if heading:
            print(heading, file=stream)
        if self.use_rich(stream):
            _print_rich(columns, rows, more, stream)
        else:
            stream.write(format_table(columns, rows, more))
        stream.flush()


class StreamDisplay:
    """``display()`` of a stream: the rows of its memory table, redrawn as batches arrive."""

    def __init__(
        self,
        spark: SparkSession,
        query: StreamingQuery,
        table: str,
        mode: str,
        display: Display,
        *,
        handle: Any = None,
    ) -> None:
        self.spark, self.query, self.table, self.mode = spark, query, table, mode
        self._display = display
        self._handle = handle if handle is not None else jupyter_handle()
        self._lock = threading.Lock()
        self._shown: tuple[int, int] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self._handle is not None:
            self._thread = threading.Thread(target=self._follow, daemon=True, name=table)
            self._thread.start()

    def snapshot(self) -> Table:
        """Return the memory table's rows as text, as ``display`` shows a static DataFrame."""
        table = to_table(self.spark.table(self.table), self._display.max_rows)
        assert table is not None
        return table

    def refresh(self, *, final: bool = False) -> None:
        """Draw the table again if a batch arrived since it was last drawn (or ``final``)."""
        with self._lock:
            progress = self.query.lastProgress if _active(self.query) or final else None
            batch = int(progress["batchId"]) if progress else -1
            columns, rows, more = self.snapshot()
            state = (batch, len(rows))
            if state == self._shown and not final:
                return
            self._shown = state
            done = "final, " if final else ""
            heading = (
                f"display() of stream {self.query.name or self.table} ({done}{self.mode} mode, "
                f"after batch {batch}): {len(rows)} rows"
            )
            if self._handle is not None:
                self._handle.update(_Html(format_html(columns, rows, more, heading)))
            else:
                self._display.show((columns, rows, more), heading)

    def close(self) -> None:
        """Draw the final table; stop following the query."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.refresh(final=True)

    def _follow(self) -> None:
        while not self._stop.wait(JUPYTER_REFRESH):
            try:
                self.refresh()
            except Exception:
                return


class _Html:
    """An HTML value as IPython's display handle wants it (``_repr_html_``)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_html_(self) -> str:
        return self.text


def jupyter_handle() -> Any:
    """Return an updatable IPython display handle when running in a Jupyter kernel, else None."""
    try:
        from IPython import get_ipython  # type: ignore[import-not-found,unused-ignore]
        from IPython.display import display as ipy_display  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return None
    return ipy_display(_Html(""), display_id=True)


def format_html(columns: list[str], rows: list[list[str]], more: bool, heading: str = "") -> str:
    """Return a table as HTML, for a Jupyter output."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>" for row in rows
    )
    caption = f"<caption>{html.escape(heading)}</caption>" if heading else ""
    note = f"<p>only showing the first {len(rows)} rows</p>" if more else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{note}"


def _active(query: StreamingQuery) -> bool:
    try:
        return bool(query.isActive)
    except Exception:
        return False


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

"""What every command shares: its options, its output (Rich or JSON) and its progress bars."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from streamlab.lab.paths import LabPaths

console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 120)
"""Where commands print for people (stdout)."""
err_console = Console(stderr=True, highlight=False)
"""Where progress and warnings go (stderr), so stdout stays clean for --json."""

RootOpt = Annotated[
    Path | None,
    typer.Option(
        "--root",
        envvar="STREAMLAB_ROOT",
        help="Lab root folder [default: /tmp/streaming].",
        show_default=False,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of tables.")]
MasterOpt = Annotated[
    str | None,
    typer.Option(
        "--master", envvar="STREAMLAB_MASTER", help="Spark master URL, e.g. spark://HOST:7077."
    ),
]
RemoteOpt = Annotated[
    str | None,
    typer.Option(
        "--remote", envvar="SPARK_REMOTE", help="Spark Connect URL, e.g. sc://HOST:15002."
    ),
]


def lab_paths(root: Path | None) -> LabPaths:
    """Return the lab paths for a ``--root`` option."""
    return LabPaths.resolve(root)


def to_jsonable(value: Any) -> Any:
    """Convert Spark rows, timestamps and decimals into plain JSON-ready values."""
    if hasattr(value, "asDict"):
        return {k: to_jsonable(v) for k, v in value.asDict(recursive=False).items()}
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes | bytearray):
        return value.decode("utf-8", "replace")
    return value


def emit(data: Any, json_mode: bool, render: Callable[[Console], None] | None = None) -> None:
    """Print ``data`` as JSON when ``json_mode``, else let ``render`` draw it for people."""
    if json_mode or render is None:
        sys.stdout.write(
            orjson.dumps(to_jsonable(data), option=orjson.OPT_INDENT_2, default=str).decode() + "\n"
        )
        sys.stdout.flush()
    else:
        render(console)


@contextmanager
def progress_bar(
    description: str, total: int, *, show: bool = True
) -> Iterator[Callable[[int, int], None]]:
    """Yield a ``(done, total)`` callback that draws a bar on a terminal, and nothing elsewhere."""
    if not show or not err_console.is_terminal:
        yield lambda done, total: None
        return
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)

        def update(done: int, total_now: int) -> None:
            bar.update(task, completed=done, total=total_now)

        yield update


@contextmanager
def status(message: str, *, show: bool = True) -> Iterator[None]:
    """Show a spinner with ``message`` on a terminal while the block runs."""
    if not show or not err_console.is_terminal:
        yield
        return
    with err_console.status(message):
        yield

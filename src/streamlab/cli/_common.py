"""What every command shares: its options, its output (Rich or JSON) and its progress bars."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from streamlab.lab.paths import LabPaths
from streamlab.settings import PipelineConfig, shown_default

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

PIPELINE_DEFAULTS = PipelineConfig()
"""The pipelines' settings as declared: every option's default and help text comes from them."""


def with_default(text: str, ms: int | None) -> str:
    """Return an option's help with its default as a duration, as in ``Window [default: 5m].``."""
    return f"{text} {shown_default(ms)}."


WatermarkDelayOpt = Annotated[
    str | None,
    typer.Option(
        "--watermark-delay",
        help=with_default("Events' watermark delay", PIPELINE_DEFAULTS.watermark_delay_ms),
    ),
]
OldWatermarkOpt = Annotated[
    str | None,
    typer.Option("--watermark", hidden=True, help="The old spelling of --watermark-delay."),
]


def either(new: str | None, old: str | None) -> str | None:
    """Return the option given in its current spelling, else the one given in its old spelling."""
    return new if new is not None else old


# Rich's console is made on first use: ``--help`` and a bad option never import it.


@cache
def stdout_console() -> Console:
    """Return where commands print for people (stdout)."""
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 120)


@cache
def stderr_console() -> Console:
    """Return where progress and warnings go (stderr), so stdout stays clean for --json."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def new_table(*args: Any, **kwargs: Any) -> Table:
    """Return a Rich table (Rich's table module is imported when a command first draws one)."""
    from rich.table import Table

    return Table(*args, **kwargs)


def __getattr__(name: str) -> Any:
    """Make ``console`` and ``err_console`` on first use, as before."""
    if name == "console":
        return stdout_console()
    if name == "err_console":
        return stderr_console()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    decimal = sys.modules.get("decimal")  # a Decimal (Spark's DECIMAL) exists only once it loaded
    if decimal is not None and isinstance(value, decimal.Decimal):
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
        render(stdout_console())


_NUMPY = orjson.OPT_SERIALIZE_NUMPY


def emit_json_with_items(data: dict[str, Any], key: str, chunks: Iterable[list[Any]]) -> None:
    """Print ``data`` as JSON with ``key`` last, its items written a chunk at a time.

    Each item goes on a line of its own, so a list of millions is never held whole, as data or
    as text.
    """
    head = orjson.dumps(to_jsonable(data), option=orjson.OPT_INDENT_2, default=str)
    out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else None
    write = out.write if out is not None else (lambda b: sys.stdout.write(b.decode()))
    sys.stdout.flush()
    write((head[:-2] + b",\n  " if data else b"{\n  ") + orjson.dumps(key) + b": [")
    first = True
    for chunk in chunks:
        if not chunk:
            continue
        lines = b",\n    ".join(orjson.dumps(item, option=_NUMPY, default=str) for item in chunk)
        write((b"\n    " if first else b",\n    ") + lines)
        first = False
    write(b"]\n}\n" if first else b"\n  ]\n}\n")
    if out is not None:
        out.flush()
    sys.stdout.flush()


@contextmanager
def progress_bar(
    description: str, total: int, *, show: bool = True
) -> Iterator[Callable[[int, int], None]]:
    """Yield a ``(done, total)`` callback that draws a bar on a terminal, and nothing elsewhere."""
    if not show or not stderr_console().is_terminal:
        yield lambda done, total: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr_console(),
        transient=True,
    ) as bar:
        task = bar.add_task(description, total=total)

        def update(done: int, total_now: int) -> None:
            bar.update(task, completed=done, total=total_now)

        yield update


@contextmanager
def status(message: str, *, show: bool = True) -> Iterator[None]:
    """Show a spinner with ``message`` on a terminal while the block runs."""
    if not show or not stderr_console().is_terminal:
        yield
        return
    with stderr_console().status(message):
        yield

"""``streamlab notebook``: run Databricks notebooks, scripts and Jupyter notebooks locally."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from streamlab.cli._common import (
    JsonOpt,
    MasterOpt,
    RemoteOpt,
    RootOpt,
    emit,
    lab_paths,
    status,
)
from streamlab.errors import StreamlabError

if TYPE_CHECKING:
    from rich.console import Console

    from streamlab.notebook import Notebook, RunResult

notebook_app = typer.Typer(
    help="Run notebooks locally, with spark, dbutils and display, on the lab root.",
    no_args_is_help=True,
)

ParamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        metavar="KEY=VALUE",
        help="A widget value, KEY=VALUE (repeatable); dbutils.widgets.get(KEY) returns it.",
    ),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        min=1,
        metavar="SECONDS",
        help="End the run (exit status 1) if it takes longer, queries included.",
    ),
]


def parse_params(given: list[str] | None) -> dict[str, str]:
    """Turn ``KEY=VALUE`` options into a dict; fail with one line on a malformed one."""
    params: dict[str, str] = {}
    for item in given or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise StreamlabError(f"--param {item!r} is not KEY=VALUE: write it like --param day=17")
        params[key.strip()] = value
    return params


@notebook_app.command("run")
def run(
    file: Annotated[Path, typer.Argument(help="A Databricks source notebook, .py, .sql, .ipynb.")],
    root: RootOpt = None,
    param: ParamOpt = None,
    master: MasterOpt = None,
    remote: RemoteOpt = None,
    timeout: TimeoutOpt = None,
    json_mode: JsonOpt = False,
) -> None:
    """Run a notebook's cells in order; the first failing cell stops it (exit status 1).

    Streaming queries run in the background; after the last cell each one processes what has
    landed and is stopped, and the run prints its name, batches, rows and last watermark.
    """
    from streamlab.notebook import load_notebook

    book = load_notebook(file)
    params = parse_params(param)
    _run(book, root, params, json_mode, master=master, remote=remote, timeout=timeout)


@notebook_app.command("guide")
def guide(
    root: RootOpt = None,
    as_written: Annotated[
        bool,
        typer.Option("--as-written", help="Run the guide without its fix, to see it fail."),
    ] = False,
    master: MasterOpt = None,
    remote: RemoteOpt = None,
    json_mode: JsonOpt = False,
) -> None:
    """Run the setup guide's Steps 1-6 as a notebook (its one bug fixed) on the lab root."""
    from streamlab.notebook import check_guide_root, guide_notebook, load_notebook

    check_guide_root(lab_paths(root))
    book = load_notebook(guide_notebook(as_written))
    _run(book, root, {}, json_mode, master=master, remote=remote)


def _run(
    book: Notebook,
    root: Path | None,
    params: dict[str, str],
    json_mode: bool,
    *,
    master: str | None,
    remote: str | None,
    timeout: float | None = None,
) -> None:
    from streamlab.notebook import TextReporter, notebook_session, run_notebook
    from streamlab.spark.session import check_target

    paths = lab_paths(root)
    check_target(master, remote)
    paths.ensure_writable()
    with ExitStack() as stack:
        with status("Starting Spark...", show=not json_mode):
            session = notebook_session(paths.root, master=master, remote=remote)
            spark = stack.enter_context(session)
        listener = None if json_mode else TextReporter()
        result = run_notebook(
            book,
            spark,
            paths.root,
            params=params,
            capture=json_mode,
            listener=listener,
            timeout=timeout,
        )
    emit(result.to_dict(), json_mode, lambda console: _summary(console, result))
    if not result.ok:
        raise typer.Exit(1)


def _summary(console: Console, result: RunResult) -> None:
    name = Path(result.notebook).name
    ran = sum(1 for c in result.cells if c.status != "not run")
    failure = result.failure
    if failure is not None:
        console.print(f"✗ {name}: {failure.where}: {failure.error}", markup=False)
        return
    ended = ""
    if result.exit_value is not None:
        ended = f", ended by dbutils.notebook.exit({result.exit_value!r})"
    console.print(
        f"✓ {name}: {ran} of {len(result.cells)} cells ran in {result.seconds:.1f} s{ended} "
        f"(lab root {result.root})",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    """Add the ``notebook`` commands to ``app``."""
    app.add_typer(notebook_app, name="notebook")

"""The ``streamlab`` command: one sub-module per group of commands, joined here."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any

import typer
from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

from streamlab.cli import (
    cluster,
    exercises,
    experiments,
    explain,
    lab,
    live,
    notebook,
    pipelines,
    quiz,
    relocate,
)
from streamlab.errors import StreamlabError
from streamlab.spark.lifecycle import command_scope

_DEBUG_FLAG = "--debug"


class StreamlabGroup(TyperGroup):
    """Turns every error a user can cause into one line and exit status 2.

    ``--debug`` anywhere on the command line (or STREAMLAB_DEBUG=1) adds the traceback.
    """

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line, reporting failures as one line each."""
        argv = list(sys.argv[1:] if args is None else args)
        debug = _DEBUG_FLAG in argv or os.environ.get("STREAMLAB_DEBUG") == "1"
        argv = [a for a in argv if a != _DEBUG_FLAG]
        _QUIET[0] = not debug
        try:
            # However the command ends, the JVM it started ends before the command does.
            with command_scope():
                result = super().main(
                    argv, prog_name or "streamlab", complete_var, standalone_mode=False, **extra
                )
        except Exit as exc:
            sys.exit(exc.exit_code)
        except TyperException as exc:  # usage errors: unknown option, bad value, missing argument
            ctx = getattr(exc, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            _fail(f"{exc.format_message()}{hint}", exc.exit_code, debug)
        except StreamlabError as exc:
            _fail(str(exc), exc.exit_code, debug)
        except (Abort, KeyboardInterrupt):
            print("streamlab: interrupted", file=sys.stderr)
            sys.exit(130)
        except Exception as exc:
            line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
            _fail(
                f"unexpected {type(exc).__name__}: {line} (run again with --debug for details)",
                1,
                debug,
            )
        if isinstance(result, int) and not isinstance(result, bool):
            sys.exit(result)
        sys.exit(0)


_QUIET = [True]
"""Whether a command quiets PySpark's loggers (not with ``--debug``)."""


def _quiet_pyspark_loggers() -> None:
    """Stop PySpark logging a JSON stack trace for each failed query: errors get one line."""
    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).disabled = True


def _fail(message: str, code: int, debug: bool) -> None:
    if debug:
        traceback.print_exc()
    print(f"streamlab: error: {message}", file=sys.stderr)
    sys.exit(code)


app = typer.Typer(
    cls=StreamlabGroup,
    name="streamlab",
    help="Learn, practise and test Spark Structured Streaming event time.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _quieting(callback: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command so PySpark's loggers are quieted when it runs, not when it is parsed.

    ``--help`` and a bad option never reach a command's body, so they never import pyspark.
    """

    @functools.wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        if _QUIET[0]:
            from streamlab.spark.settings import LOG_LEVEL_ENV

            _quiet_pyspark_loggers()
            # A failed query is one line from streamlab; Spark's logged traces: --debug.
            os.environ.setdefault(LOG_LEVEL_ENV, "OFF")
        return callback(*args, **kwargs)

    return run


def _quiet_commands(group: typer.Typer) -> None:
    for command in group.registered_commands:
        if command.callback is not None:
            command.callback = _quieting(command.callback)
    for sub in group.registered_groups:
        if sub.typer_instance is not None:
            _quiet_commands(sub.typer_instance)


# Each module adds its group of commands.
for _module in (
    lab,
    pipelines,
    relocate,
    live,
    explain,
    experiments,
    notebook,
    cluster,
    quiz,
    exercises,
):
    _module.register(app)
_quiet_commands(app)


def main() -> None:
    """Entry point of the ``streamlab`` console script."""
    app()

"""A learner's solution: a Python file, a notebook, or a function, checked before it runs.

A file is run as a fresh module under its own name, so Spark's errors and Python's tracebacks
point at the learner's line. A Databricks-source notebook is plain Python already (its cells
are separated by comments); a Jupyter notebook's code cells are joined in order.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from streamlab.errors import StreamlabError
from streamlab.exercises.catalogue import Exercise

_MODES = ("append", "update", "complete")


@dataclass(frozen=True)
class Solution:
    """What the checker runs: the function, where it came from, and its declared settings."""

    function: Callable[..., Any]
    """``solve`` or ``answer``."""
    origin: str
    """The file it was read from, or the function's name."""
    output_mode: str
    """``OUTPUT_MODE`` of the module (``append`` when it declares none)."""


def source_of(path: Path) -> str:
    """Return the Python source of a ``.py`` file or the code cells of an ``.ipynb``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StreamlabError(
            f"{path} does not exist: run 'streamlab exercises start N' to write the starter, "
            "or give the path of your solution"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StreamlabError(f"cannot read {path} ({exc}): give a readable .py file") from exc
    if path.suffix != ".ipynb":
        return text
    try:
        nb = orjson.loads(text)
        cells = [c for c in nb["cells"] if c.get("cell_type") == "code"]
        parts = [
            "".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells
        ]
    except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise StreamlabError(f"{path} is not a Jupyter notebook ({exc})") from exc
    # Magic and shell lines are not Python; the checker needs only the definitions.
    lines = [
        ln for part in parts for ln in part.splitlines() if not ln.lstrip().startswith(("%", "!"))
    ]
    return "\n".join(lines) + "\n"


def load(
    ex: Exercise, solution: Callable[..., Any] | str | Path, *, source: str | None = None
) -> Solution:
    """Return the solution of ``ex`` from a function, a file path, or ``source`` text.

    Raises:
        StreamlabError: the file does not define the exercise's function, or with other
            parameters, or declares an unknown OUTPUT_MODE.

    """
    if callable(solution) and not isinstance(solution, str | Path):
        module = inspect.getmodule(solution)
        mode = getattr(module, "OUTPUT_MODE", ex.output_mode) if module else ex.output_mode
        sol = Solution(solution, getattr(solution, "__qualname__", "solve"), str(mode))
    else:
        path = Path(solution)
        text = source if source is not None else source_of(path)
        sol = _from_source(ex, text, str(path))
    _check_signature(ex, sol)
    if sol.output_mode not in _MODES:
        raise StreamlabError(
            f"{sol.origin}: OUTPUT_MODE {sol.output_mode!r} is not an output mode: "
            f"use one of {', '.join(_MODES)}"
        )
    return sol


def _from_source(ex: Exercise, text: str, origin: str) -> Solution:
    module = types.ModuleType(f"streamlab_exercise_{ex.number:02d}")
    module.__file__ = origin
    try:
        code = compile(text, origin, "exec")
    except SyntaxError as exc:
        raise StreamlabError(
            f"{origin}:{exc.lineno}: {exc.msg}: fix the syntax and check again"
        ) from None
    try:
        exec(code, module.__dict__)
    except Exception as exc:
        line = _line_in(exc, origin)
        raise StreamlabError(
            f"{origin}{line}: importing the solution raised {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")
        ) from exc
    fn = module.__dict__.get(ex.function)
    if not callable(fn):
        raise StreamlabError(
            f"{origin} defines no {ex.function}(): exercise {ex.number} needs "
            f"def {ex.function}({', '.join(ex.inputs)}) ('streamlab exercises start "
            f"{ex.number}' writes a starter)"
        )
    mode = module.__dict__.get("OUTPUT_MODE", "append")
    return Solution(fn, origin, str(mode))


def _check_signature(ex: Exercise, sol: Solution) -> None:
    try:
        params = list(inspect.signature(sol.function).parameters.values())
    except (TypeError, ValueError):
        return
    names = [p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return
    if sorted(names) != sorted(ex.inputs):
        raise StreamlabError(
            f"{sol.origin}: {ex.function}({', '.join(names)}) has the wrong parameters: "
            f"exercise {ex.number} calls {ex.function}({', '.join(ex.inputs)})"
        )


def _line_in(exc: BaseException, origin: str) -> str:
    tb = exc.__traceback__
    line = ""
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == origin:
            line = f":{tb.tb_lineno}"
        tb = tb.tb_next
    return line

"""``streamlab exercises``: the workbook. List, show, start, check, hint, solution, progress."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from streamlab.cli._common import JsonOpt, RootOpt, emit, lab_paths, new_table, status
from streamlab.errors import StreamlabError
from streamlab.lab.paths import LabPaths

if TYPE_CHECKING:
    from rich.console import Console

    from streamlab.exercises.catalogue import Exercise

exercises_app = typer.Typer(
    help="The exercise workbook: practise event time on the lab's data, checked on Spark.",
    no_args_is_help=True,
)

ExerciseArg = Annotated[
    str, typer.Argument(help="The exercise's number or slug.", show_default=False)
]


def _find(key: str) -> Exercise:
    from streamlab.exercises.catalogue import find

    return find(key)


def _describe(ex: Exercise, data: dict[str, Any], *, hints: bool = True) -> dict[str, Any]:
    from streamlab.exercises import progress as P

    seen = P.hints_seen(data, ex)
    out: dict[str, Any] = {
        "number": ex.number,
        "slug": ex.slug,
        "part": ex.part,
        "part_name": ex.part_name,
        "concept": ex.concept,
        "status": P.status(data, ex),
        "kind": ex.kind,
        "function": f"{ex.function}({', '.join(ex.inputs)})",
        "file": ex.file_name,
    }
    if hints:
        out |= {
            "task": ex.task,
            "inputs": list(ex.inputs),
            "returns": ex.returns,
            "output_mode": ex.output_mode,
            "oracle": ex.oracle,
            "hints_seen": seen,
            "hints": list(ex.hints[:seen]),
            "hints_total": len(ex.hints),
        }
    return out


def next_exercise(paths: LabPaths) -> dict[str, Any] | None:
    """Return the next exercise to try (number, slug, concept), or ``None`` when all passed.

    A damaged progress file is no reason to fail ``streamlab lab``: it then names exercise 1.
    """
    from streamlab.exercises import EXERCISES
    from streamlab.exercises import progress as P

    try:
        nxt = P.next_exercise(P.read(paths))
    except StreamlabError:
        nxt = EXERCISES[0]
    if nxt is None:
        return None
    return {"number": nxt.number, "slug": nxt.slug, "concept": nxt.concept}


def register(app: typer.Typer) -> None:
    """Add the ``exercises`` group to ``app``."""
    app.add_typer(exercises_app, name="exercises")


@exercises_app.command("list")
def list_(root: RootOpt = None, json: JsonOpt = False) -> None:
    """List each exercise's number, slug, concept and status."""
    from streamlab.exercises import EXERCISES
    from streamlab.exercises import progress as P

    data = P.read(lab_paths(root))
    rows = [_describe(ex, data, hints=False) for ex in EXERCISES]

    def render(out: Console) -> None:
        table = new_table("#", "slug", "part", "concept", "status")
        marks = {"passed": "✓ passed", "failed": "✗ failed", "not started": "·"}
        for r in rows:
            table.add_row(
                str(r["number"]), r["slug"], r["part_name"], r["concept"], marks[r["status"]]
            )
        out.print(table)

    emit(rows, json, render)


@exercises_app.command("show")
def show(exercise: ExerciseArg, root: RootOpt = None, json: JsonOpt = False) -> None:
    """Show the task, the inputs, what to return and the hints seen so far."""
    from streamlab.exercises import progress as P

    ex = _find(exercise)
    info = _describe(ex, P.read(lab_paths(root)))

    def render(out: Console) -> None:
        out.print(
            f"Exercise {ex.number} ({ex.slug}) · part {ex.part}: {ex.part_name} · {info['status']}"
        )
        out.print(f"\n{ex.task}\n")
        out.print(f"write:   def {info['function']}")
        out.print(f"return:  {ex.returns}")
        if ex.output_mode != "append":
            out.print("declare: OUTPUT_MODE (see the task)")
        for i, h in enumerate(info["hints"], 1):
            out.print(f"hint {i}: {h}")
        left = len(ex.hints) - info["hints_seen"]
        out.print(
            f"\n{left} more hint{'s' if left != 1 else ''}: streamlab exercises hint {ex.number}"
            if left
            else ""
        )
        out.print(f"start:   streamlab exercises start {ex.number}")

    emit(info, json, render)


@exercises_app.command("start")
def start(
    exercise: ExerciseArg,
    root: RootOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an edited file.")] = False,
    json: JsonOpt = False,
) -> None:
    """Write the exercise's starter file into <root>/exercises/."""
    from streamlab.exercises import progress as P
    from streamlab.lab.files import atomic_write_text

    ex = _find(exercise)
    paths = lab_paths(root)
    target = P.folder(paths) / ex.file_name
    starter = ex.starter_source()
    state = "written"
    if target.exists():
        current = target.read_text(encoding="utf-8", errors="replace")
        if current == starter:
            state = "unchanged"
        elif not force:
            raise StreamlabError(
                f"{target} has your edits: check it with 'streamlab exercises check "
                f"{ex.number}', or pass --force to replace it with the starter"
            )
        else:
            state = "replaced"
    if state != "unchanged":
        paths.ensure_writable()
        target.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(target, starter)
    info = {"exercise": ex.number, "slug": ex.slug, "file": str(target), "state": state}

    def render(out: Console) -> None:
        verb = {"written": "Wrote", "replaced": "Replaced", "unchanged": "Kept"}[state]
        out.print(f"{verb} {target}")
        out.print(f"Edit {ex.function}(), then: streamlab exercises check {ex.number}")

    emit(info, json, render)


@exercises_app.command("check")
def check(
    exercise: ExerciseArg,
    file: Annotated[
        Path | None,
        typer.Argument(
            help="Your solution [default: <root>/exercises/NN_slug.py].", show_default=False
        ),
    ] = None,
    root: RootOpt = None,
    variant: Annotated[
        bool, typer.Option("--variant/--no-variant", help="Also check on a freshly generated lab.")
    ] = True,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds before a check is stopped.")
    ] = 600.0,
    json: JsonOpt = False,
) -> int:
    """Run your solution on the lab's batches, then on a variant lab, and judge it."""
    from streamlab.cli._common import stderr_console
    from streamlab.exercises import progress as P

    ex = _find(exercise)
    paths = lab_paths(root)
    path = file if file is not None else P.folder(paths) / ex.file_name
    # A file without its function, or with the wrong parameters, is refused before Spark starts.
    _precheck(ex, path)
    from streamlab.exercises.checker import check as run_check
    from streamlab.exercises.data import load_lab

    load_lab(paths)  # no lab: one line, before Spark starts

    def say(line: str) -> None:
        if not json:
            stderr_console().print(f"… {line}")

    with status(f"checking exercise {ex.number} on Spark", show=not json):
        verdict = run_check(
            ex.number, path, root=paths.root, variant=variant, timeout=timeout, progress=say
        )

    def render(out: Console) -> None:
        out.print(verdict.render())
        if verdict.passed:
            nxt = P.next_exercise(P.read(paths))
            out.print(
                f"Next: streamlab exercises show {nxt.number} ({nxt.slug})"
                if nxt is not None
                else "Every exercise passed."
            )
        else:
            out.print(f"Stuck? streamlab exercises hint {ex.number}")

    emit(verdict.to_dict(), json, render)
    return 0 if verdict.passed else 1


def _precheck(ex: Exercise, path: Path) -> None:
    """Compile the file and find its function, without running anything that needs Spark."""
    import ast

    from streamlab.exercises.solution import source_of

    text = source_of(path)
    try:
        tree = ast.parse(text, str(path))
    except SyntaxError as exc:
        raise StreamlabError(
            f"{path}:{exc.lineno}: {exc.msg}: fix the syntax and check again"
        ) from None
    fns = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    fn = fns.get(ex.function)
    if fn is None:
        raise StreamlabError(
            f"{path} defines no {ex.function}(): exercise {ex.number} needs "
            f"def {ex.function}({', '.join(ex.inputs)}) ('streamlab exercises start {ex.number}' "
            "writes a starter)"
        )
    names = [a.arg for a in fn.args.args + fn.args.kwonlyargs]
    if fn.args.kwarg is None and sorted(names) != sorted(ex.inputs):
        raise StreamlabError(
            f"{path}: {ex.function}({', '.join(names)}) has the wrong parameters: exercise "
            f"{ex.number} calls {ex.function}({', '.join(ex.inputs)})"
        )


@exercises_app.command("hint")
def hint(exercise: ExerciseArg, root: RootOpt = None, json: JsonOpt = False) -> None:
    """Show the next hint (each one counts in the progress)."""
    from streamlab.exercises import progress as P

    ex = _find(exercise)
    paths = lab_paths(root)
    paths.ensure_writable()
    seen = P.record_hint(paths, ex)
    info = {
        "exercise": ex.number,
        "slug": ex.slug,
        "hint": seen,
        "of": len(ex.hints),
        "text": ex.hints[seen - 1],
        "hints": list(ex.hints[:seen]),
    }

    def render(out: Console) -> None:
        out.print(f"hint {seen} of {len(ex.hints)}: {ex.hints[seen - 1]}")
        if seen == len(ex.hints):
            out.print(
                f"That was the last one; the reference: streamlab exercises solution {ex.number}"
            )

    emit(info, json, render)


@exercises_app.command("solution")
def solution(
    exercise: ExerciseArg,
    root: RootOpt = None,
    diff: Annotated[
        bool, typer.Option("--diff", help="Show it as a diff against your file.")
    ] = False,
    json: JsonOpt = False,
) -> None:
    """Show the reference solution: the exact code the checker runs for the expected answer."""
    from streamlab.exercises import progress as P

    ex = _find(exercise)
    paths = lab_paths(root)
    source = ex.reference_source()
    mine = P.folder(paths) / ex.file_name
    text = source
    if diff and mine.exists():
        text = "".join(
            difflib.unified_diff(
                mine.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True),
                source.splitlines(keepends=True),
                str(mine),
                f"reference/{ex.file_name}",
            )
        )
    info = {
        "exercise": ex.number,
        "slug": ex.slug,
        "status": P.status(P.read(paths), ex),
        "oracle": ex.oracle,
        "source": source,
    }

    def render(out: Console) -> None:
        out.print(f"# reference solution of exercise {ex.number} ({ex.slug})")
        out.print(text, markup=False, end="")

    emit(info, json, render)


@exercises_app.command("progress")
def progress(root: RootOpt = None, json: JsonOpt = False) -> None:
    """Summarize every exercise: passed, failed, not started, per part."""
    from streamlab.exercises import progress as P

    paths = lab_paths(root)
    data = P.read(paths)
    info = P.summary(data) | {"file": str(P.progress_file(paths))}

    def render(out: Console) -> None:
        table = new_table("part", "passed", "failed", "not started")
        for name, c in info["parts"].items():
            table.add_row(name, str(c["passed"]), str(c["failed"]), str(c["not started"]))
        out.print(table)
        out.print(f"{info['passed']} of {info['total']} passed, {info['failed']} failed")
        nxt = info["next"]
        if nxt is not None:
            out.print(f"Next: streamlab exercises start {nxt['number']} ({nxt['slug']})")

    emit(info, json, render)

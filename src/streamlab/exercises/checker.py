"""Checking a learner's solution on the lab's own data, then on a freshly generated variant.

For a query exercise, the learner's ``solve(...)`` runs through :mod:`streamlab.testing` on
real Spark: each landed batch is one ``AddData`` (one micro-batch; for a join, the batch's
impressions, then its clicks), and the output of the batches each one causes is compared with
the expected answer for that batch. The expected answer comes from the model (the reference
solution's plan, predicted by :class:`streamlab.testing.oracle.Oracle`) or, where the model does
not cover the exercise's shape, from the reference solution run on Spark the same way. The
check is then repeated on a smaller lab generated with another seed and other lateness, so an
answer fitted to one data set fails. The checker owns the sink and the checkpoint (under
``<root>/exercises/.runs/``) and never writes the lab's tables.
"""

from __future__ import annotations

import _thread
import contextlib
import hashlib
import re
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from streamlab.errors import StreamlabError
from streamlab.exercises import explain as X
from streamlab.exercises.catalogue import Exercise, find
from streamlab.exercises.data import LabData, generate_lab, input_schema, load_lab, variant_config
from streamlab.exercises.solution import Solution, load
from streamlab.lab.paths import LabPaths

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from streamlab.testing.harness import StreamRun

DEFAULT_TIMEOUT_S = 600.0
"""How long one check may run (both labs) before it is stopped as never finishing."""


@dataclass(frozen=True)
class Checked:
    """What one lab's check covered."""

    label: str
    """The data set: ``the lab (seed 17)`` or ``a variant lab (seed 1017, ...)``."""
    batches: int
    """Landed batches fed, one micro-batch each (two for a join)."""
    micro_batches: int
    """Micro-batches Spark ran, no-data batches included."""
    rows: int
    """Rows compared."""
    windows: int
    """Distinct windows among them."""
    emitted_in: list[int]
    """The landed batches whose processing emitted rows."""
    late: int
    """Input rows behind the watermark of their batch (in the expected answer's terms)."""
    state_rows: int | None = None
    """Rows in state after the last batch, when the exercise checks state."""
    answer: str | None = None
    """For an answer exercise: the answer that matched the model's."""

    def describe(self) -> str:
        """Say what was checked in one line."""
        if self.answer is not None:
            return f"{self.label}: {self.answer}, the model's answer over {self.batches} batches"
        emitted = _ranges(self.emitted_in) if self.emitted_in else "none"
        parts = [
            f"{self.label}: {self.batches} batches ({self.micro_batches} micro-batches)",
            f"{self.rows} rows" + (f" in {self.windows} windows" if self.windows else ""),
            f"emitted after batches {emitted}",
            f"{self.late} late rows",
        ]
        if self.state_rows is not None:
            parts.append(f"{self.state_rows} rows in state at the end")
        return ", ".join(parts)


@dataclass(frozen=True)
class Verdict:
    """The result of one check."""

    exercise: Exercise
    """The exercise checked."""
    passed: bool
    """Whether every lab matched."""
    checked: list[Checked] = field(default_factory=list)
    """What matched, lab by lab."""
    failure: str | None = None
    """The first difference, explained in the lab's events."""
    answer: Any = None
    """For an answer exercise: what the solution returned."""

    def render(self) -> str:
        """Return the verdict as text for a terminal."""
        ex = self.exercise
        head = f"exercise {ex.number} ({ex.slug})"
        if self.passed:
            lines = [f"✓ {head} passed"]
            lines += [f"  {c.describe()}" for c in self.checked]
            return "\n".join(lines)
        lines = [f"✗ {head} failed"]
        lines += [f"  ✓ {c.describe()}" for c in self.checked]
        lines += [f"  {ln}" for ln in (self.failure or "").splitlines()]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Return the verdict as plain data for ``--json``."""
        return {
            "exercise": self.exercise.number,
            "slug": self.exercise.slug,
            "passed": self.passed,
            "checked": [c.__dict__ | {"summary": c.describe()} for c in self.checked],
            "failure": self.failure,
            "answer": _plain(self.answer),
        }


def check(
    exercise: int | str,
    solution: Callable[..., Any] | str | Path,
    *,
    root: str | Path | None = None,
    spark: SparkSession | None = None,
    variant: bool = True,
    timeout: float = DEFAULT_TIMEOUT_S,
    record: bool = True,
    progress: Callable[[str], None] | None = None,
) -> Verdict:
    """Check ``solution`` (a function, or the path of a file defining it) for an exercise.

    Args:
        exercise: its number or slug.
        solution: the learner's ``solve``/``answer``, or a ``.py``/``.ipynb`` file with it.
        root: the lab root (default ``$STREAMLAB_ROOT`` or ``/tmp/streaming``).
        spark: the session to run on; the active one, or a new local one, by default.
        variant: also check on a freshly generated variant lab.
        timeout: seconds after which a check that never finishes is stopped.
        record: write the result to ``<root>/exercises/progress.json``.
        progress: called with a line as each stage starts.

    Raises:
        StreamlabError: the solution cannot be run (no ``solve``, wrong parameters, an
            error, a batch DataFrame, a timeout): one line naming the problem.

    >>> check(3, "/tmp/streaming/exercises/03_watermark_10m.py")  # doctest: +SKIP

    """
    ex = find(exercise)
    paths = LabPaths.resolve(root)
    sol = load(ex, solution)
    lab = load_lab(paths)
    datasets = [lab]
    if variant:
        cfg = variant_config(lab.config)
        datasets.append(
            generate_lab(
                cfg,
                f"a variant lab (seed {cfg.seed}, {cfg.batches} batches, lateness "
                f"{cfg.lateness_min // 60}-{cfg.lateness_max // 60} min)",
            )
        )
    sessions: list[SparkSession] = [spark] if spark is not None else []

    def session() -> SparkSession:
        # An answer about the duplicates needs no Spark at all; start it only when needed.
        if not sessions:
            sessions.append(_session(paths))
        return sessions[0]

    runs = paths.root / "exercises" / ".runs"
    checked: list[Checked] = []
    verdict: Verdict | None = None
    got: Any = None
    with _deadline(sessions, timeout, ex):
        for data in datasets:
            if progress is not None:
                progress(f"checking on {data.label}")
            # A fresh folder per check: Spark's state maintenance may still be finishing
            # files of an earlier run when it is removed.
            runs.mkdir(parents=True, exist_ok=True)
            work = Path(
                tempfile.mkdtemp(
                    prefix=f"{ex.file_name.removesuffix('.py')}-{data.config.seed}-", dir=runs
                )
            )
            try:
                if ex.kind == "answer":
                    ok, info, got = _check_answer(ex, sol, session, data, work)
                else:
                    ok, info, got = _check_query(ex, sol, session, data, work)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            if not ok:
                assert isinstance(info, str)
                verdict = Verdict(ex, False, checked, f"on {data.label}:\n{info}", got)
                break
            assert isinstance(info, Checked)
            checked.append(info)
    if verdict is None:
        verdict = Verdict(ex, True, checked, None, got)
    if record:
        from streamlab.exercises.progress import record_check

        record_check(paths, ex, verdict.passed)
    return verdict


def _session(paths: LabPaths) -> SparkSession:
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    from streamlab.spark.session import lab_session

    return lab_session(paths.root, attach=False)


@contextmanager
def _deadline(sessions: list[SparkSession], seconds: float, ex: Exercise) -> Iterator[None]:
    """Stop the check after ``seconds``: the queries it started, and the learner's code."""
    fired = threading.Event()

    def fire() -> None:
        fired.set()
        for q in [q for s in sessions for q in s.streams.active]:
            with contextlib.suppress(Exception):  # best effort; the error below says why
                q.stop()
        _thread.interrupt_main()

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    except (KeyboardInterrupt, StreamlabError, Exception) as exc:
        if fired.is_set():
            raise StreamlabError(
                f"exercise {ex.number}: the solution did not finish within {seconds:g} s and was "
                "stopped: look for a loop that never ends or a query that waits for ever "
                "(or raise --timeout)"
            ) from exc
        raise
    finally:
        timer.cancel()


# --- answer exercises ------------------------------------------------------------------------


def _check_answer(
    ex: Exercise, sol: Solution, spark: Callable[[], SparkSession], data: LabData, work: Path
) -> tuple[bool, Checked | str, Any]:
    from streamlab.exercises.answers import expected_answer

    args = {n: [list(map(dict, b)) for b in data.batches[n]] for n in ex.inputs}
    try:
        got = sol.function(**args)
    except Exception as exc:
        raise StreamlabError(
            f"{sol.origin}{_line(exc, sol)}: {ex.function}() raised {type(exc).__name__}: {exc}"
        ) from exc
    want = expected_answer(ex.slug, spark, data, work)
    ok, shown = _same_answer(want, got, ex.tolerance)
    info = Checked(data.label, data.count, 0, 1, 0, [], 0, answer=_show(got))
    if ok:
        return True, info, got
    return (
        False,
        f"you answered {shown}, expected {_show(want)} (the model's answer for these batches)",
        got,
    )


def _same_answer(want: Any, got: Any, tolerance: float) -> tuple[bool, str]:
    from streamlab.testing.rows import to_utc

    if isinstance(want, datetime):
        try:
            value = to_utc(got, what="the answer") if isinstance(got, datetime | str) else None
        except StreamlabError:
            value = None
        return value == want, _show(got)
    if isinstance(want, float) and isinstance(got, int | float) and not isinstance(got, bool):
        return abs(want - float(got)) <= tolerance + 1e-12, _show(got)
    if isinstance(want, list):
        return isinstance(got, list | tuple) and list(got) == want, _show(got)
    return (type(got) is type(want) and got == want) or (want is None and got is None), _show(got)


def _show(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, list) and len(value) > 8:
        return f"{value[:8]!r}... ({len(value)} items)"
    return repr(value)


# --- query exercises -------------------------------------------------------------------------


def _input_names(ex: Exercise) -> list[str]:
    return ["events"] if "lab" in ex.inputs else list(ex.inputs)


def _schemas(ex: Exercise) -> dict[str, str]:
    raw = "lab" in ex.inputs
    return {n: input_schema(n, raw=raw) for n in _input_names(ex)}


def _steps(ex: Exercise, data: LabData) -> list[tuple[int, str, list[dict[str, Any]]]]:
    """Per landed batch and input: (batch, input, records) in the order they are fed."""
    raw = "lab" in ex.inputs
    source = data.raw if raw else data.batches
    return [(b, n, source[n][b]) for b in range(data.count) for n in _input_names(ex)]


class _LabView:
    """What ``solve(spark, lab)`` receives: where the lab's events are and their schema."""

    def __init__(self, events: Path) -> None:
        self.events = str(events)
        """The folder of the landed event files."""

    def schema(self, source: str) -> Any:
        """Return the schema of a landed source, its times as text (as landed)."""
        from streamlab.ingest.schemas import SCHEMAS

        return SCHEMAS[source]


def _callable(
    ex: Exercise, fn: Callable[..., Any], spark: SparkSession, work: Path
) -> Callable[..., Any]:
    """Adapt ``fn`` to the harness, which passes each input as a keyword."""
    if "lab" in ex.inputs:
        lab = _LabView(work / "inputs" / "events")

        def read(events: Any) -> Any:
            return fn(spark=spark, lab=lab)

        read.__wrapped__ = fn  # type: ignore[attr-defined]
        return read
    return fn


def _stream_test(
    ex: Exercise, fn: Callable[..., Any], mode: str, spark: SparkSession, work: Path
) -> Any:
    from streamlab.testing import StreamTest

    query = _callable(ex, fn, spark, work)
    return StreamTest(spark, query, inputs=_schemas(ex), output_mode=mode, workdir=work)


def _run(test: Any, steps: Sequence[Any]) -> StreamRun:
    from streamlab.testing.harness import StreamRun

    run = StreamRun(test)
    try:
        run.execute(steps)
    except BaseException:
        run.close(remove=False)
        raise
    return run


@dataclass
class _Expected:
    """The expected answer of one lab, per ``AddData`` step."""

    columns: list[tuple[str, str]]
    rows: list[list[dict[str, Any]]]
    late_watermarks: list[int]
    late_rows: int
    state_rows: int | None
    micro_batches: int


_KEPT_ANSWERS = 16
"""Expected answers kept in memory: checking again in one process does not rerun the reference."""
_answers: OrderedDict[str, _Expected] = OrderedDict()


def _answer_key(ex: Exercise, data: LabData) -> str:
    """Return what the expected answer depends on: the exercise's reference and the data."""
    digest = hashlib.sha256()
    digest.update(f"{ex.slug}\0{ex.oracle}\0{ex.output_mode}\0".encode())
    digest.update(ex.reference_source().encode())
    digest.update(orjson.dumps(data.raw, option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()


def _expected(ex: Exercise, spark: SparkSession, data: LabData, work: Path) -> _Expected:
    """Return the expected answer of ``ex`` on ``data``, from memory when known already."""
    key = _answer_key(ex, data)
    if key in _answers:
        _answers.move_to_end(key)
        return _answers[key]
    answer = _compute_expected(ex, spark, data, work)
    _answers[key] = answer
    while len(_answers) > _KEPT_ANSWERS:
        _answers.popitem(last=False)
    return answer


def _compute_expected(ex: Exercise, spark: SparkSession, data: LabData, work: Path) -> _Expected:
    from streamlab.exercises.solution import load as load_solution
    from streamlab.testing import AddData

    ref = load_solution(ex, work / "reference.py", source=ex.reference_source())
    steps = _steps(ex, data)
    if ex.oracle == "model":
        from streamlab.testing.oracle import Oracle
        from streamlab.testing.source import ScriptedInput, parse_schema

        inputs = {
            n: ScriptedInput(n, work / "model" / "inputs" / n, parse_schema(s))
            for n, s in _schemas(ex).items()
        }
        frames = {n: i.frame(spark) for n, i in inputs.items()}
        df = ref.function(**frames)
        cols = [(f.name, f.dataType.simpleString()) for f in df.schema.fields]
        oracle = Oracle.from_query(
            df, {n: i.schema for n, i in inputs.items()}, ref.output_mode, [c for c, _ in cols]
        )
        landed = [(n, [inputs[n].record(r) for r in rows]) for _, n, rows in steps]
        pred = oracle.predict(landed)
        per_step = [pred.rows_since(i, i + 1) for i in range(len(steps))]
        late = [pred.late_watermark_of(i) for i in range(len(steps))]
        return _Expected(
            cols,
            per_step,
            late,
            sum(len(v) for v in pred.late.values()),
            pred.state_rows if ex.check_state else None,
            len(pred.batches),
        )
    test = _stream_test(ex, ref.function, ref.output_mode, spark, work / "reference")
    run = _run(test, [AddData(rows, to=n) for _, n, rows in steps])
    try:
        cols = [(f.name, f.dataType.simpleString()) for f in run._df.schema.fields]
        by_step = run._batches_by_step()
        late = [run.batches[ids[0]].watermark_ms if ids else 0 for ids in by_step]
        last = max(run.batches.values(), key=lambda b: b.batch_id, default=None)
        return _Expected(
            cols,
            run.step_answers,
            late,
            sum(b.dropped for b in run.batches.values()),
            (last.state_rows if last is not None else 0) if ex.check_state else None,
            len(run.batches),
        )
    finally:
        run.close(remove=True)


def _check_query(
    ex: Exercise, sol: Solution, session: Callable[[], SparkSession], data: LabData, work: Path
) -> tuple[bool, Checked | str, Any]:
    from streamlab.testing import AddData
    from streamlab.testing.rows import Column, normalize

    spark = session()
    want = _expected(ex, spark, data, work)
    steps = _steps(ex, data)
    test = _stream_test(ex, sol.function, sol.output_mode, spark, work / "solution")
    try:
        run = _run(test, [AddData(rows, to=n) for _, n, rows in steps])
    except StreamlabError as exc:
        raise StreamlabError(_in_lab_terms(str(exc), steps, data)) from exc
    try:
        got_cols = [(f.name, f.dataType.simpleString()) for f in run._df.schema.fields]
        problem = X.columns_problem(want.columns, got_cols)
        if problem:
            return False, problem + _mode_note(ex, sol), None
        cols: list[Column] = run.columns
        per_batch_want: dict[int, list[Any]] = {}
        per_batch_got: dict[int, list[Any]] = {}
        for i, (b, _, _) in enumerate(steps):
            per_batch_want.setdefault(b, []).extend(normalize(r, cols) for r in want.rows[i])
            per_batch_got.setdefault(b, []).extend(normalize(r, cols) for r in run.step_answers[i])
        context = X.Context(
            data=data,
            columns=cols,
            steps=[(b, n) for b, n, _ in steps],
            late_watermarks=want.late_watermarks,
            got_watermarks=[
                run.batches[ids[0]].watermark_ms if ids else 0 for ids in run._batches_by_step()
            ],
            want=per_batch_want,
            got=per_batch_got,
        )
        first = X.first_difference(context)
        if first is not None:
            why = _why(run, want, steps, cols, sol)
            if why:
                why = why.replace("the test expects", "the exercise asks for")
            return False, first + (f"\nwhy: {why}" if why else "") + _mode_note(ex, sol), None
        state = None
        if ex.check_state:
            last = max(run.batches.values(), key=lambda b: b.batch_id, default=None)
            state = last.state_rows if last is not None else 0
            if state != want.state_rows:
                return (
                    False,
                    f"after the last batch your query holds {state} rows in state, expected "
                    f"{want.state_rows}: state that keeps growing needs a watermark that lets "
                    "Spark expire it",
                    None,
                )
        rows = [r for b in sorted(per_batch_got) for r in per_batch_got[b]]
        wi = next((i for i, c in enumerate(cols) if c.kind == "window"), None)
        return (
            True,
            Checked(
                data.label,
                data.count,
                len(run.batches),
                len(rows),
                len({r[wi] for r in rows}) if wi is not None else 0,
                [b for b in sorted(per_batch_got) if per_batch_got[b]],
                want.late_rows,
                state,
            ),
            None,
        )
    finally:
        run.close(remove=True)


_STEP = re.compile(r"^step (\d+) AddData\([^)]*\): ")


def _in_lab_terms(message: str, steps: Sequence[tuple[int, str, Any]], data: LabData) -> str:
    """Say which landed batch failed where the harness says which step did."""
    found = _STEP.match(message)
    if found is None or not 1 <= int(found.group(1)) <= len(steps):
        return message
    batch, source, _ = steps[int(found.group(1)) - 1]
    return f"on {data.label}, batch {batch} of {source}: {message[found.end() :]}"


def _why(
    run: StreamRun, want: _Expected, steps: Sequence[Any], cols: Sequence[Any], sol: Solution
) -> str | None:
    """Return the model's reason: the variant of the learner's query giving the expected rows."""
    from streamlab.testing import CheckNewAnswer
    from streamlab.testing.explain import explain_difference
    from streamlab.testing.harness import model_rows
    from streamlab.testing.rows import normalize

    try:
        oracle = run.oracle()
    except StreamlabError:
        return None
    checks = []
    for i in range(len(steps)):
        rows = [normalize(r, cols) for r in want.rows[i]]

        def select(pred: Any, i: int = i) -> list[dict[str, Any]]:
            return model_rows(pred, CheckNewAnswer(), i, i + 1)

        checks.append((select, rows))
    try:
        return explain_difference(
            oracle, run._landed(), cols, checks, emitted_in=run._emitted_in, model_answer=False
        )
    except StreamlabError:
        return None


def _mode_note(ex: Exercise, sol: Solution) -> str:
    if sol.output_mode == ex.output_mode:
        return ""
    return (
        f"\nyour OUTPUT_MODE is {sol.output_mode!r}; the exercise asks for "
        f"{ex.output_mode!r}"
        + (
            ": in append mode a window is emitted once, when the watermark closes it"
            if ex.output_mode == "append"
            else ": in update mode each batch emits the windows whose values changed"
        )
    )


def _line(exc: BaseException, sol: Solution) -> str:
    tb = exc.__traceback__
    found = ""
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == sol.origin:
            found = f":{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def _ranges(numbers: Sequence[int]) -> str:
    out: list[str] = []
    start = prev = numbers[0]
    for n in numbers[1:]:
        if n == prev + 1:
            prev = n
            continue
        out.append(f"{start}" if start == prev else f"{start}-{prev}")
        start = prev = n
    out.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(out)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC).isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value

"""``StreamTest``: run a user's streaming query on real Spark, step by step.

The query is started once, with a processing-time trigger, over one scripted input per name
(:mod:`streamlab.testing.source`). After each ``AddData`` the harness calls
``processAllAvailable()`` until Spark has read the new file, so Spark runs the data batch and,
when the watermark moved, its no-data batch, exactly as a live query with idle time between
batches would. Output comes from a ``foreachBatch`` sink keyed by batch id; watermarks, late
rows and state rows from the query's progress reports. Checks compare real output only; the
model (:mod:`streamlab.testing.oracle`) supplies expectations, never answers.
"""

from __future__ import annotations

import inspect
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from streamlab.errors import StreamlabError
from streamlab.spark.errors import translate
from streamlab.testing import steps as S
from streamlab.testing.rows import (
    Column,
    Norm,
    columns_of,
    common_day,
    difference,
    from_spark,
    normalize,
    render_value,
    side_by_side,
    to_utc,
)
from streamlab.testing.sink import BatchSink, FolderSink
from streamlab.testing.source import ScriptedInput, parse_schema

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from streamlab.testing.oracle import Oracle, Prediction

DEFAULT_INPUT = "input"
"""The name of the one input of a query given ``schema=`` instead of ``inputs=``."""
_MAX_WAITS = 400
"""``processAllAvailable`` calls to wait for a landed file to be read before giving up."""


class StreamTestFailure(AssertionError):
    """A check failed: the message names the step and batch and shows both sides."""


@dataclass(frozen=True)
class BatchRecord:
    """One micro-batch Spark ran, from its progress report."""

    batch_id: int
    """Spark's batch id."""
    watermark_ms: int
    """The watermark the batch ran with (its eviction watermark), epoch milliseconds."""
    input_rows: int
    """Rows read from the inputs (0 for a no-data batch)."""
    dropped: int
    """``numRowsDroppedByWatermark`` summed over the stateful operators."""
    state_rows: int
    """``numRowsTotal`` summed over the stateful operators."""
    offsets: Mapping[str, int]
    """Per input: how many of its files had been read once this batch ran."""


@dataclass
class StreamTest:
    """A user's query, its inputs and where it runs; :meth:`run` executes steps.

    >>> StreamTest(spark, counts, schema="event_time timestamp").run(  # doctest: +SKIP
    ...     AddData([("2026-01-01 00:00:10",)]), CheckNewAnswer([]))
    """

    spark: SparkSession
    """The session to run on (local, cluster or Spark Connect)."""
    query: Callable[..., DataFrame]
    """The user's code: DataFrame(s) in, the streaming DataFrame to test out."""
    inputs: Mapping[str, Any] | None = None
    """Named input schemas, for queries of several inputs (``{"clicks": "t timestamp"}``)."""
    schema: Any = None
    """The schema of the one input, as a ``StructType`` or DDL text."""
    output_mode: str = "append"
    """``append``, ``update`` or ``complete``."""
    trigger: str = "0 seconds"
    """The processing-time trigger interval of the query."""
    shuffle_partitions: int | None = 1
    """Shuffle (and state store) partitions of the query; ``None`` keeps the session's.

    Test inputs are small, so one partition halves the per-batch tasks and state store commits
    of two, and no answer depends on it. A restart keeps the number the checkpoint recorded.
    """
    expect_model: bool = False
    """Whether checks without rows default to ``ModelAnswer()``."""
    workdir: Path | None = None
    """Where inputs, checkpoint and output go; a fresh temporary folder when ``None``."""
    keep: bool = False
    """Keep the work folder of a failed run (its path ends the failure message)."""

    def run(self, *steps: S.Step) -> StreamRun:
        """Execute ``steps`` in order against a real query and return what ran.

        Raises:
            StreamTestFailure: a check failed.
            StreamlabError: the query or the steps are wrong; one line with the fix.

        """
        run = StreamRun(self)
        failed = True
        try:
            run.execute(steps)
            failed = False
        except (StreamTestFailure, StreamlabError) as exc:
            if self.keep:
                exc.args = (f"{exc.args[0]}\n  kept for inspection: {run.workdir}",)
            raise
        finally:
            run.close(remove=not (failed and self.keep))
        return run


@dataclass
class StreamRun:
    """The state of one run: inputs, the live query, batches and output seen so far."""

    test: StreamTest
    """What is being run."""
    workdir: Path = field(init=False)
    """The run's private folder."""
    inputs: dict[str, ScriptedInput] = field(init=False)
    """The scripted inputs by name."""
    batches: dict[int, BatchRecord] = field(default_factory=dict)
    """Every batch that ran, by id."""
    data_steps: list[tuple[str, int]] = field(default_factory=list)
    """Per ``AddData`` so far: its input and that input's file number."""
    columns: list[Column] = field(default_factory=list)
    """The query's output columns."""
    step_no: int = 0
    """The 1-based number of the step being executed."""
    answer: list[dict[str, Any]] = field(default_factory=list)
    """After the steps: every row the query emitted, by column (timestamps in UTC)."""
    step_answers: list[list[dict[str, Any]]] = field(default_factory=list)
    """After the steps: per ``AddData``, the rows of the batches it caused (its data batch and
    the no-data batch after it), by column."""
    _query: Any = None
    _df: Any = None
    _sink: BatchSink | None = None
    _checked_upto: int = -1
    _model_checked: int = 0
    _oracle: Oracle | None = None
    _query_fn: Callable[..., DataFrame] | None = None
    _history: list[tuple[Selector, list[Norm]]] = field(default_factory=list)
    _restarts: set[int] = field(default_factory=set)
    """The ``AddData`` numbers (0-based) the query was restarted before."""

    def __post_init__(self) -> None:
        """Create the work folder and the inputs."""
        t = self.test
        if t.workdir is not None:
            self.workdir = Path(t.workdir)
            self.workdir.mkdir(parents=True, exist_ok=True)
        else:
            self.workdir = Path(tempfile.mkdtemp(prefix="streamlab-test-"))
        if (t.inputs is None) == (t.schema is None):
            raise StreamlabError(
                "give stream_test either schema=... (one input) or inputs={name: schema} "
                "(several), not both or neither"
            )
        schemas = dict(t.inputs) if t.inputs is not None else {DEFAULT_INPUT: t.schema}
        self.inputs = {
            name: ScriptedInput(name, self.workdir / "inputs" / name, parse_schema(s))
            for name, s in schemas.items()
        }
        self._query_fn = t.query

    # --- the query -----------------------------------------------------------------------

    @property
    def checkpoint(self) -> Path:
        """The query's checkpoint folder."""
        return self.workdir / "checkpoint"

    def _build(self) -> DataFrame:
        fn = self._query_fn
        assert fn is not None
        frames = {n: i.frame(self.test.spark) for n, i in self.inputs.items()}
        try:
            df = fn(frames[DEFAULT_INPUT]) if self.test.inputs is None else fn(**frames)
        except StreamlabError:
            raise
        except Exception as exc:
            raise translate(exc, user_code=fn) from exc
        if not getattr(df, "isStreaming", False):
            raise StreamlabError(
                f"the query {_name(fn)} must return a streaming DataFrame built from its "
                f"inputs, not {type(df).__name__}"
            )
        return df

    def _start(self) -> None:
        from streamlab.spark.session import is_connect

        df = self._build()
        self._df = df
        self.columns = columns_of(df.schema)
        if self._sink is None:
            connect = is_connect(self.test.spark)
            self._sink = (
                FolderSink(self.test.spark, self.workdir / "output") if connect else BatchSink()
            )
        writer = (
            df.writeStream.outputMode(self.test.output_mode)
            .foreachBatch(self._sink.writer())
            .option("checkpointLocation", str(self.checkpoint))
            .trigger(processingTime=self.test.trigger)
        )
        try:
            with _partitions(self.test.spark, self.test.shuffle_partitions):
                self._query = writer.start()
        except Exception as exc:
            raise translate(exc, user_code=self._query_fn) from exc
        self._settle({})

    def _stop(self) -> None:
        if self._query is not None:
            q, self._query = self._query, None
            q.stop()

    def close(self, *, remove: bool) -> None:
        """Stop the query and, when ``remove``, delete the work folder."""
        try:
            self._stop()
        finally:
            if remove:
                shutil.rmtree(self.workdir, ignore_errors=True)

    def _settle(self, want: Mapping[str, int]) -> None:
        """Wait until Spark has read ``want[input]`` files of each input and gone idle."""
        for _ in range(_MAX_WAITS):
            try:
                self._query.processAllAvailable()
            except Exception as exc:
                raise translate(exc, user_code=self._query_fn, step=self._where()) from exc
            self._collect()
            seen = self._seen()
            if all(seen.get(n, 0) >= k for n, k in want.items()):
                return
        raise StreamlabError(  # pragma: no cover - Spark never listed the file
            f"{self._where()}: Spark did not read the landed file of {sorted(want)} "
            f"under {self.workdir / 'inputs'}"
        )

    def _seen(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for b in self.batches.values():
            for n, k in b.offsets.items():
                out[n] = max(out.get(n, 0), k)
        return out

    def _collect(self) -> None:
        for p in self._query.recentProgress:
            if "addBatch" not in (p.durationMs or {}):
                continue  # an idle trigger's report, not a batch
            offsets: dict[str, int] = {}
            for s in p.sources:
                end = s.endOffset
                data = orjson.loads(end) if isinstance(end, str) else end
                if isinstance(data, dict) and "logOffset" in data:
                    for name, inp in self.inputs.items():
                        if str(inp.folder) in s.description:
                            offsets[name] = int(data["logOffset"]) + 1
            ops = p.stateOperators or []
            wm = (p.eventTime or {}).get("watermark")
            self.batches[p.batchId] = BatchRecord(
                batch_id=p.batchId,
                watermark_ms=_ms(wm),
                input_rows=int(p.numInputRows),
                dropped=sum(int(o.numRowsDroppedByWatermark) for o in ops),
                state_rows=sum(int(o.numRowsTotal) for o in ops),
                offsets=offsets,
            )

    # --- steps ---------------------------------------------------------------------------

    def execute(self, steps: Sequence[S.Step]) -> None:
        """Start the query, then run every step."""
        self._start()
        for i, step in enumerate(steps, 1):
            self.step_no = i
            self._current = step
            self._do(step)
        names = [c.name for c in self.columns]
        self.answer = [
            dict(zip(names, r, strict=True)) for r in self._rows_of(sorted(self.batches))
        ]
        self.step_answers = [
            [dict(zip(names, r, strict=True)) for r in self._rows_of(ids)]
            for ids in self._batches_by_step()
        ]

    def _batches_by_step(self) -> list[list[int]]:
        """Per ``AddData``: the batch that read its file and the batches up to the next one's."""
        firsts: list[int] = []
        for name, k in self.data_steps:
            first = next(
                (b for b in sorted(self.batches) if self.batches[b].offsets.get(name, 0) >= k),
                None,
            )
            firsts.append(first if first is not None else max(self.batches, default=0) + 1)
        out: list[list[int]] = []
        for i, first in enumerate(firsts):
            stop = firsts[i + 1] if i + 1 < len(firsts) else 1 << 62
            out.append([b for b in sorted(self.batches) if first <= b < stop])
        return out

    def _where(self) -> str:
        step = getattr(self, "_current", None)
        last = max(self.batches, default=None)
        batch = f", after batch {last}" if last is not None else ""
        what = S.describe(step) if step is not None else "start"
        return f"step {self.step_no} {what}{batch}"

    def _do(self, step: S.Step) -> None:
        if isinstance(step, S.AddData):
            self._add(step)
        elif isinstance(step, S.CheckNewAnswer | S.CheckAnswer | S.CheckLastBatch):
            self._check(step)
        elif isinstance(step, S.ExpectWatermark):
            self._expect_watermark(step)
        elif isinstance(step, S.ExpectLate):
            self._expect_late(step)
        elif isinstance(step, S.ExpectStateRows):
            self._expect_state(step)
        elif isinstance(step, S.StopStream):
            self._stop()
        elif isinstance(step, S.StartStream):
            if self._query is not None:
                raise StreamlabError(f"{self._where()}: the query is running; StopStream first")
            if step.query is not None:
                self._query_fn, self._oracle = step.query, None
            self._restarts.add(len(self.data_steps))
            self._start()
        elif isinstance(step, S.CrashAndRestart):
            self._crash()
        else:
            raise StreamlabError(f"step {self.step_no}: {step!r} is not a stream test step")

    def _running(self) -> None:
        if self._query is None:
            raise StreamlabError(f"{self._where()}: the query is stopped; StartStream first")

    def _add(self, step: S.AddData) -> None:
        self._running()
        name = step.to
        if name is None:
            if len(self.inputs) > 1:
                raise StreamlabError(
                    f"{self._where()}: the query has inputs {', '.join(self.inputs)}; "
                    "say which with AddData(rows, to=NAME)"
                )
            name = next(iter(self.inputs))
        if name not in self.inputs:
            raise StreamlabError(
                f"{self._where()}: there is no input {name!r}; the inputs are "
                f"{', '.join(self.inputs)}"
            )
        inp = self.inputs[name]
        inp.land(step.rows)
        self.data_steps.append((name, inp.files))
        self._settle({name: inp.files})

    def _crash(self) -> None:
        self._running()
        self._stop()
        commits = self.checkpoint / "commits"
        done = sorted(int(p.name) for p in commits.iterdir() if p.name.isdigit())
        # Spark runs the uncommitted batch again after the restart, with per-input watermarks
        # forgotten: when it is a data batch, the model restarts before that AddData.
        restart_at = len(self.data_steps)
        if done:
            last = done[-1]
            record = self.batches.get(last)
            if record is not None and self._is_data(record) and restart_at > 0:
                restart_at -= 1
            (commits / str(last)).unlink()
            (commits / f".{last}.crc").unlink(missing_ok=True)
            assert self._sink is not None
            self._sink.discard(last)
            self.batches.pop(last, None)
        self._restarts.add(restart_at)
        self._start()

    # --- checks --------------------------------------------------------------------------

    def _expected(self, given: S.Expected) -> S.Expected:
        if given is None:
            if self.test.expect_model:
                return S.ModelAnswer()
            raise StreamlabError(
                f"{self._where()}: give the expected rows, or ModelAnswer(), or "
                "stream_test(..., expect_model=True)"
            )
        return given

    def _rows_of(self, ids: Sequence[int]) -> list[Norm]:
        assert self._sink is not None
        kinds = [c.kind for c in self.columns]
        return [
            tuple(from_spark(v, k) for v, k in zip(r, kinds, strict=True))
            for b in ids
            for r in self._sink.rows(b)
        ]

    def oracle(self) -> Oracle:
        """Return the model of this query (built from its plan on first use)."""
        if self._oracle is None:
            from streamlab.testing.oracle import Oracle

            self._oracle = Oracle.from_query(
                self._df,
                {n: i.schema for n, i in self.inputs.items()},
                self.test.output_mode,
                [c.name for c in self.columns],
            )
        return self._oracle

    def prediction(self) -> Prediction:
        """Return what the model predicts for the data landed so far."""
        return self.oracle().predict(self._landed(), frozenset(self._restarts))

    def _landed(self) -> list[tuple[str, list[dict[str, Any]]]]:
        return [(n, self.inputs[n].batches[k - 1]) for n, k in self.data_steps]

    def _check(self, step: S.CheckNewAnswer | S.CheckAnswer | S.CheckLastBatch) -> None:
        self._running()
        want = self._expected(step.rows)
        ids = sorted(self.batches)
        if isinstance(step, S.CheckNewAnswer):
            chosen = [b for b in ids if b > self._checked_upto]
        elif isinstance(step, S.CheckLastBatch):
            chosen = ids[-1:]
        else:
            chosen = ids
        got = self._rows_of(chosen)
        model_from = self._model_checked
        if isinstance(want, S.ModelAnswer):
            expected = [
                normalize(r, self.columns) for r in model_rows(self.prediction(), step, model_from)
            ]
        else:
            assert want is not None
            expected = [normalize(r, self.columns) for r in want]
        if not isinstance(want, S.ModelAnswer):
            self._history.append((_selector(step, model_from, len(self.data_steps)), expected))
        # As in Spark's StreamTest, every check moves the mark CheckNewAnswer starts from.
        self._checked_upto = ids[-1] if ids else -1
        self._model_checked = len(self.data_steps)
        diff = difference(expected, got)
        if not diff:
            return
        day = common_day([*expected, *got])
        first = diff.missing[0] if diff.missing else diff.extra[0]
        side = (
            "expected, missing from the query's output"
            if diff.missing
            else ("emitted by the query, not expected")
        )
        span = (
            f"batches {chosen[0]}-{chosen[-1]}"
            if len(chosen) > 1
            else (f"batch {chosen[0]}" if chosen else "no batch")
        )
        lines = [
            f"{_step_name(self.step_no, step)} failed (rows of {span}):",
            *side_by_side(expected, got, day),
            f"  first difference: {render_value(first, day)} {side}",
        ]
        reason = self._reason(want)
        if reason:
            lines.append(f"  why: {reason}")
        raise StreamTestFailure("\n".join(lines))

    def _reason(self, want: S.Expected) -> str | None:
        from streamlab.testing.explain import explain_difference

        try:
            oracle = self.oracle()
        except StreamlabError as exc:
            return None if not isinstance(want, S.ModelAnswer) else str(exc)
        return explain_difference(
            oracle,
            self._landed(),
            self.columns,
            self._history,
            emitted_in=self._emitted_in,
            model_answer=isinstance(want, S.ModelAnswer),
        )

    def _emitted_in(self, row: Callable[[Norm], bool]) -> int | None:
        """Return the first batch whose output has a row for which ``row`` holds."""
        for b in sorted(self.batches):
            if any(row(r) for r in self._rows_of([b])):
                return b
        return None

    def _last_data_batch(self) -> BatchRecord | None:
        data = [b for b in self.batches.values() if b.input_rows > 0 or b.offsets]
        with_files = [b for b in data if self._is_data(b)]
        return max(with_files, key=lambda b: b.batch_id, default=None)

    def _is_data(self, b: BatchRecord) -> bool:
        prev = self.batches.get(b.batch_id - 1)
        before = prev.offsets if prev is not None else {}
        return any(k > before.get(n, 0) for n, k in b.offsets.items())

    def _expect_watermark(self, step: S.ExpectWatermark) -> None:
        self._running()
        last = max(self.batches.values(), key=lambda b: b.batch_id, default=None)
        got = last.watermark_ms if last is not None else 0
        if isinstance(step.at, S.ModelAnswer):
            want = self.prediction().next_watermark
        else:
            ts = to_utc(step.at, what="ExpectWatermark")
            assert ts is not None
            want = _epoch_ms(ts)
        if got != want:
            raise StreamTestFailure(
                f"{_step_name(self.step_no, step)} failed: the watermark is {_fmt_ms(got)}, "
                f"expected {_fmt_ms(want)}"
                + (f" (after batch {last.batch_id})" if last is not None else "")
            )

    def _expect_late(self, step: S.ExpectLate) -> None:
        self._running()
        last = self._last_data_batch()
        if isinstance(step.rows, int) and not isinstance(step.rows, bool):
            got = last.dropped if last is not None else 0
            if got != step.rows:
                where = f"batch {last.batch_id}" if last is not None else "no data batch yet"
                raise StreamTestFailure(
                    f"{_step_name(self.step_no, step)} failed: Spark dropped {got} row(s) "
                    f"behind the watermark in {where}, expected {step.rows} "
                    "(an aggregation counts one per group and window, after partial "
                    "aggregation)"
                )
            return
        if not self.data_steps:
            raise StreamlabError(f"{self._where()}: no AddData ran yet")
        pred = self.prediction()
        name, _ = self.data_steps[-1]
        if step.to is not None and step.to != name:
            raise StreamlabError(
                f"{self._where()}: the last data batch went to {name!r}, not {step.to!r}"
            )
        inp = self.inputs[name]
        cols = columns_of(inp.schema)
        assert not isinstance(step.rows, int)
        want = [normalize(r, cols) for r in step.rows]
        late = [normalize(r, cols) for r in pred.late_rows(len(self.data_steps) - 1)]
        diff = difference(want, late)
        if diff:
            day = common_day([*want, *late])
            wm = _fmt_ms(pred.late_watermark_of(len(self.data_steps) - 1))
            lines = [
                f"{_step_name(self.step_no, step)} failed: rows behind the watermark of the "
                f"last data batch (watermark {wm}):",
                *side_by_side(want, late, day),
            ]
            raise StreamTestFailure("\n".join(lines))

    def _expect_state(self, step: S.ExpectStateRows) -> None:
        self._running()
        last = max(self.batches.values(), key=lambda b: b.batch_id, default=None)
        got = last.state_rows if last is not None else 0
        want = self.prediction().state_rows if isinstance(step.n, S.ModelAnswer) else step.n
        if got != want:
            raise StreamTestFailure(
                f"{_step_name(self.step_no, step)} failed: the query holds {got} row(s) in "
                f"state, expected {want}"
                + (f" (after batch {last.batch_id})" if last is not None else "")
            )


Selector = Callable[["Prediction"], list[dict[str, Any]]]
"""Picks, from a prediction, the rows one check compares with."""


@contextmanager
def _partitions(spark: SparkSession, n: int | None) -> Iterator[None]:
    """Start a query with ``n`` shuffle partitions, leaving the session's setting as it was."""
    if n is None:
        yield
        return
    key = "spark.sql.shuffle.partitions"
    old = spark.conf.get(key, None)
    spark.conf.set(key, str(n))
    try:
        yield
    finally:
        if old is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, old)


def _selector(
    step: S.CheckNewAnswer | S.CheckAnswer | S.CheckLastBatch, since: int, upto: int
) -> Selector:
    return lambda pred: model_rows(pred, step, since, upto)


def model_rows(
    pred: Prediction,
    step: S.CheckNewAnswer | S.CheckAnswer | S.CheckLastBatch,
    since: int,
    upto: int | None = None,
) -> list[dict[str, Any]]:
    """Return the model's rows a check compares with.

    ``since`` is the number of ``AddData`` steps at the previous ``CheckNewAnswer``, ``upto``
    the number at this check (``None``: all so far).
    """
    if isinstance(step, S.CheckNewAnswer):
        return pred.rows_since(since, upto)
    if isinstance(step, S.CheckLastBatch):
        return pred.last_rows(upto)
    return pred.rows_since(0, upto)


def _step_name(no: int, step: S.Step) -> str:
    return f"step {no} {S.describe(step)}"


def _name(fn: Callable[..., Any]) -> str:
    fn = inspect.unwrap(fn)
    name = getattr(fn, "__qualname__", repr(fn))
    try:
        file = inspect.getsourcefile(fn)
        line = inspect.getsourcelines(fn)[1]
    except (TypeError, OSError):
        return f"{name}()"
    return f"{name}() ({Path(file or '?').name}:{line})"


def _ms(text: str | None) -> int:
    if not text:
        return 0
    ts = to_utc(text)
    assert ts is not None
    return _epoch_ms(ts)


def _epoch_ms(ts: Any) -> int:
    from datetime import UTC

    return round(float(ts.replace(tzinfo=UTC).timestamp()) * 1000)


def _fmt_ms(ms: int) -> str:
    from datetime import UTC, datetime

    ts = datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)
    return render_value(ts, None)

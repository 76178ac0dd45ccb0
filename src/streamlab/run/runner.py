"""Running the pipelines: start their queries, wait for them, capture late data, summarize.

The only place (with the CLI) that starts streaming queries. All queries of a run share one
session and run concurrently; each writes Parquet through the file sink (exactly once, with
its ``_spark_metadata`` log) and checkpoints in the guide's folders. Run again, a query
continues from its checkpoint and processes only batches that landed since.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamlab.errors import LabNotReadyError, StreamlabError
from streamlab.ingest.quarantine import QuarantineConfig
from streamlab.lab.catalog import register_table, table_ref
from streamlab.lab.home import Home, check_home, moved_from, record_home, write_home
from streamlab.lab.lock import RootLock, check_free, command_line
from streamlab.lab.paths import CHECKPOINTS, LabPaths
from streamlab.pipelines.config import PipelineConfig, Trigger
from streamlab.pipelines.registry import (
    LATE_TABLE,
    PIPELINES,
    TUMBLING,
    QuerySpec,
    queries_of,
    select_pipelines,
)
from streamlab.raw.landing import landed_batches
from streamlab.run.accounting import Accounting, open_window_counts
from streamlab.run.batches import Position, position, rows_read
from streamlab.run.checkpoint import (
    check_checkpoint,
    planned_batches,
    read_offsets,
    repair_after_kill,
)
from streamlab.run.late import (
    CAPTURE_EVERY,
    LATE_SCHEMA,
    capture_late,
    captured_batches,
    pending_plans,
)
from streamlab.run.progress import (
    OUTPUT_METRIC,
    Observer,
    ProgressRecorder,
    catch_up,
    flush_listeners,
    latest_by_batch,
    progress_log,
    read_progress,
)
from streamlab.run.tables import column_sum, row_count
from streamlab.spark.lifecycle import quiet_logs

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.streaming.query import StreamingQuery


LATER_AFTER_S = 60.0
"""The queries held back (``run_pipelines(first=...)``) start at the latest this long after
the first ones, even if one of those has not finished a micro-batch (no data yet)."""


@dataclass
class QueryResult:
    """What one query did in a run and where it stands."""

    name: str
    table: str
    batches: list[int] = field(default_factory=list)
    """The batches run now (data and no-data)."""
    input_rows: int = 0
    """Rows read now: the lines of the files this run's batches read (checkpoint)."""
    table_rows: int = 0
    """Rows in its table after the run."""
    last_batch: int | None = None
    watermark_ms: int = 0
    """The watermark the next batch will run with."""
    state_rows: int = 0
    """Rows in its state after the last batch of this run."""
    dropped_duplicates: int | None = 0
    """Re-sent rows its deduplication removed in this run's batches (Spark's own count from
    the progress log); ``None`` when a batch's progress is missing from the log."""
    seconds: float = 0.0


@dataclass
class PipelineResult:
    """What one pipeline (exercise) did in a run."""

    pipeline: str
    queries: list[QueryResult] = field(default_factory=list)
    late_captured: int | None = None
    """``late_data``: rows in ``late_events`` after the run."""
    accounting: dict[str, Any] | None = None
    """``late_data``: the tumbling windows' accounting (see :class:`Accounting`)."""

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready data."""
        return asdict(self)


@dataclass
class RunResult:
    """The result of ``streamlab run``."""

    root: str
    trigger: str
    config: dict[str, Any]
    pipelines: list[PipelineResult]
    seconds: float

    @property
    def ok(self) -> bool:
        """Whether every accounting that was checked closes."""
        return all(p.accounting is None or p.accounting["closes"] for p in self.pipelines)

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready data."""
        return {
            "root": self.root,
            "trigger": self.trigger,
            "config": self.config,
            "seconds": round(self.seconds, 2),
            "ok": self.ok,
            "pipelines": [p.to_dict() for p in self.pipelines],
        }


def reset_pipelines(paths: LabPaths, pipelines: list[str]) -> None:
    """Remove the checkpoints and tables of ``pipelines`` so they start over."""
    for spec in queries_of(pipelines):
        _remove(spec.checkpoint(paths))
        _remove_table_data(table_ref(paths, spec.table).path)
    # late_data's markers number the tumbling query's batches: they go with that checkpoint.
    if "late_data" in pipelines or "windowed_agg" in pipelines:
        _remove(paths.checkpoint("late_data"))
        _remove_table_data(table_ref(paths, LATE_TABLE).path)
    for name in CHECKPOINTS:  # the guide's Step 4 folders stay, empty
        paths.checkpoint(name).mkdir(parents=True, exist_ok=True)


def claim_root(
    paths: LabPaths, pipelines: list[str], *, reset: bool, fix: str | None = None
) -> None:
    """Make sure the lab at ``paths`` lives there before a run writes to it, and record that.

    A lab copied or moved from another root is refused with one line, nothing written, unless
    every pipeline starts over (``reset`` of all of them): that removes every checkpoint and
    table, the only places that name the old root, and the lab then lives here. ``fix`` is the
    other way out the refusal names (default: ``--reset`` of every pipeline).
    """
    with RootLock(paths, command_line()):
        if reset and set(PIPELINES) <= set(pipelines) and moved_from(paths) is not None:
            reset_pipelines(paths, list(PIPELINES))
            write_home(paths, Home(str(paths.root)))
        check_home(
            paths,
            writing=True,
            fix=fix
            or (
                None
                if set(PIPELINES) <= set(pipelines)
                else "or pass --reset, naming no pipeline, to start over"
            ),
        )
        record_home(paths)


def _remove(folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)


def _remove_table_data(folder: Path) -> None:
    if not folder.is_dir():
        return
    for item in folder.iterdir():
        if item.name == "_table.json":
            continue
        _remove(item) if item.is_dir() else item.unlink()


def check_settings(
    paths: LabPaths, spec: QuerySpec, cfg: PipelineConfig, *, record: bool = True
) -> None:
    """Fail if the query's checkpoint is damaged or was started with other settings.

    A checkpoint without progress records ``cfg``'s settings, unless ``record`` is false.
    """
    wanted = spec.recorded(cfg)
    check_checkpoint(spec.checkpoint(paths), spec.pipeline, wanted, query=spec.name, record=record)


def _start(
    spark: SparkSession, paths: LabPaths, spec: QuerySpec, cfg: PipelineConfig, trigger: Trigger
) -> StreamingQuery:
    from pyspark.sql import functions as F

    df = spec.build(spark, paths, cfg)
    ref = register_table(spark, paths, spec.table, df.schema, spec.description)
    # The file sink reports no output count (-1); an observed metric counts what it writes.
    df = df.observe(OUTPUT_METRIC, F.count(F.lit(1)).alias("rows"))
    writer = (
        df.writeStream.queryName(spec.name)
        .format("parquet")
        .outputMode("append")
        .option("path", str(ref.path))
        .option("checkpointLocation", str(spec.checkpoint(paths)))
        .trigger(**trigger.spark_options())
    )
    return writer.start()


def run_pipelines(
    spark: SparkSession,
    paths: LabPaths,
    pipelines: list[str] | None = None,
    *,
    config: PipelineConfig | None = None,
    trigger: Trigger | None = None,
    observers: list[Observer] | None = None,
    duration: float | None = None,
    reset: bool = False,
    stop: threading.Event | None = None,
    first: Sequence[str] = (),
) -> RunResult:
    """Run ``pipelines`` (default: all) on the lab at ``paths`` and return what they did.

    Args:
        spark: the lab session (:func:`streamlab.spark.session.lab_session`).
        paths: the lab root.
        pipelines: names from :data:`streamlab.pipelines.registry.PIPELINES`.
        config: watermark delays and windows; the defaults are the guide's.
        trigger: AvailableNow (default) processes what has landed and returns; a
            processing-time trigger runs until ``duration`` seconds pass or Ctrl-C.
        observers: called with every progress record (the live view).
        duration: how long a processing-time run lasts; ``None``: until interrupted.
        reset: start the chosen pipelines over (remove their checkpoints and tables).
        stop: set from another thread or a signal handler to end a processing-time run
            between two checks, like Ctrl-C but never inside a Spark call.
        first: queries to start first; the others start once each of these has finished
            its first micro-batch (or stopped). On a small machine a query's first batch is
            its slowest (the JVM compiles its code), and seven first batches at once take
            turns on the cores: ``streamlab live`` starts the ones its first picture draws.

    >>> result = run_pipelines(spark, LabPaths.resolve(), ["dedup"])  # doctest: +SKIP

    """
    cfg = config or PipelineConfig()
    trig = trigger or Trigger()
    chosen = check_run(paths, pipelines, cfg, reset=reset)
    with RootLock(paths, command_line()):
        claim_root(paths, chosen, reset=reset)
        return _run_locked(
            spark, paths, chosen, cfg, trig, observers, duration, reset, stop, tuple(first)
        )


def check_run(
    paths: LabPaths,
    pipelines: list[str] | None,
    cfg: PipelineConfig,
    *,
    reset: bool = False,
) -> list[str]:
    """Refuse a run that cannot go ahead, before anything starts; return the pipelines to run.

    Checks, reading files only: the pipeline names, that data has landed, that no other
    process holds the root, and (unless ``reset``) that every checkpoint is sound and was
    made with ``cfg``. :func:`run_pipelines` checks again under the root's lock.
    """
    chosen = select_pipelines(pipelines)
    if not landed_batches(paths, "events"):
        raise LabNotReadyError(f"no lab data under {paths.root}: run 'streamlab setup' first")
    check_free(paths)
    if not reset:
        for spec in queries_of(chosen):
            check_settings(paths, spec, cfg, record=False)
    return chosen


def _run_locked(
    spark: SparkSession,
    paths: LabPaths,
    chosen: list[str],
    cfg: PipelineConfig,
    trig: Trigger,
    observers: list[Observer] | None,
    duration: float | None,
    reset: bool,
    stop: threading.Event | None = None,
    first: tuple[str, ...] = (),
) -> RunResult:
    if reset:
        reset_pipelines(paths, chosen)
    specs = queries_of(chosen)
    # Nothing starts unless every checkpoint is sound and made with these settings; a batch a
    # killed run left half done is rolled back so that it runs again exactly.
    for spec in specs:
        check_settings(paths, spec, cfg)
        repair_after_kill(spec.checkpoint(paths), table_ref(paths, spec.table).path)
    started = time.monotonic()
    recorder = ProgressRecorder(progress_log(paths), observers)
    before = {s.name: position(s.checkpoint(paths)) for s in specs}
    spark.streams.addListener(recorder)
    queries: dict[str, StreamingQuery] = {}
    finished: dict[str, float] = {}
    early = [s for s in specs if s.name in first]
    later = [s for s in specs if s not in early] if early else []

    def start_later() -> None:
        for spec in later:
            if stop is not None and stop.is_set():  # the run is ending: start no more
                break
            queries[spec.name] = _start(spark, paths, spec, cfg, trig)
        later.clear()

    try:
        for spec in early or specs:
            if stop is not None and stop.is_set():  # asked to stop before the run began
                later.clear()
                break
            queries[spec.name] = _start(spark, paths, spec, cfg, trig)
        deadline = None if duration is None else started + duration
        _watch(
            spark,
            paths,
            queries,
            finished,
            started,
            deadline,
            chosen,
            trig,
            cfg,
            stop,
            later=(start_later if later else None),
        )
    finally:
        with quiet_logs(spark):  # a batch interrupted on purpose is no error
            _stop_between_batches(list(queries.values()))
        # The summary is read back from the log: every progress the stopped queries kept goes
        # in now, whether or not its listener event has arrived.
        flush_listeners(spark, timeout=2.0)
        for query in queries.values():
            catch_up(recorder, list(query.recentProgress))
        spark.streams.removeListener(recorder)
    for name, query in queries.items():
        finished.setdefault(name, time.monotonic() - started)
        _raise_failure(name, query)
    if "windowed_agg" in chosen:  # late_data brings windowed_agg along
        _capture(spark, paths, cfg)
    results = [_pipeline_result(spark, paths, p, specs, before, finished, recorder) for p in chosen]
    return RunResult(
        str(paths.root), trig.describe(), cfg.to_dict(), results, time.monotonic() - started
    )


def _watch(
    spark: SparkSession,
    paths: LabPaths,
    queries: dict[str, StreamingQuery],
    finished: dict[str, float],
    started: float,
    deadline: float | None,
    chosen: list[str],
    trigger: Trigger,
    cfg: PipelineConfig,
    stop: threading.Event | None = None,
    *,
    later: Callable[[], None] | None = None,
) -> None:
    """Wait for the queries to end (or the deadline, ``stop``, Ctrl-C), capturing late data.

    ``later`` starts the queries held back, called once every query started so far has
    finished a micro-batch (or stopped), or :data:`LATER_AFTER_S` after the start.
    """
    try:
        while later is not None or len(finished) < len(queries):
            if later is not None and (
                time.monotonic() - started > LATER_AFTER_S
                or all(q.lastProgress is not None or not q.isActive for q in queries.values())
            ):
                later()
                later = None
            for name, query in queries.items():
                if name not in finished and not query.isActive:
                    finished[name] = time.monotonic() - started
                    _raise_failure(name, query)
            # Capture while the tumbling query runs, whether or not late_data was asked for:
            # Spark keeps the offsets of the last minBatchesToRetain batches only (20), and
            # the capture needs each batch's, so each batch's plan is saved as it commits. An
            # AvailableNow run reads the rows of ten batches at a time; a live run each batch.
            if "windowed_agg" in chosen:
                _capture(spark, paths, cfg, CAPTURE_EVERY if trigger.available_now else 1)
            if deadline is not None and time.monotonic() >= deadline:
                return
            if stop is not None and stop.is_set():
                return
            waiting = [q for n, q in queries.items() if n not in finished]
            if waiting:
                waiting[0].awaitTermination(1)
    except KeyboardInterrupt:  # a live run ends with Ctrl-C: stop and summarize
        return


def _stop_between_batches(queries: list[StreamingQuery], wait: float = 15.0) -> None:
    """Stop ``queries``, each once its current micro-batch is done (or ``wait`` seconds pass).

    A query stopped mid-batch is sound (the batch runs again next time) but logs the
    interrupted tasks as errors; waiting for the batch to commit keeps a live run's end quiet.
    """
    deadline = time.monotonic() + wait
    for query in queries:
        try:
            while query.isActive and time.monotonic() < deadline:
                if not query.status.get("isTriggerActive", False):
                    break
                time.sleep(0.1)
        except Exception:  # the query ended meanwhile: nothing to wait for
            pass
        if query.isActive:
            query.stop()


def _raise_failure(name: str, query: StreamingQuery) -> None:
    exc = query.exception()
    if exc is not None:
        text = str(exc).strip().splitlines()
        raise StreamlabError(
            f"query {name} failed: {text[0][:300] if text else type(exc).__name__} "
            "(run with --debug for details, or --reset to start it over)"
        )


def _capture(
    spark: SparkSession, paths: LabPaths, cfg: PipelineConfig, min_batches: int = 1
) -> None:
    ckpt = paths.checkpoint(TUMBLING)
    if not (ckpt / "commits").is_dir():
        return
    state = paths.checkpoint("late_data")
    if len(pending_plans(ckpt, state)) < max(min_batches, 1):
        return  # plans saved; nothing to read yet, and no catalog call either
    ref = register_table(spark, paths, LATE_TABLE, LATE_SCHEMA, "events dropped as late")
    capture_late(spark, ckpt, ref.path, state, QuarantineConfig(cfg.max_skew_ms))


def table_rows(paths: LabPaths, table: str) -> int:
    """Return the committed rows of a lab table (0 before its first file)."""
    return row_count(table_ref(paths, table).path)


def _query_result(
    spark: SparkSession,
    paths: LabPaths,
    spec: QuerySpec,
    before: Position,
    seconds: float,
    records: dict[int, dict[str, Any]],
) -> QueryResult:
    ckpt = spec.checkpoint(paths)
    end = position(ckpt)
    now = end.batches_since(before)
    result = QueryResult(spec.name, spec.table, batches=now, seconds=round(seconds, 2))
    result.input_rows = rows_read(ckpt, before, end)
    result.dropped_duplicates = (
        None
        if any(b not in records for b in now)
        else sum(
            int(op.get("dropped_duplicates") or 0)
            for b in now
            for op in records[b]["state_operators"]
        )
    )
    result.table_rows = table_rows(paths, spec.table)
    planned = planned_batches(ckpt)
    if end.last_batch is not None:
        result.last_batch = end.last_batch
        result.state_rows = int(records.get(end.last_batch, {}).get("state_rows", 0))
    if planned:
        result.watermark_ms = read_offsets(ckpt, planned[-1]).watermark_ms
    return result


def _pipeline_result(
    spark: SparkSession,
    paths: LabPaths,
    pipeline: str,
    specs: list[QuerySpec],
    before: dict[str, Position],
    finished: dict[str, float],
    recorder: ProgressRecorder,
) -> PipelineResult:
    records = latest_by_batch(list(read_progress(recorder.log)))
    result = PipelineResult(pipeline)
    for spec in specs:
        if spec.pipeline == pipeline:
            result.queries.append(
                _query_result(
                    spark,
                    paths,
                    spec,
                    before[spec.name],
                    finished.get(spec.name, 0.0),
                    records.get(spec.name, {}),
                )
            )
    if pipeline == "late_data":
        result.late_captured = table_rows(paths, LATE_TABLE)
        result.accounting = tumbling_accounting(spark, paths, records.get(TUMBLING, {})).to_dict()
    return result


def tumbling_accounting(
    spark: SparkSession, paths: LabPaths, records: dict[int, dict[str, Any]] | None = None
) -> Accounting:
    """Return the accounting of the tumbling windows over every batch run so far.

    ``records`` are the tumbling query's progress records by batch (default: from the log).
    """
    if records is None:
        records = latest_by_batch(list(read_progress(progress_log(paths)))).get(TUMBLING, {})
    ckpt = paths.checkpoint(TUMBLING)
    # Every batch since the first: commits/ lists only the last minBatchesToRetain of them.
    committed = position(ckpt).batches_since(Position(None))
    captured = captured_batches(paths.checkpoint("late_data"))
    reported: int | None = 0
    for batch in committed:
        if batch not in records:  # a kill cut the batch's progress off: Spark's count is lost
            reported = None
            break
        assert reported is not None
        reported += sum(
            int(op.get("dropped_duplicates") or 0) for op in records[batch]["state_operators"]
        )
    emitted = int(
        column_sum(table_ref(paths, "streaming_gold.events_tumbling").path, "event_count")
    )
    return Accounting.from_durable_state(
        input_events=sum(c.input_rows for c in captured.values()),
        quarantined=sum(c.quarantined_rows for c in captured.values()),
        late_captured=table_rows(paths, LATE_TABLE),
        counted_emitted=emitted,
        counted_open=open_window_counts(spark, ckpt) if committed else 0,
        duplicates_reported=reported,
        batches=len(committed),
        batches_captured=len([b for b in committed if b in captured]),
    )

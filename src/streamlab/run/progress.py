"""Recording every progress event of the lab's queries to ``<root>/logs/progress.jsonl``.

One JSON object a line per micro-batch: the query, batch, input rows, watermark and event-time
range, each stateful operator's rows, memory and rows dropped by watermark, the durations and
the rows written. ``streamlab doctor`` and ``streamlab status`` read it back.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.sql.streaming.listener import StreamingQueryListener

from streamlab.lab.paths import LabPaths

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

EPOCH = "1970-01-01T00:00:00.000Z"
"""The watermark of a query that has seen no event time yet."""

OUTPUT_METRIC = "streamlab_output"
"""The observed metric (``DataFrame.observe``) counting the rows a query writes."""

Observer = Callable[[dict[str, Any]], None]


def progress_log(paths: LabPaths) -> Path:
    """Return the progress log of the lab at ``paths``."""
    return paths.logs / "progress.jsonl"


def progress_record(progress: dict[str, Any]) -> dict[str, Any]:
    """Flatten one ``StreamingQueryProgress`` (as JSON data) into a progress log record."""
    event_time = progress.get("eventTime") or {}
    operators = []
    for op in progress.get("stateOperators") or []:
        custom = op.get("customMetrics") or {}
        operators.append(
            {
                "operator": op.get("operatorName"),
                "rows_total": op.get("numRowsTotal", 0),
                "rows_updated": op.get("numRowsUpdated", 0),
                "rows_removed": op.get("numRowsRemoved", 0),
                "memory_bytes": op.get("memoryUsedBytes", 0),
                "dropped_by_watermark": op.get("numRowsDroppedByWatermark", 0),
                "dropped_duplicates": custom.get("numDroppedDuplicateRows"),
            }
        )
    sink = progress.get("sink") or {}
    observed = (progress.get("observedMetrics") or {}).get(OUTPUT_METRIC) or {}
    output = observed.get("rows", sink.get("numOutputRows", -1))
    return {
        "query": progress.get("name"),
        "id": progress.get("id"),
        "run_id": progress.get("runId"),
        "batch": progress.get("batchId"),
        "timestamp": progress.get("timestamp"),
        "input_rows": progress.get("numInputRows", 0),
        "watermark": event_time.get("watermark", EPOCH),
        "event_time_min": event_time.get("min"),
        "event_time_max": event_time.get("max"),
        "state_rows": sum(op["rows_total"] for op in operators),
        "state_memory_bytes": sum(op["memory_bytes"] for op in operators),
        "dropped_by_watermark": sum(op["dropped_by_watermark"] for op in operators),
        "state_operators": operators,
        "duration_ms": progress.get("batchDuration"),
        "durations": progress.get("durationMs") or {},
        "output_rows": output,
    }


class ProgressRecorder(StreamingQueryListener):
    """A listener that appends every progress event to the lab's progress log.

    ``observers`` are called with each record too (the live terminal view).

    >>> recorder = ProgressRecorder(progress_log(paths))  # doctest: +SKIP
    >>> spark.streams.addListener(recorder)  # doctest: +SKIP
    """

    def __init__(self, log: Path, observers: list[Observer] | None = None) -> None:
        self.log = log
        self.observers = list(observers or [])
        self._lock = threading.Lock()
        self._seen: dict[str, set[int]] = {}
        log.parent.mkdir(parents=True, exist_ok=True)
        _end_damaged_line(log)

    def onQueryStarted(self, event: Any) -> None:
        """Nothing to record: the first progress event names the query."""

    def onQueryProgress(self, event: Any) -> None:
        """Append the event's progress to the log and tell the observers."""
        self.record(json.loads(event.progress.json))

    def onQueryIdle(self, event: Any) -> None:
        """Nothing to record while a query waits for data."""

    def onQueryTerminated(self, event: Any) -> None:
        """Nothing to record: the last progress event was logged already."""

    def record(self, progress: dict[str, Any]) -> dict[str, Any]:
        """Append one progress (as JSON data) to the log, once per query run and batch."""
        rec = progress_record(progress)
        with self._lock:
            seen = self._seen.setdefault(str(rec["run_id"]), set())
            if rec["batch"] in seen:
                return rec
            seen.add(rec["batch"])
            with self.log.open("a") as out:
                out.write(json.dumps(rec) + "\n")
        for observer in self.observers:
            observer(rec)
        return rec

    def seen(self, run_id: str) -> set[int]:
        """Return the batches recorded for one query run."""
        with self._lock:
            return set(self._seen.get(run_id, set()))


def _end_damaged_line(log: Path) -> None:
    """End a last line a killed writer left unfinished, so the next record starts a line."""
    if not log.is_file() or log.stat().st_size == 0:
        return
    with log.open("rb+") as data:
        data.seek(-1, 2)
        if data.read(1) != b"\n":
            data.write(b"\n")


def flush_listeners(spark: SparkSession, timeout: float = 10.0) -> None:
    """Wait until Spark has delivered the queued listener events (best effort)."""
    try:
        spark.sparkContext._jsc.sc().listenerBus().waitUntilEmpty(int(timeout * 1000))
    except Exception:  # not a classic session, or Spark's internals moved: nothing to wait on
        return


def catch_up(recorder: ProgressRecorder, progresses: list[Any]) -> list[int]:
    """Record every progress a stopped query kept that the listener has not delivered yet.

    A query keeps its last progresses itself (``recentProgress``, the last
    ``spark.sql.streaming.numRecentProgressUpdates``); they are the same objects the listener
    events carry, so recording them now, without waiting for the events still in flight,
    makes the log complete when the queries stop. The recorder writes each batch once,
    whichever comes first. Returns the batches recorded here.
    """
    added = []
    for p in progresses:
        data = json.loads(p.json) if hasattr(p, "json") else dict(p)
        if data.get("batchId") not in recorder.seen(str(data.get("runId"))):
            recorder.record(data)
            added.append(int(data["batchId"]))
    return added


def read_progress(log: Path) -> Iterator[dict[str, Any]]:
    """Yield the records of a progress log; damaged lines (a killed writer) are skipped."""
    if not log.exists():
        return
    with log.open() as lines:
        for line in lines:
            try:
                yield json.loads(line)
            except ValueError:
                continue


def read_progress_backwards(log: Path, chunk: int = 1 << 16) -> Iterator[dict[str, Any]]:
    """Yield the records of a progress log from the last one back; damaged lines are skipped.

    Reads the file in ``chunk``-sized blocks from its end, so a caller that wants the latest
    records stops after reading only them, however long the log has grown.
    """
    if not log.exists():
        return
    with log.open("rb") as data:
        end = data.seek(0, 2)
        tail = b""
        while end > 0:
            start = max(0, end - chunk)
            data.seek(start)
            block = data.read(end - start) + tail
            end = start
            lines = block.split(b"\n")
            tail = lines.pop(0) if end > 0 else b""  # may be cut: finish it with the next block
            for line in reversed(lines):
                try:
                    yield json.loads(line)
                except ValueError:
                    continue


def latest_by_batch(records: list[dict[str, Any]]) -> dict[str, dict[int, dict[str, Any]]]:
    """Return, per query, the last record of each batch (a rerun batch replaces the old one)."""
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for rec in records:
        out.setdefault(str(rec["query"]), {})[int(rec["batch"])] = rec
    return {q: dict(sorted(b.items())) for q, b in out.items()}


def parse_watermark(text: str | None) -> datetime | None:
    """Parse a progress watermark such as ``2026-01-01T09:00:00.000Z``."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)

"""Late data: what the windowed aggregation did not count because it came too late.

Spark drops rows behind the watermark without a trace (``numRowsDroppedByWatermark`` counts
groups, not events: semantics L4). streamlab recovers them exactly from the tumbling query's
own checkpoint: for each committed batch ``N`` it reads the files the batch read
(``sources/0``) and the watermark its late rows were filtered with (``offsets/N-1``,
semantics T1), and keeps every row Spark dropped.

Which rows those are: the query runs ``dropDuplicatesWithinWatermark`` before the window.
Spark's deduplication operator drops a row when ``event_time <= late watermark`` before it
looks at its state (``StreamingDeduplicateWithinWatermarkExec``); a row it lets through has
``event_time`` after that watermark, so its window ends after it too and the aggregation
never drops it (its ``numRowsDroppedByWatermark`` stays 0). The late rows are therefore
exactly ``event_time <= late watermark``: checked against Spark's per-batch metric and the
closed accounting in tests/test_pipelines.py.

Each batch's late rows go to one Parquet file named by batch id, written to a hidden name
and renamed, then the batch is marked done: a run killed at any point and started again
rewrites the same file, never a second one.

Spark keeps the offsets of the last ``minBatchesToRetain`` batches only (20), so what a batch
read and the watermark it ran with are saved (``plans/``, a few bytes) as soon as it commits.
The rows can then be read for several batches in one Spark job (:data:`CAPTURE_EVERY`)
without a purge losing any.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F
from pyspark.sql.types import (
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from streamlab.ingest.quarantine import QuarantineConfig, classify
from streamlab.lab.files import atomic_path, atomic_write_bytes
from streamlab.run.checkpoint import batch_files, committed_batches, late_watermark

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

LATE_SCHEMA = StructType(
    [
        StructField("event_id", StringType()),
        StructField("user_id", StringType()),
        StructField("event_type", StringType()),
        StructField("value", DoubleType()),
        StructField("event_time", TimestampType()),
        StructField("processing_time", TimestampType()),
        StructField("source_file", StringType()),
        StructField("batch", IntegerType()),
        StructField("batch_id", LongType()),
        StructField("late_watermark", TimestampType()),
        StructField("lateness_ms", LongType()),
    ]
)
"""``streaming_bronze.late_events``: the event, where it came from, the micro-batch that
dropped it, the watermark it missed and by how much (``late_watermark - event_time``)."""

_FILE_PREFIX = "late-batch-"

CAPTURE_EVERY = 10
"""Pending batches an AvailableNow run lets gather before it reads their late rows: one Spark
job per ten batches instead of one per batch, which the running queries would otherwise wait
on (:func:`capture_late`'s ``min_batches``). A live run captures every batch, so its picture
shows late rows as they happen."""


@dataclass(frozen=True)
class BatchLateness:
    """What one micro-batch of the tumbling query read and dropped as late."""

    batch_id: int
    late_watermark_ms: int
    input_rows: int
    quarantined_rows: int
    late_rows: int
    files: list[str] = field(default_factory=list)


def captured_batches(state: Path) -> dict[int, BatchLateness]:
    """Return the batches already captured, from the markers under ``state``."""
    out: dict[int, BatchLateness] = {}
    folder = state / "batches"
    if not folder.is_dir():
        return out
    for file in folder.glob("*.json"):
        data = json.loads(file.read_text())
        out[int(data["batch_id"])] = BatchLateness(**data)
    return dict(sorted(out.items()))


def captured_count(state: Path) -> int:
    """Return how many batches are captured, from the markers' names alone."""
    return len(_captured_ids(state))


def _captured_ids(state: Path) -> set[int]:
    folder = state / "batches"
    return {int(f.stem) for f in folder.glob("*.json")} if folder.is_dir() else set()


def pending_plans(checkpoint: Path, state: Path) -> dict[int, tuple[int, list[str]]]:
    """Return ``{batch: (late watermark ms, files)}`` of every committed, uncaptured batch.

    A batch's plan is read from its offsets once and saved under ``state/plans``, so that
    Spark's purge of old offsets cannot take it before its rows are captured. Plans of
    batches already captured (a run killed just after marking one) are removed.
    """
    done = _captured_ids(state)
    folder = state / "plans"
    saved: dict[int, tuple[int, list[str]]] = {}
    if folder.is_dir():
        for file in folder.glob("*.json"):
            batch_id = int(file.stem)
            if batch_id in done:
                file.unlink(missing_ok=True)
                continue
            data = json.loads(file.read_text())
            saved[batch_id] = (int(data["late_watermark_ms"]), list(data["files"]))
    for batch_id in committed_batches(checkpoint):
        if batch_id in done or batch_id in saved:
            continue
        plan = (late_watermark(checkpoint, batch_id), batch_files(checkpoint, batch_id))
        folder.mkdir(parents=True, exist_ok=True)
        body = {"late_watermark_ms": plan[0], "files": plan[1]}
        atomic_write_bytes(folder / f"{batch_id:06d}.json", json.dumps(body).encode())
        saved[batch_id] = plan
    return dict(sorted(saved.items()))


def capture_late(
    spark: SparkSession,
    checkpoint: Path,
    table: Path,
    state: Path,
    quarantine: QuarantineConfig | None = None,
    *,
    min_batches: int = 1,
) -> list[BatchLateness]:
    """Write the late rows of every committed, not yet captured batch of a windowed query.

    Args:
        spark: the session to read the batches' files with.
        checkpoint: the checkpoint of the tumbling query (``windowed_agg/tumbling``).
        table: the folder of ``streaming_bronze.late_events``.
        state: where captured batches are marked (``checkpoints/late_data``).
        quarantine: the query's quarantine, so only the records it saw are judged late.
        min_batches: read nothing until this many batches are pending; their plans are
            saved meanwhile (:func:`pending_plans`).

    Returns the batches captured now.

    """
    plan = pending_plans(checkpoint, state)
    if not plan or len(plan) < min_batches:
        return []
    pending = list(plan)
    counts: dict[int, tuple[int, int]] = {}
    rows: dict[int, list[Any]] = {b: [] for b in pending}
    files = [f for _, fs in plan.values() for f in fs]
    if files:
        counts, rows = _read_batches(spark, plan, files, quarantine)
    table.mkdir(parents=True, exist_ok=True)
    (state / "batches").mkdir(parents=True, exist_ok=True)
    captured = []
    for batch_id in pending:
        watermark, batch_file_list = plan[batch_id]
        late = rows.get(batch_id, [])
        _write_rows(table / f"{_FILE_PREFIX}{batch_id:06d}.parquet", late)
        input_rows, unparsed = counts.get(batch_id, (0, 0))
        result = BatchLateness(
            batch_id, watermark, input_rows, unparsed, len(late), batch_file_list
        )
        marker = state / "batches" / f"{batch_id:06d}.json"
        atomic_write_bytes(marker, json.dumps(asdict(result)).encode())
        (state / "plans" / f"{batch_id:06d}.json").unlink(missing_ok=True)
        captured.append(result)
    return captured


def _read_batches(
    spark: SparkSession,
    plan: dict[int, tuple[int, list[str]]],
    files: list[str],
    quarantine: QuarantineConfig | None,
) -> tuple[dict[int, tuple[int, int]], dict[int, list[Any]]]:
    mapping = spark.createDataFrame(
        [(_normal(f), b, wm) for b, (wm, fs) in plan.items() for f in fs],
        "norm_file STRING, batch_id LONG, late_watermark_ms LONG",
    )
    # The same lines, parsed and quarantined the same way, as the tumbling query read them.
    lines = spark.read.text(files).select(
        F.col("value").alias("raw"),
        F.col("_metadata.file_path").alias("source_file"),
        F.lit(None).cast("int").alias("batch"),
    )
    df = (
        classify(lines.where(F.trim("raw") != ""), "events", quarantine)
        .withColumn("norm_file", F.regexp_replace("source_file", "^file:/*", "/"))
        .join(F.broadcast(mapping), "norm_file")
    )
    event_ms = F.unix_millis("event_time")
    late_row = F.struct(
        "event_id",
        "user_id",
        "event_type",
        "value",
        event_ms.alias("event_time_ms"),
        F.unix_millis("processing_time").alias("processing_time_ms"),
        "source_file",
        F.regexp_extract("source_file", r"batch_(\d+)", 1).cast("int").alias("batch"),
        "batch_id",
        "late_watermark_ms",
        (F.col("late_watermark_ms") - event_ms).alias("lateness_ms"),
    )
    # One job: per batch, its input and unparsed counts and its late rows (collect_list
    # skips the NULLs of rows that were on time).
    per_batch = df.groupBy("batch_id").agg(
        F.count(F.lit(1)).alias("input_rows"),
        F.count(F.when(F.col("reason").isNotNull(), 1)).alias("quarantined_rows"),
        F.collect_list(
            F.when(F.col("reason").isNull() & (event_ms <= F.col("late_watermark_ms")), late_row)
        ).alias("late"),
    )
    counts: dict[int, tuple[int, int]] = {}
    rows: dict[int, list[Any]] = {}
    for r in per_batch.collect():
        counts[int(r.batch_id)] = (int(r.input_rows), int(r.quarantined_rows))
        rows[int(r.batch_id)] = sorted(
            r.late, key=lambda x: (x.source_file, x.event_id or "", x.event_time_ms)
        )
    return counts, rows


def _normal(uri: str) -> str:
    import re

    return re.sub(r"^file:/*", "/", uri)


def _write_rows(target: Path, rows: list[Any]) -> None:
    """Write ``rows`` as one Parquet file at ``target``, atomically; none when empty."""
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    if not rows:
        target.unlink(missing_ok=True)
        return
    ts = pa.timestamp("us", tz="UTC")

    def micros(values: list[int | None]) -> pa.Array:
        return pa.array([None if v is None else v * 1000 for v in values], type=ts)

    columns = list(zip(*rows, strict=True))
    table = pa.table(
        {
            "event_id": pa.array(columns[0], pa.string()),
            "user_id": pa.array(columns[1], pa.string()),
            "event_type": pa.array(columns[2], pa.string()),
            "value": pa.array(columns[3], pa.float64()),
            "event_time": micros(list(columns[4])),
            "processing_time": micros(list(columns[5])),
            "source_file": pa.array(columns[6], pa.string()),
            "batch": pa.array(columns[7], pa.int32()),
            "batch_id": pa.array(columns[8], pa.int64()),
            "late_watermark": micros(list(columns[9])),
            "lateness_ms": pa.array(columns[10], pa.int64()),
        }
    )
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)

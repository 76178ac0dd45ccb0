"""Helpers, no tests: run a scenario through Spark and through the model, reduced alike.

A scenario is a list of landed batches per source. Spark reads them as the lab's pipelines do:
one ``batch_NNNN/`` file per trigger, in order. ``available-now`` lands every batch and runs one
``trigger(availableNow=True)`` query; ``processing-time`` lands one batch at a time under a
running query and waits with ``processAllAvailable()``, so Spark runs its no-data batches when
the watermark moved.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType

from streamlab.model import ModelConfig, Policy, Result, Rows, Trigger, simulate
from streamlab.model.dedup import KEPT, LATE
from streamlab.model.join import LATE as JOIN_LATE

EVENTS = StructType(
    [
        StructField("event_id", StringType()),
        StructField("event_type", StringType()),
        StructField("t", LongType()),
    ]
)
IMPRESSIONS = StructType(
    [
        StructField("impression_id", StringType()),
        StructField("t", LongType()),
        StructField("ad_id", StringType()),
    ]
)
CLICKS = StructType(
    [
        StructField("click_id", StringType()),
        StructField("impression_id", StringType()),
        StructField("t", LongType()),
    ]
)
SCHEMAS = {"events": EVENTS, "impressions": IMPRESSIONS, "clicks": CLICKS}
HDFS = "org.apache.spark.sql.execution.streaming.state.HDFSBackedStateStoreProvider"

Batches = Sequence[Sequence[dict[str, Any]]]


@dataclass
class Facts:
    """What a run produced, in a form both Spark and the model can be reduced to."""

    watermarks: list[int] = field(default_factory=list)
    """Eviction watermark of every micro-batch, in batch order (length = batches run)."""
    outputs: dict[int, list[tuple[Any, ...]]] = field(default_factory=dict)
    """Sorted output rows per batch id (batches without output left out)."""
    dropped: dict[str, list[int]] = field(default_factory=dict)
    """Per stateful operator (Spark's short name), ``numRowsDroppedByWatermark`` per batch."""


def land_all(root: Path, name: str, batches: Batches, first: int = 0) -> None:
    """Write batches ``first..`` of one source as ``batch_NNNN/part-00000.json``."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    for b, rows in enumerate(batches):
        if b < first:
            continue
        land_one(folder, b, rows)


def land_one(folder: Path, b: int, rows: Sequence[dict[str, Any]]) -> None:
    tmp = folder / f".batch_{b:04d}.tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    data = tmp / "part-00000.json"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    stamp = (1_700_000_000 + b) * 1_000_000_000
    os.utime(data, ns=(stamp, stamp))
    os.rename(tmp, folder / f"batch_{b:04d}")


def _combined_schema(sources: dict[str, Batches]) -> StructType:
    fields: dict[str, StructField] = {}
    for name in sources:
        for f in SCHEMAS[name].fields:
            fields.setdefault(f.name, f)
    return StructType([*fields.values(), StructField("_src", StringType())])


def read(spark: SparkSession, root: Path, name: str, schema: StructType | None = None) -> DataFrame:
    return (
        spark.readStream.schema(schema or SCHEMAS[name])
        .option("maxFilesPerTrigger", 1)
        .json(str(root / name / "batch_*" / "part-*.json"))
        .withColumn("t", F.timestamp_millis("t"))
    )


def _ms(text: str | None) -> int:
    if not text:
        return 0
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def run_spark(
    spark: SparkSession,
    tmp: Path,
    sources: dict[str, Batches],
    build: Callable[[dict[str, DataFrame]], DataFrame],
    to_row: Callable[[Any], tuple[Any, ...]],
    *,
    trigger: Trigger,
    operators: Sequence[str] = (),
) -> Facts:
    """Run ``build`` over ``sources`` in Spark and return what each batch did."""
    facts = Facts()
    root = tmp / "input"
    n_batches = max(len(b) for b in sources.values())
    if trigger is Trigger.AVAILABLE_NOW:
        for name, batches in sources.items():
            land_all(root, name, batches)
        frames = {name: read(spark, root, name) for name in sources}
    elif len(sources) == 1:
        for name in sources:
            (root / name).mkdir(parents=True, exist_ok=True)
        frames = {name: read(spark, root, name) for name in sources}
    else:
        # Landing two folders is not atomic: a running query could list one and not the other.
        # With a live trigger, the inputs share one file per batch and are split by a tag, so
        # each batch reads both inputs' rows or neither; each input keeps its own watermark.
        (root / "combined").mkdir(parents=True, exist_ok=True)
        combined = read(spark, root, "combined", _combined_schema(sources))
        frames = {
            name: combined.filter(F.col("_src") == name).select(*SCHEMAS[name].fieldNames())
            for name in sources
        }

    def sink(df: DataFrame, batch_id: int) -> None:
        rows = sorted((to_row(r) for r in df.collect()), key=_sort_key)
        if rows:
            facts.outputs[batch_id] = rows

    writer = (
        build(frames)
        .writeStream.outputMode("append")
        .foreachBatch(sink)
        .option("checkpointLocation", str(tmp / "checkpoint"))
    )
    if trigger is Trigger.AVAILABLE_NOW:
        query = writer.trigger(availableNow=True).start()
        try:
            query.awaitTermination()
        finally:
            query.stop()
    else:
        query = writer.start()
        try:
            for b in range(n_batches):
                if len(sources) == 1:
                    for name, batches in sources.items():
                        land_one(root / name, b, batches[b])
                else:
                    rows = [
                        {**r, "_src": name}
                        for name, batches in sources.items()
                        if b < len(batches)
                        for r in batches[b]
                    ]
                    land_one(root / "combined", b, rows)
                _wait_for_offset(query, b)
                query.processAllAvailable()
        finally:
            query.stop()
    if query.exception() is not None:  # pragma: no cover - reported by the assertion
        raise AssertionError(str(query.exception()))
    # An idle trigger (nothing to run for noDataProgressEventInterval) also reports progress,
    # with the next batch id; only batches that ran have an addBatch duration.
    ran = [p for p in query.recentProgress if "addBatch" in (p.durationMs or {})]
    progress = sorted(ran, key=lambda p: p.batchId)
    facts.watermarks = [_ms(p.eventTime.get("watermark")) for p in progress]
    assert [p.batchId for p in progress] == list(range(len(progress)))
    for name in operators:
        facts.dropped[name] = [
            sum(o.numRowsDroppedByWatermark for o in p.stateOperators if o.operatorName == name)
            for p in progress
        ]
    return facts


def _wait_for_offset(query: Any, b: int) -> None:
    # processAllAvailable can return before a file landed a moment earlier is listed; wait
    # until the batch that reads file ``b`` has run (file source offsets count from 0).
    for _ in range(200):
        query.processAllAvailable()
        last = query.lastProgress
        if last is not None:
            offsets = [
                json.loads(o) if isinstance(o, str) else o
                for o in (s.endOffset for s in last.sources)
            ]
            logs = [o["logOffset"] for o in offsets if isinstance(o, dict)]
            if logs and max(logs) >= b:
                return
    raise AssertionError(f"Spark did not read batch {b}")


# --- the lab's pipelines, over the harness's columns ------------------------------------


def windowed_agg(
    delay_ms: int, size_ms: int, slide_ms: int, dedup: bool = True
) -> Callable[[dict[str, DataFrame]], DataFrame]:
    def build(frames: dict[str, DataFrame]) -> DataFrame:
        df = frames["events"].withWatermark("t", f"{delay_ms} milliseconds")
        if dedup:
            df = df.dropDuplicatesWithinWatermark(["event_id"])
        win = F.window("t", f"{size_ms} milliseconds", f"{slide_ms} milliseconds")
        return (
            df.groupBy(win.alias("w"), "event_type")
            .count()
            .select(
                F.unix_millis(F.col("w.start")).alias("start"),
                F.unix_millis(F.col("w.end")).alias("end"),
                "event_type",
                "count",
            )
        )

    return build


def dedup_pipeline(delay_ms: int) -> Callable[[dict[str, DataFrame]], DataFrame]:
    def build(frames: dict[str, DataFrame]) -> DataFrame:
        return (
            frames["events"]
            .withWatermark("t", f"{delay_ms} milliseconds")
            .dropDuplicatesWithinWatermark(["event_id"])
            .select("event_id", F.unix_millis("t").alias("t"))
        )

    return build


def join_pipeline(
    imp_delay_ms: int, click_delay_ms: int, upper_ms: int, outer: bool
) -> Callable[[dict[str, DataFrame]], DataFrame]:
    def build(frames: dict[str, DataFrame]) -> DataFrame:
        imps = (
            frames["impressions"]
            .withColumnRenamed("t", "impression_time")
            .withWatermark("impression_time", f"{imp_delay_ms} milliseconds")
        )
        clicks = (
            frames["clicks"]
            .withColumnRenamed("impression_id", "click_impression_id")
            .withColumnRenamed("t", "click_time")
            .withWatermark("click_time", f"{click_delay_ms} milliseconds")
        )
        cond = (
            (F.col("impression_id") == F.col("click_impression_id"))
            & (F.col("click_time") >= F.col("impression_time"))
            & (
                F.col("click_time")
                <= F.col("impression_time") + F.expr(f"interval {upper_ms} milliseconds")
            )
        )
        joined = imps.join(clicks, cond, "leftOuter" if outer else "inner")
        return joined.select("impression_id", "click_id")

    return build


# --- the model, reduced the same way -------------------------------------------------------


def events_rows(batches: Batches) -> Rows:
    return Rows.from_batches(
        [[(r["event_id"], r["t"], r["event_type"]) for r in rows] for rows in batches]
    )


def impression_rows(batches: Batches) -> Rows:
    return Rows.from_batches(
        [[(r["impression_id"], r["t"], r["impression_id"]) for r in rows] for rows in batches]
    )


def click_rows(batches: Batches) -> Rows:
    return Rows.from_batches(
        [[(r["impression_id"], r["t"], r["click_id"]) for r in rows] for rows in batches]
    )


def model_facts(sources: dict[str, Batches], config: ModelConfig) -> tuple[Facts, Result]:
    """Run the model and reduce its result like :func:`run_spark` reduces Spark's."""
    inputs: dict[str, Rows] = {}
    if "events" in sources:
        inputs["events"] = events_rows(sources["events"])
    if "impressions" in sources:
        n = max(len(b) for b in sources.values())
        inputs["impressions"] = impression_rows(_pad(sources["impressions"], n))
        inputs["clicks"] = click_rows(_pad(sources["clicks"], n))
    result = simulate(inputs, config)
    facts = Facts(watermarks=[b.eviction_watermark for b in result.batches])
    out: dict[int, list[tuple[Any, ...]]] = {}
    if result.aggregate is not None:
        for w in result.aggregate.windows:
            if w.emitted_batch is not None:
                out.setdefault(w.emitted_batch, []).append((w.start, w.end, w.group, w.count))
        c = result.aggregate.contributions
        dropped: list[set[tuple[int, object]]] = [set() for _ in result.batches]
        spark_of = {b.data_batch: b.batch for b in result.batches if b.data_batch is not None}
        events = inputs["events"]
        for row, start, gone in zip(
            c.row.tolist(), c.start.tolist(), c.dropped.tolist(), strict=True
        ):
            if gone:
                dropped[spark_of[int(events.batch[row])]].add((start, events.group[row]))
        facts.dropped["stateStoreSave"] = [len(s) for s in dropped]
    if result.dedup is not None:
        events = inputs["events"]
        spark_of = {b.data_batch: b.batch for b in result.batches if b.data_batch is not None}
        late = [0] * len(result.batches)
        for i in np.flatnonzero(result.dedup.outcome == LATE).tolist():
            late[spark_of[int(events.batch[i])]] += 1
        facts.dropped["dedupeWithinWatermark"] = late
    if result.aggregate is None and result.dedup is not None:
        events = inputs["events"]
        spark_of = {b.data_batch: b.batch for b in result.batches if b.data_batch is not None}
        for i in range(len(events)):
            if result.dedup.outcome[i] == KEPT:
                b = spark_of[int(events.batch[i])]
                out.setdefault(b, []).append((events.key[i], int(events.time_ms[i])))
    elif result.join is not None:
        imps, clicks = inputs["impressions"], inputs["clicks"]
        for i, j, b in result.join.pairs:
            out.setdefault(b, []).append((imps.key[i], clicks.group[j]))
        for i, b in result.join.null_rows:
            out.setdefault(b, []).append((imps.key[i], None))
        spark_of = {b.data_batch: b.batch for b in result.batches if b.data_batch is not None}
        late = [0] * len(result.batches)
        for rows, outcome in (
            (imps, result.join.left_outcome),
            (clicks, result.join.right_outcome),
        ):
            for i in np.flatnonzero(outcome == JOIN_LATE).tolist():
                late[spark_of[int(rows.batch[i])]] += 1
        facts.dropped["symmetricHashJoin"] = late
    facts.outputs = {b: sorted(rows, key=_sort_key) for b, rows in out.items()}
    return facts, result


def _pad(batches: Batches, n: int) -> list[Sequence[dict[str, Any]]]:
    return list(batches) + [[] for _ in range(n - len(batches))]


def _sort_key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((v is None, v) for v in row)


def policy_conf(policy: Policy) -> dict[str, str]:
    return {"spark.sql.streaming.multipleWatermarkPolicy": policy.value}

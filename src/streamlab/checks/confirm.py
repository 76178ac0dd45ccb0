"""Confirming the model with Spark: run the lab's tumbling query at one delay and compare.

``streamlab sweep --confirm 10m`` computes every delay through the model, then runs the real
query (the pipelines' own :func:`streamlab.pipelines.windows.tumbling_windows`, on the landed
batches one per micro-batch, AvailableNow) at the chosen delays in a scratch checkpoint, and
compares the windows Spark emitted with the ones the model says it emits.
"""

from __future__ import annotations

import shutil
import uuid
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from streamlab.checks.compare import first_difference, side_by_side
from streamlab.ingest.sources import read_source
from streamlab.lab.paths import LabPaths
from streamlab.model import Result
from streamlab.pipelines.config import PipelineConfig
from streamlab.pipelines.windows import tumbling_windows

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass(frozen=True)
class Confirmation:
    """Spark's windows against the model's, for one delay."""

    delay_ms: int
    spark_windows: int
    """Windows (per event type) Spark emitted."""
    model_windows: int
    """Windows (per event type) the model says are emitted."""
    matches: bool
    """Whether every window and its count agree."""
    difference: str
    """The first difference, or an empty string."""

    def to_dict(self) -> dict[str, Any]:
        """Return the confirmation as JSON-ready data."""
        return asdict(self)


def model_windows(result: Result) -> dict[tuple[int, str], int]:
    """Return the emitted windows of a model run: (start ms, event type) -> count."""
    agg = result.aggregate
    if agg is None:
        return {}
    return {(w.start, w.group): w.count for w in agg.windows if w.emitted_batch is not None}


def spark_windows(
    spark: SparkSession, paths: LabPaths, cfg: PipelineConfig
) -> dict[tuple[int, str], int]:
    """Run the lab's tumbling query with ``cfg`` in a scratch checkpoint; return its windows."""
    from pyspark.sql import functions as F

    scratch = paths.root / ".confirm" / uuid.uuid4().hex[:12]
    name = f"confirm_{scratch.name}"
    query = (
        tumbling_windows(read_source(spark, paths, "events"), cfg)
        .writeStream.format("memory")
        .queryName(name)
        .outputMode("append")
        .option("checkpointLocation", str(scratch))
        .trigger(availableNow=True)
        .start()
    )
    try:
        query.awaitTermination()
        rows = (
            spark.table(name)
            .select(F.unix_millis("window_start").alias("start"), "event_type", "event_count")
            .collect()
        )
    finally:
        query.stop()
        spark.catalog.dropTempView(name)
        shutil.rmtree(scratch, ignore_errors=True)
    return {(int(r["start"]), str(r["event_type"])): int(r["event_count"]) for r in rows}


def confirm(
    spark: SparkSession, paths: LabPaths, settings: PipelineConfig, result: Result
) -> Confirmation:
    """Compare Spark's emitted windows with ``settings`` with the model's ``result`` for them.

    ``result`` is the model run of :meth:`ModelConfig.from_settings` with the same settings.
    """
    expected = model_windows(result)
    got = spark_windows(spark, paths, settings)
    delay_ms = settings.watermark_delay_ms
    key = first_difference(got, expected)
    difference = (
        ""
        if key is None
        else side_by_side(
            f"window starting {key[0] // 1000}s ({key[1]})",
            got.get(key, "none"),
            expected.get(key, "none"),
        )
    )
    return Confirmation(delay_ms, len(got), len(expected), not difference, difference)

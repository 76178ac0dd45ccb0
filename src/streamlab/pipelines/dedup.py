"""Silver: events without their re-sent copies, one row per ``event_id`` within the watermark.

``dropDuplicatesWithinWatermark`` keeps the first occurrence of a key and forgets the key once
the watermark passes ``event_time + delay`` (Spark's ``StreamingDeduplicateWithinWatermarkExec``).
Rows behind the watermark are dropped before deduplication, so a late copy of an event is
counted as late, not as a duplicate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from streamlab.durations import spark_interval
from streamlab.pipelines.config import PipelineConfig

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

EVENT_COLUMNS = ("event_id", "user_id", "event_type", "value", "event_time", "processing_time")
"""The columns of an event, as the generator writes them."""


def timed_events(events: DataFrame) -> DataFrame:
    """Return the events whose ``event_time`` parsed; a watermark ignores the others anyway."""
    return events.where(F.col("event_time").isNotNull())


def watermarked_events(events: DataFrame, cfg: PipelineConfig) -> DataFrame:
    """Return the events with a parsed time, watermarked ``cfg.watermark_delay_ms`` behind."""
    return timed_events(events).withWatermark("event_time", spark_interval(cfg.watermark_delay_ms))


def deduplicate(events: DataFrame, cfg: PipelineConfig) -> DataFrame:
    """Return ``events`` watermarked and with one row per ``event_id`` within the watermark.

    >>> silver = deduplicate(read_source(spark, paths, "events"),
    ...                      PipelineConfig())  # doctest: +SKIP
    """
    deduped = watermarked_events(events, cfg).dropDuplicatesWithinWatermark(["event_id"])
    return deduped.select(*EVENT_COLUMNS)

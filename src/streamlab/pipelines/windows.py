"""Gold: per event type and event-time window, count, sum and average of value, distinct users.

Written in append mode, each window is emitted once, when the watermark passes its end, and
its state is removed then (semantics N2). ``countDistinct`` is not supported on streams, so
distinct users are the size of the window's set of users.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from streamlab.durations import spark_interval
from streamlab.pipelines.config import PipelineConfig
from streamlab.pipelines.dedup import deduplicate

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

WINDOW_COLUMNS = (
    "window_start",
    "window_end",
    "event_type",
    "event_count",
    "value_sum",
    "value_avg",
    "distinct_users",
)
"""The columns of ``events_tumbling`` and ``events_sliding``."""


def window_aggregates(deduped: DataFrame, size_ms: int, slide_ms: int | None = None) -> DataFrame:
    """Aggregate watermarked events per ``event_type`` and window of ``size_ms``.

    ``slide_ms`` shorter than the window gives sliding windows; ``None`` tumbling ones.

    >>> tumbling = window_aggregates(deduplicate(events, cfg), 300_000)  # doctest: +SKIP
    """
    slide = spark_interval(slide_ms) if slide_ms is not None and slide_ms != size_ms else None
    window = F.window(F.col("event_time"), spark_interval(size_ms), slide)
    grouped = deduped.groupBy(window.alias("window"), F.col("event_type"))
    aggregated = grouped.agg(
        # count first: the aggregation state stores its buffer first, which open_window_counts
        # in streamlab.run.late reads back.
        F.count(F.lit(1)).alias("event_count"),
        F.sum("value").alias("value_sum"),
        F.avg("value").alias("value_avg"),
        F.size(F.collect_set("user_id")).alias("distinct_users"),
    )
    start, end, *rest = WINDOW_COLUMNS
    return aggregated.select(
        F.col("window.start").alias(start), F.col("window.end").alias(end), *rest
    )


def tumbling_windows(events: DataFrame, cfg: PipelineConfig) -> DataFrame:
    """Deduplicate raw ``events`` and count them in tumbling windows of ``cfg.window_ms``."""
    return window_aggregates(deduplicate(events, cfg), cfg.window_ms)


def sliding_windows(events: DataFrame, cfg: PipelineConfig) -> DataFrame:
    """Deduplicate raw ``events`` and count them in sliding windows (size and slide of cfg)."""
    return window_aggregates(deduplicate(events, cfg), cfg.sliding_window_ms, cfg.slide_ms)

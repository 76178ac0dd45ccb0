"""Impressions joined with their clicks, and click-through rate per ad and window.

Both sides carry a watermark and the join a time range (the click 0 to ``click_window_ms``
after the impression), so Spark can evict join state and, for the left outer join, emit an
impression without a click once the watermark passes it (semantics J1, J2).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from streamlab.durations import spark_interval
from streamlab.pipelines.config import PipelineConfig

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

AD_CLICK_COLUMNS = (
    "impression_id",
    "ad_id",
    "user_id",
    "impression_time",
    "click_id",
    "click_time",
    "seconds_to_click",
)
"""The columns of ``ad_clicks``."""


def watermarked_impressions(impressions: DataFrame, cfg: PipelineConfig) -> DataFrame:
    """Return impressions with a parsed time, watermarked ``cfg.impressions_delay_ms`` behind."""
    timed = impressions.where(F.col("impression_time").isNotNull())
    return timed.withWatermark("impression_time", spark_interval(cfg.impressions_delay_ms))


def watermarked_clicks(clicks: DataFrame, cfg: PipelineConfig) -> DataFrame:
    """Return clicks with a parsed time and a watermark; their impression id is renamed.

    The rename keeps the joined rows free of two ``impression_id`` columns.
    """
    timed = clicks.where(F.col("click_time").isNotNull())
    renamed = timed.withColumnRenamed("impression_id", "click_impression_id")
    return renamed.withWatermark("click_time", spark_interval(cfg.clicks_delay_ms))


def click_condition(cfg: PipelineConfig) -> Column:
    """Return the join condition: same impression, click 0 to ``click_window_ms`` after it."""
    reach = F.expr(f"INTERVAL {spark_interval(cfg.click_window_ms)}")
    return (
        (F.col("click_impression_id") == F.col("impression_id"))
        & (F.col("click_time") >= F.col("impression_time"))
        & (F.col("click_time") <= F.col("impression_time") + reach)
    )


def ad_clicks(impressions: DataFrame, clicks: DataFrame, cfg: PipelineConfig) -> DataFrame:
    """Return every click joined with its impression (inner join, time-bounded).

    ``impressions`` and ``clicks`` are the sources as read, times parsed.

    >>> joined = ad_clicks(read_source(spark, paths, "impressions"),
    ...                    read_source(spark, paths, "clicks"), cfg)  # doctest: +SKIP
    """
    joined = watermarked_impressions(impressions, cfg).join(
        watermarked_clicks(clicks, cfg), click_condition(cfg), "inner"
    )
    *columns, delay = AD_CLICK_COLUMNS
    seconds = F.unix_timestamp("click_time") - F.unix_timestamp("impression_time")
    return joined.select(*columns, seconds.cast("long").alias(delay))


def ad_ctr(impressions: DataFrame, clicks: DataFrame, cfg: PipelineConfig) -> DataFrame:
    """Return click-through rate per ad and impression-time window of ``cfg.window_ms``.

    A left outer join keeps impressions without a click; Spark emits those only when the
    watermark passes them, and the window only once it is final (append mode).
    """
    joined = watermarked_impressions(impressions, cfg).join(
        watermarked_clicks(clicks, cfg), click_condition(cfg), "left_outer"
    )
    grouped = joined.groupBy(
        F.window("impression_time", spark_interval(cfg.window_ms)).alias("window"), "ad_id"
    )
    counted = grouped.agg(
        F.size(F.collect_set("impression_id")).alias("impressions"),
        # collect_set skips NULLs: only impressions that a click matched.
        F.size(F.collect_set("click_impression_id")).alias("clicked_impressions"),
        F.count("click_id").alias("clicks"),
    )
    return counted.select(
        F.col("window.start").alias("window_start"),
        F.col("window.end").alias("window_end"),
        "ad_id",
        "impressions",
        "clicked_impressions",
        "clicks",
        (F.col("clicked_impressions") / F.col("impressions")).alias("ctr"),
    )

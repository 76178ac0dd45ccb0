"""Estimate the distinct users per 5-minute window (a stream cannot count distinct exactly)."""

from pyspark.sql import functions as F


def solve(events):
    return (
        events.withWatermark("event_time", "10 minutes")
        .groupBy(F.window("event_time", "5 minutes"))
        .agg(F.approx_count_distinct("user_id").alias("users"))
    )

"""Keep only the 5-minute windows of an event type with at least 3 events."""

from pyspark.sql import functions as F


def solve(events):
    return (
        events.withWatermark("event_time", "10 minutes")
        .groupBy(F.window("event_time", "5 minutes"), "event_type")
        .agg(F.count("*").alias("events"))
        .where(F.col("events") >= 3)
    )

"""A moving average of value: 10-minute windows every 5 minutes, per event type."""

from pyspark.sql import functions as F


def solve(events):
    return (
        events.withWatermark("event_time", "10 minutes")
        .groupBy(F.window("event_time", "10 minutes", "5 minutes"), "event_type")
        .agg(F.avg("value").alias("avg_value"))
    )

"""Make the stalled watermark advance: 5-minute windows that are emitted within the lab."""

from pyspark.sql import functions as F


def solve(events):
    return (
        events.withWatermark("event_time", "10 minutes")
        .groupBy(F.window("event_time", "5 minutes"), "event_type")
        .agg(F.count("*").alias("events"))
    )

"""Count events per 10 minutes tumbling window and event type (10-minute watermark)."""

from pyspark.sql import functions as F


def solve(events):
    return (
        events.withWatermark("event_time", "10 minutes")
        .groupBy(F.window("event_time", "10 minutes"), "event_type")
        .agg(F.count("*").alias("events"))
    )

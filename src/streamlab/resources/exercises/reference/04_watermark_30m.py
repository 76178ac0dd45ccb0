"""Count events per 5-minute window, waiting 30 minutes for late events."""

from pyspark.sql import functions as F


def solve(events):
    return (
        events.withWatermark("event_time", "30 minutes")
        .groupBy(F.window("event_time", "5 minutes"))
        .agg(F.count("*").alias("events"))
    )

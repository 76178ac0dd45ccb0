"""Count events per hour-long window sliding every 30 minutes, updated every batch."""

from pyspark.sql import functions as F

OUTPUT_MODE = "update"


def solve(events):
    return (
        events.withWatermark("event_time", "10 minutes")
        .groupBy(F.window("event_time", "1 hour", "30 minutes"))
        .agg(F.count("*").alias("events"))
    )

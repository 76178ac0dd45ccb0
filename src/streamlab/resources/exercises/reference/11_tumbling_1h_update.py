"""Count events per hour, emitting each hour's updated count every batch."""

from pyspark.sql import functions as F

OUTPUT_MODE = "update"


def solve(events):
    return (
        events.withWatermark("event_time", "10 minutes")
        .groupBy(F.window("event_time", "1 hour"))
        .agg(F.count("*").alias("events"))
    )

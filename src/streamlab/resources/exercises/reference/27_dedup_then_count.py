"""Count each event once: deduplicate on event_id, then count per 5-minute window and type."""

from pyspark.sql import functions as F


def solve(events):
    return (
        events.withWatermark("event_time", "10 minutes")
        .dropDuplicatesWithinWatermark(["event_id"])
        .groupBy(F.window("event_time", "5 minutes"), "event_type")
        .agg(F.count("*").alias("events"))
    )

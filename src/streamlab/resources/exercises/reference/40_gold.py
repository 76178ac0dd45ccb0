"""Gold: events and total value per 5-minute window and type, from deduplicated events."""

from pyspark.sql import functions as F


def solve(events):
    return (
        events.select("event_id", "event_type", "value", "event_time")
        .withWatermark("event_time", "10 minutes")
        .dropDuplicatesWithinWatermark(["event_id"])
        .groupBy(F.window("event_time", "5 minutes"), "event_type")
        .agg(F.count("*").alias("events"), F.sum("value").alias("total_value"))
    )

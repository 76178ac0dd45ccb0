"""Count, total and average value per 5-minute window and event type."""

from pyspark.sql import functions as F


def solve(events):
    return (
        events.withWatermark("event_time", "10 minutes")
        .groupBy(F.window("event_time", "5 minutes"), "event_type")
        .agg(
            F.count("*").alias("events"),
            F.sum("value").alias("total_value"),
            F.avg("value").alias("avg_value"),
        )
    )

"""Count only purchases, per 10-minute window."""

from pyspark.sql import functions as F


def solve(events):
    return (
        events.where(F.col("event_type") == "purchase")
        .withWatermark("event_time", "10 minutes")
        .groupBy(F.window("event_time", "10 minutes"))
        .agg(F.count("*").alias("purchases"))
    )

"""Find the events that arrived more than 10 minutes after they happened."""

from pyspark.sql import functions as F


def solve(events):
    lateness = F.unix_timestamp("processing_time") - F.unix_timestamp("event_time")
    return events.select("event_id", "event_time", lateness.alias("lateness_seconds")).where(
        F.col("lateness_seconds") > 10 * 60
    )

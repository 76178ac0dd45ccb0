"""Bronze: the typed events with the day they happened on."""

from pyspark.sql import functions as F


def solve(events):
    return events.select(
        "event_id",
        "user_id",
        "event_type",
        "value",
        "event_time",
        F.to_date("event_time").alias("event_date"),
    )

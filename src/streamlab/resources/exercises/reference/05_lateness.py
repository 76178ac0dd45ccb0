"""Compute how late each event arrived: processing time minus event time, in seconds."""

from pyspark.sql import functions as F


def solve(events):
    return events.select(
        "event_id",
        "event_time",
        (F.unix_timestamp("processing_time") - F.unix_timestamp("event_time")).alias(
            "lateness_seconds"
        ),
    )

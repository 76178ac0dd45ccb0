"""Deduplicate on event_id and event_time with dropDuplicates, with a watermark to bound state."""


def solve(events):
    return events.withWatermark("event_time", "10 minutes").dropDuplicates(
        ["event_id", "event_time"]
    )

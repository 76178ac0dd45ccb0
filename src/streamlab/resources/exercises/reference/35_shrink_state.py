"""Shrink the deduplication's state: let the watermark expire what can no longer repeat."""


def solve(events):
    return events.withWatermark("event_time", "10 minutes").dropDuplicatesWithinWatermark(
        ["event_id"]
    )

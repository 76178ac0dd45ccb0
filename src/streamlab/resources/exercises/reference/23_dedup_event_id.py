"""Remove re-sent events: one row per event_id, within a 10-minute watermark."""


def solve(events):
    return events.withWatermark("event_time", "10 minutes").dropDuplicatesWithinWatermark(
        ["event_id"]
    )

"""Silver: each event once, deduplicated on event_id within a 10-minute watermark."""


def solve(events):
    return (
        events.select("event_id", "user_id", "event_type", "value", "event_time")
        .withWatermark("event_time", "10 minutes")
        .dropDuplicatesWithinWatermark(["event_id"])
    )

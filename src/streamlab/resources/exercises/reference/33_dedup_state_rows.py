"""How many rows does the 10-minute deduplication hold in state after the last batch?"""

from datetime import timedelta


def answer(events):
    # dropDuplicatesWithinWatermark keeps each first-seen event_id until the watermark passes
    # its event time plus the delay; late rows (behind the watermark) never enter state.
    delay = timedelta(minutes=10)
    watermark = None
    state = {}
    for batch in events:
        for e in batch:
            t = e["event_time"]
            if watermark is not None and t <= watermark:
                continue
            state.setdefault(e["event_id"], t + delay)
        latest = max((e["event_time"] for e in batch), default=None)
        if latest is not None:
            cand = latest - delay
            watermark = cand if watermark is None else max(watermark, cand)
        state = {k: exp for k, exp in state.items() if watermark is None or exp > watermark}
    return len(state)

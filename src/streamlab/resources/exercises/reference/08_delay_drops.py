"""How many events does a 5-minute delay drop from 5-minute windows?"""

from datetime import timedelta


def answer(events):
    # Each batch runs with the watermark left by the batches before it; an event at or behind
    # that watermark is dropped (Spark: eventTime <= watermark is late).
    delay = timedelta(minutes=5)
    watermark = None
    dropped = 0
    for batch in events:
        for e in batch:
            if watermark is not None and e["event_time"] <= watermark:
                dropped += 1
        latest = max((e["event_time"] for e in batch), default=None)
        if latest is not None:
            candidate = latest - delay
            watermark = candidate if watermark is None else max(watermark, candidate)
    return dropped

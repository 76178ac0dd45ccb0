"""How many events does a 5-minute delay drop from 5-minute windows?"""

from datetime import datetime, timedelta

EPOCH = datetime(1970, 1, 1)


def answer(events):
    # Each batch runs with the watermark the batches before it left. A window aggregation
    # drops an event when its window has already closed: the window's end is at or behind
    # that watermark (an event behind the watermark whose window is still open counts).
    delay = size = timedelta(minutes=5)
    watermark = None
    dropped = 0
    for batch in events:
        for e in batch:
            end = EPOCH + ((e["event_time"] - EPOCH) // size) * size + size
            if watermark is not None and end <= watermark:
                dropped += 1
        latest = max((e["event_time"] for e in batch), default=None)
        if latest is not None:
            candidate = latest - delay
            watermark = candidate if watermark is None else max(watermark, candidate)
    return dropped

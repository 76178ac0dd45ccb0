"""How many rows does the 10-minute/5-minute sliding count hold in state at the end?"""

from datetime import datetime, timedelta

EPOCH = datetime(1970, 1, 1)


def answer(events):
    size, slide, delay = (timedelta(minutes=m) for m in (10, 5, 10))
    watermark = None
    state = set()
    for batch in events:
        for e in batch:
            t = e["event_time"]
            start = EPOCH + ((t - EPOCH) // slide) * slide
            while start > t - size:
                if watermark is None or start + size > watermark:
                    state.add((start, e["event_type"]))
                start -= slide
        latest = max((e["event_time"] for e in batch), default=None)
        if latest is not None:
            cand = latest - delay
            watermark = cand if watermark is None else max(watermark, cand)
        state = {k for k in state if watermark is None or k[0] + size > watermark}
    return len(state)

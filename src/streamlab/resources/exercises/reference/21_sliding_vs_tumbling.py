"""How many more rows does 10-minute/5-minute sliding emit than 5-minute tumbling?"""

from datetime import datetime, timedelta

EPOCH = datetime(1970, 1, 1)


def _emitted(events, size, slide, delay):
    """Return the (window start, event type) rows an append-mode count emits, in order."""
    watermark = None
    state = set()
    emitted = []
    for batch in events:
        for e in batch:
            t = e["event_time"]
            # Every window holding t whose end the watermark has not passed; the others drop
            # the event (an event can be dropped from one sliding window and kept in another).
            start = EPOCH + ((t - EPOCH) // slide) * slide
            while start > t - size:
                if watermark is None or start + size > watermark:
                    state.add((start, e["event_type"]))
                start -= slide
        latest = max((e["event_time"] for e in batch), default=None)
        if latest is not None:
            cand = latest - delay
            watermark = cand if watermark is None else max(watermark, cand)
        done = sorted(k for k in state if watermark is not None and k[0] + size <= watermark)
        emitted.extend(done)
        state -= set(done)
    return emitted


def answer(events):
    minutes = timedelta(minutes=1)
    sliding = _emitted(events, 10 * minutes, 5 * minutes, 10 * minutes)
    tumbling = _emitted(events, 5 * minutes, 5 * minutes, 10 * minutes)
    return len(sliding) - len(tumbling)

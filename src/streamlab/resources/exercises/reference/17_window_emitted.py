"""After which landed batch is the first event's 5-minute window emitted (append mode)?"""

from datetime import datetime, timedelta


def answer(events):
    first = events[0][0]["event_time"]
    # The 5-minute window holding the first event: windows start on multiples of 5 minutes.
    epoch = datetime(1970, 1, 1)
    size = timedelta(minutes=5)
    start = epoch + ((first - epoch) // size) * size
    end = start + size
    latest = None
    for number, batch in enumerate(events):
        for e in batch:
            latest = e["event_time"] if latest is None else max(latest, e["event_time"])
        # After the batch, the watermark moves to latest - 10 minutes; the window is final
        # (and emitted, in the no-data batch that follows) once the watermark reaches its end.
        if latest is not None and latest - timedelta(minutes=10) >= end:
            return number
    return None

"""Predict the watermark the 10-minute query runs its next batch with."""

from datetime import timedelta


def answer(events):
    # The watermark is the largest event time seen so far, minus the delay; it never moves
    # back. Late events count towards the maximum too (they only lower nothing).
    latest = max(e["event_time"] for batch in events for e in batch)
    return latest - timedelta(minutes=10)

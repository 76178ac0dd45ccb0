"""Exercise 22 (slide-state): what the slide costs in state.

How many rows does the 10-minute/5-minute sliding count per event_type (10-minute watermark)
hold in state after the last landed batch? Compare with the tumbling count: each event keeps
size / slide windows open.

Return an int.

Check it with: streamlab exercises check 22
"""

from datetime import datetime, timedelta


def answer(events):
    # TODO: compute it.
    raise NotImplementedError("exercise 22: write your answer()")

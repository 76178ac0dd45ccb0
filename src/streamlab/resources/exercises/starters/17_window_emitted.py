"""Exercise 17 (window-emitted): append mode: when a window is final.

A query counts events per 5-minute tumbling window with a 10-minute watermark, in append
mode. After which landed batch (0 for the first) is the window holding the very first event
of batch 0 emitted? Return None if it is not emitted within the lab.

Return an int (the landed batch) or None.

Check it with: streamlab exercises check 17
"""

from datetime import datetime, timedelta


def answer(events):
    # TODO: compute it.
    raise NotImplementedError("exercise 17: write your answer()")

"""Exercise 21 (sliding-vs-tumbling): tumbling against sliding.

On the same events, a 10-minute/5-minute sliding count per event_type and a 5-minute
tumbling count per event_type (both with a 10-minute watermark, append mode) run over every
landed batch. How many more rows does the sliding one emit?

Return an int.

Check it with: streamlab exercises check 21
"""

from datetime import datetime, timedelta


def answer(events):
    # TODO: compute it.
    raise NotImplementedError("exercise 21: write your answer()")

"""Exercise 15 (purchases-per-window): filtering before windowing.

Count only the purchases (event_type 'purchase') per 10-minute tumbling window, with a
10-minute watermark, in append mode.

Return a streaming DataFrame of window, purchases.

Check it with: streamlab exercises check 15
"""

from pyspark.sql import functions as F


def solve(events):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 15: write your solve()")

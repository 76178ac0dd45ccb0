"""Exercise 13 (window-bounds): window start and end.

Count events per 5-minute window (10-minute watermark, append mode) and return the window's
start and end as two plain timestamp columns instead of the window struct.

Return a streaming DataFrame of window_start, window_end, events.

Check it with: streamlab exercises check 13
"""

from pyspark.sql import functions as F


def solve(events):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 13: write your solve()")

"""Exercise 14 (busy-windows): filtering windows.

Count events per 5-minute window and event_type (10-minute watermark, append mode) and keep
only the windows with at least 3 events.

Return a streaming DataFrame of window, event_type, events.

Check it with: streamlab exercises check 14
"""

from pyspark.sql import functions as F


def solve(events):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 14: write your solve()")

"""Exercise 18 (sliding-10m-5m): 10-minute windows every 5 minutes.

Count events per 10-minute window sliding every 5 minutes, and event_type (10-minute
watermark, append mode). Each event falls into two windows.

Return a streaming DataFrame of window, event_type, events.

Check it with: streamlab exercises check 18
"""

from pyspark.sql import functions as F


def solve(events):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 18: write your solve()")

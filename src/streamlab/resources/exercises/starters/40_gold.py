"""Exercise 40 (gold): gold: windows over the silver events.

The last table: per 5-minute window and event_type, the number of events and their total
value, counted from deduplicated events (10-minute watermark, append mode).

Return a streaming DataFrame of window, event_type, events, total_value.

Check it with: streamlab exercises check 40
"""

from pyspark.sql import functions as F


def solve(events):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 40: write your solve()")

"""Exercise 9 (tumbling-5m): 5-minute tumbling windows.

Count events per 5-minute tumbling window and event_type, with a 10-minute watermark delay,
in append mode.

Return a streaming DataFrame of window, event_type, events.

Check it with: streamlab exercises check 9
"""

from pyspark.sql import functions as F


def solve(events):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 9: write your solve()")

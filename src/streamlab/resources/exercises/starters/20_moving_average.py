"""Exercise 20 (moving-average): a moving average.

Compute the moving average of value per event_type: 10-minute windows sliding every 5
minutes, 10-minute watermark, append mode.

Return a streaming DataFrame of window, event_type, avg_value.

Check it with: streamlab exercises check 20
"""

from pyspark.sql import functions as F


def solve(events):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 20: write your solve()")

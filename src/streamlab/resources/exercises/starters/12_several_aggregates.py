"""Exercise 12 (several-aggregates): several aggregates in one window.

Per 5-minute window and event_type (10-minute watermark, append mode), compute the number of
events, the total value and the average value.

Return a streaming DataFrame of window, event_type, events, total_value, avg_value.

Check it with: streamlab exercises check 12
"""

from pyspark.sql import functions as F


def solve(events):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 12: write your solve()")

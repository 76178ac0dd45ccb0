"""Exercise 16 (distinct-users): distinct counts on a stream.

Estimate the number of distinct users per 5-minute window (10-minute watermark, append
mode). Spark refuses exact distinct counts on a stream.

Return a streaming DataFrame of window, users.

Check it with: streamlab exercises check 16
"""

from pyspark.sql import functions as F


def solve(events):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 16: write your solve()")

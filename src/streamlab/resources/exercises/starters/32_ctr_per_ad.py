"""Exercise 32 (ctr-per-ad): click-through rate per ad and window.

Per ad and 10-minute window of impression_time: the impressions, the clicks, and the click-
through rate clicks / impressions rounded to 4 decimals. Use exercise 29's left outer join,
so that impressions without a click count; append mode.

Return a streaming DataFrame of window, ad_id, impressions, clicks, ctr.

Check it with: streamlab exercises check 32
"""

from pyspark.sql import functions as F


def solve(impressions, clicks):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 32: write your solve()")

"""Exercise 28 (join-inner): both watermarks and the 0-10 minute click window.

Join each click to its impression (impression_id). Watermark both inputs by 10 minutes, and
accept a click only 0 to 10 minutes after its impression, so that Spark can drop old rows
from the join's state. Rename clicks' impression_id to click_impression_id to keep the
columns apart.

Return a streaming DataFrame of the impression's columns and the click's (click_id,
click_impression_id, click_time).

Check it with: streamlab exercises check 28
"""

from pyspark.sql import functions as F


def solve(impressions, clicks):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 28: write your solve()")

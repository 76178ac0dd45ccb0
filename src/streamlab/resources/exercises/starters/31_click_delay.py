"""Exercise 31 (click-delay): time between impression and click.

Join clicks to impressions as in exercise 28 and return, per click, its ad and how many
seconds after the impression it came.

Return a streaming DataFrame of ad_id, click_id, delay_seconds.

Check it with: streamlab exercises check 31
"""

from pyspark.sql import functions as F


def solve(impressions, clicks):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 31: write your solve()")

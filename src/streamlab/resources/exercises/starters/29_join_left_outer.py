"""Exercise 29 (join-left-outer): the left outer join and its NULL rows.

As exercise 28, but keep every impression: a left outer join. An impression without a click
appears once, with NULL click columns, when the watermark has passed the end of its click
window.

Return a streaming DataFrame like exercise 28's.

Check it with: streamlab exercises check 29
"""

from pyspark.sql import functions as F


def solve(impressions, clicks):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 29: write your solve()")

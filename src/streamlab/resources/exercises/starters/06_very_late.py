"""Exercise 6 (very-late): events more than 10 minutes late.

Keep only the events that arrived more than 10 minutes (600 seconds) after they happened,
with their lateness in seconds. These are the events a 10-minute watermark is most likely to
drop.

Return a streaming DataFrame of event_id, event_time, lateness_seconds.

Check it with: streamlab exercises check 6
"""

from pyspark.sql import functions as F


def solve(events):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 6: write your solve()")

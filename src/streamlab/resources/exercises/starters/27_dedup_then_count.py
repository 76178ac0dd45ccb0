"""Exercise 27 (dedup-then-count): count each event once.

Count events per 5-minute window and event_type (10-minute watermark, append mode), counting
a re-sent event once: deduplicate on event_id within the watermark first.

Return a streaming DataFrame of window, event_type, events.

Check it with: streamlab exercises check 27
"""

from pyspark.sql import functions as F


def solve(events):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 27: write your solve()")

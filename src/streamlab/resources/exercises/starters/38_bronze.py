"""Exercise 38 (bronze): bronze: typed events.

The pipeline's first table: every event with event_id, user_id, event_type, value,
event_time, and event_date, the UTC day it happened on (late events from before midnight
belong to the day before).

Return a streaming DataFrame of event_id, user_id, event_type, value, event_time,
event_date.

Check it with: streamlab exercises check 38
"""

from pyspark.sql import functions as F


def solve(events):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 38: write your solve()")

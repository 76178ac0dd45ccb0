"""Exercise 5 (lateness): each event's lateness.

For every event, compute how late it arrived: its processing_time minus its event_time, in
whole seconds. The lab makes about 10% of events 5 to 30 minutes late.

Return a streaming DataFrame of event_id, event_time, lateness_seconds.

Check it with: streamlab exercises check 5
"""

from pyspark.sql import functions as F


def solve(events):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 5: write your solve()")

"""Exercise 39 (silver): silver: each event once.

The second table: bronze's columns without event_date, each event once
(dropDuplicatesWithinWatermark on event_id, 10-minute watermark).

Return a streaming DataFrame of event_id, user_id, event_type, value, event_time.

Check it with: streamlab exercises check 39
"""


def solve(events):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 39: write your solve()")

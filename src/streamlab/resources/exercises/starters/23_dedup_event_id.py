"""Exercise 23 (dedup-event-id): deduplication within the watermark.

About 5% of the lab's events are re-sent with the same event_id. Keep each event once:
dropDuplicatesWithinWatermark on event_id, with a 10-minute watermark.

Return a streaming DataFrame with the events' columns.

Check it with: streamlab exercises check 23
"""


def solve(events):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 23: write your solve()")

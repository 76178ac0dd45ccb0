"""Exercise 35 (shrink-state): shrinking state that grows.

The starter deduplicates with dropDuplicates(['event_id']) and no watermark: Spark keeps
every event_id for ever. Make the state expire: a 10-minute watermark and
dropDuplicatesWithinWatermark. The check compares the rows held in state too.

Return a streaming DataFrame with the events' columns.

Check it with: streamlab exercises check 35
"""


def solve(events):
    return events.dropDuplicates(["event_id"])

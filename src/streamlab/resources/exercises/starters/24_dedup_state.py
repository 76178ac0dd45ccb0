"""Exercise 24 (dedup-state): deduplication state with and without a watermark.

Deduplicate with dropDuplicates(['event_id', 'event_time']). With a watermark (10 minutes)
on event_time, Spark can forget an event once the watermark passes it; without one, state
grows for ever. Add the watermark.

Return a streaming DataFrame with the events' columns.

Check it with: streamlab exercises check 24
"""


def solve(events):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 24: write your solve()")

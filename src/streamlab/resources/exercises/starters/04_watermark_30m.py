"""Exercise 4 (watermark-30m): a 30-minute watermark delay.

Count all events per 5-minute tumbling window of event_time, in append mode, with a
watermark delay of 30 minutes. Each window is emitted once, when the watermark passes its
end; an event whose window the watermark has already passed when its batch runs is dropped.
Compare with the other delays: which events does 30 minutes drop, and how late is each
window emitted?

Return a streaming DataFrame of window and events (the count).

Check it with: streamlab exercises check 4
"""

from pyspark.sql import functions as F


def solve(events):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 4: write your solve()")

"""Exercise 2 (watermark-5m): a 5-minute watermark delay.

Count all events per 5-minute tumbling window of event_time, in append mode, with a
watermark delay of 5 minutes. Each window is emitted once, when the watermark passes its
end; an event whose window the watermark has already passed when its batch runs is dropped.
Compare with the other delays: which events does 5 minutes drop, and how late is each window
emitted?

Return a streaming DataFrame of window and events (the count).

Check it with: streamlab exercises check 2
"""

from pyspark.sql import functions as F


def solve(events):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 2: write your solve()")

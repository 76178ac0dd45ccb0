"""Exercise 1 (read-events): reading a stream with a schema.

Read the lab's events as a stream. A streaming file source refuses to start without a
schema: pass the lab's (lab.schema('events')). Read one file per micro-batch
(maxFilesPerTrigger 1) from lab.events, and parse event_time, which lands as text 'yyyy-MM-
dd HH:mm:ss', into a timestamp without failing on a bad value.

Return a streaming DataFrame of event_id, event_type, value, event_time (a timestamp).

Check it with: streamlab exercises check 1
"""

from pyspark.sql import functions as F


def solve(spark, lab):
    # TODO: build and return the streaming DataFrame.
    raise NotImplementedError("exercise 1: write your solve()")

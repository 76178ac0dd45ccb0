"""Exercise 8 (delay-drops): what a 5-minute delay drops.

A query counts events per 5-minute window with a 5-minute watermark delay. How many of the
landed events does it drop as late? Each batch runs with the watermark the batches before it
left; an event whose window ends at or before it is dropped.

Return an int.

Check it with: streamlab exercises check 8
"""

from datetime import datetime, timedelta


def answer(events):
    # TODO: compute it.
    raise NotImplementedError("exercise 8: write your answer()")

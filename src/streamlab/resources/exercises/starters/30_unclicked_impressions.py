"""Exercise 30 (unclicked-impressions): when the NULL rows appear.

In exercise 29's left outer join (both watermarks 10 minutes, 0-10 minute click window), how
many impressions have got their NULL row by the end of the lab? Each landed batch is
impressions first, then clicks.

Return an int.

Check it with: streamlab exercises check 30
"""

from datetime import timedelta


def answer(impressions, clicks):
    # TODO: compute it.
    raise NotImplementedError("exercise 30: write your answer()")

"""Exercise 25 (duplicate-rate): the duplicate rate.

What share of all landed events (rows) are re-sent copies of an event already sent? Round to
4 decimals.

Return a float.

Check it with: streamlab exercises check 25
"""


def answer(events):
    # TODO: compute it.
    raise NotImplementedError("exercise 25: write your answer()")

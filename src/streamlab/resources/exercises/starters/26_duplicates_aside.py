"""Exercise 26 (duplicates-aside): setting the duplicates aside.

Which event_ids were sent more than once? Return them sorted: the rows a deduplication
removes, set aside for inspection.

Return a sorted list of event_id strings.

Check it with: streamlab exercises check 26
"""

from collections import Counter


def answer(events):
    # TODO: compute it.
    raise NotImplementedError("exercise 26: write your answer()")

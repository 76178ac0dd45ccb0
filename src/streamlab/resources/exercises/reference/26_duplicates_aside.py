"""Which event ids were sent more than once? Set them aside, sorted."""

from collections import Counter


def answer(events):
    seen = Counter(e["event_id"] for batch in events for e in batch)
    return sorted(k for k, n in seen.items() if n > 1)

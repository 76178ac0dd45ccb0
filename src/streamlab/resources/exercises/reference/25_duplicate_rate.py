"""What share of the landed events are re-sent copies?"""


def answer(events):
    rows = [e for batch in events for e in batch]
    distinct = {e["event_id"] for e in rows}
    return round((len(rows) - len(distinct)) / len(rows), 4)

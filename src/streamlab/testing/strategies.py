"""Hypothesis strategies for property tests of streaming queries.

``event_batches(...)`` draws a list of micro-batches of events: on-time events that move
event time forward batch by batch, a share of late events, re-sent duplicates, events out of
order within a batch, empty batches, an input that goes idle, and a clock that runs ahead or
behind. Every draw is built from small integers, so a failure shrinks to a short batch list
of few rows that can be pasted into a test as ``AddData`` steps (:func:`add_steps`).

>>> from hypothesis import given
>>> @given(event_batches(max_batches=3))
... def test_job(batches): ...
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from streamlab.testing.steps import AddData

Batches = list[list[dict[str, Any]]]
"""One list of rows (dicts by column) per micro-batch."""

_START = datetime(2026, 1, 1)


@st.composite
def _batches(
    draw: st.DrawFn,
    *,
    start: datetime,
    batch_span: timedelta,
    min_batches: int,
    max_batches: int,
    max_rows: int,
    late_share: float,
    lateness: tuple[timedelta, timedelta],
    duplicate_share: float,
    out_of_order: bool,
    empty_batches: bool,
    idle_tail: bool,
    clock_skew: timedelta,
    keys: Sequence[str],
) -> Batches:
    span_ms = int(batch_span.total_seconds() * 1000)
    late_lo = int(lateness[0].total_seconds() * 1000)
    late_hi = int(lateness[1].total_seconds() * 1000)
    skew_ms = int(clock_skew.total_seconds() * 1000)
    n = draw(st.integers(min_batches, max_batches), label="batches")
    idle_from = draw(st.integers(1, n), label="idle from") if idle_tail and n > 1 else n
    seen: list[dict[str, Any]] = []
    out: Batches = []
    counter = 0
    for b in range(n):
        if b >= idle_from or (empty_batches and draw(st.integers(0, 5), label="empty") == 0):
            out.append([])
            continue
        rows: list[dict[str, Any]] = []
        # Skew moves a whole batch's clock (a producer whose clock runs ahead or behind).
        skew = draw(st.integers(-skew_ms, skew_ms), label="skew") if skew_ms else 0
        for _ in range(draw(st.integers(0, max_rows), label="rows")):
            if seen and draw(st.integers(0, 99), label="duplicate?") < duplicate_share * 100:
                rows.append(dict(draw(st.sampled_from(seen), label="duplicate of")))
                continue
            offset = draw(st.integers(0, span_ms - 1), label="offset") if span_ms > 1 else 0
            t = b * span_ms + offset + skew
            if draw(st.integers(0, 99), label="late?") < late_share * 100:
                t -= draw(st.integers(late_lo, late_hi), label="lateness")
            counter += 1
            row = {
                "id": f"e{counter}",
                "event_time": start + timedelta(milliseconds=max(t, 0)),
                "key": draw(st.sampled_from(list(keys)), label="key"),
            }
            seen.append(row)
            rows.append(row)
        if out_of_order and len(rows) > 1:
            rows = draw(st.permutations(rows), label="order")
        out.append(rows)
    return out


def event_batches(
    *,
    start: datetime = _START,
    batch_span: timedelta = timedelta(seconds=10),
    min_batches: int = 1,
    max_batches: int = 5,
    max_rows: int = 5,
    late_share: float = 0.2,
    lateness: tuple[timedelta, timedelta] = (timedelta(seconds=1), timedelta(seconds=30)),
    duplicate_share: float = 0.1,
    out_of_order: bool = True,
    empty_batches: bool = True,
    idle_tail: bool = False,
    clock_skew: timedelta = timedelta(0),
    keys: Sequence[str] = ("a", "b"),
) -> st.SearchStrategy[Batches]:
    """Draw micro-batches of events with columns ``id``, ``event_time`` and ``key``.

    Args:
        start: event time of the first batch's on-time events.
        batch_span: how far on-time event time moves per batch.
        min_batches: the fewest batches.
        max_batches: the most batches.
        max_rows: the most rows per batch.
        late_share: the share of events placed behind their batch by ``lateness``.
        lateness: how far behind (smallest, largest) a late event is.
        duplicate_share: the share of rows that re-send an earlier row (same id and time).
        out_of_order: shuffle the rows within each batch.
        empty_batches: sometimes draw a batch with no rows.
        idle_tail: the input may go idle: every batch from a drawn one on is empty.
        clock_skew: each batch's clock may run up to this far ahead or behind.
        keys: the values of ``key``.

    The schema of the rows is :data:`SCHEMA`. ``add_steps(batches)`` turns a draw into steps.

    """
    return _batches(
        start=start,
        batch_span=batch_span,
        min_batches=min_batches,
        max_batches=max_batches,
        max_rows=max_rows,
        late_share=late_share,
        lateness=lateness,
        duplicate_share=duplicate_share,
        out_of_order=out_of_order,
        empty_batches=empty_batches,
        idle_tail=idle_tail,
        clock_skew=clock_skew,
        keys=keys,
    )


SCHEMA = "id string, event_time timestamp, key string"
"""The schema of the rows :func:`event_batches` draws."""


def add_steps(batches: Batches, to: str | None = None) -> list[AddData]:
    """Return one ``AddData`` per batch (to input ``to``).

    >>> add_steps([[{"id": "e1"}], []])
    [AddData(rows=[{'id': 'e1'}], to=None), AddData(rows=[], to=None)]
    """
    return [AddData(rows, to=to) for rows in batches]

"""Hypothesis strategies for the differential tests: scenarios of landed batches.

An aggregation scenario is event batches plus a delay, a window and a trigger; a join scenario
is impression and click batches plus both delays and the time range. Times are small whole
units of ``S`` (one second) so that shrinking ends on readable cases.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from streamlab.model import Trigger

S = 1000
_counter = itertools.count()


@dataclass(frozen=True)
class AggScenario:
    batches: list[list[dict[str, Any]]]
    delay_ms: int
    size_ms: int
    slide_ms: int
    trigger: Trigger
    dedup: bool = True


@st.composite
def event_batches(
    draw: st.DrawFn, max_batches: int = 4, max_rows: int = 6
) -> list[list[dict[str, Any]]]:
    """Batches of events: whole seconds or milliseconds, some re-sent (same id, time, type)."""
    unit = draw(st.sampled_from([S, S, 1]))
    top = 40 * S // unit
    n = draw(st.integers(1, max_batches))
    seen: list[dict[str, Any]] = []
    batches: list[list[dict[str, Any]]] = []
    for _ in range(n):
        rows: list[dict[str, Any]] = []
        for _ in range(draw(st.integers(0, max_rows))):
            if seen and draw(st.integers(0, 5)) == 0:
                rows.append(dict(draw(st.sampled_from(seen))))
                continue
            row = {
                "event_id": f"e{next(_counter)}",
                "event_type": draw(st.sampled_from("abc")),
                "t": draw(st.integers(1, top)) * unit,
            }
            seen.append(row)
            rows.append(row)
        batches.append(rows)
    return batches


@st.composite
def agg_scenarios(draw: st.DrawFn) -> AggScenario:
    size = draw(st.integers(1, 10)) * S
    slide = draw(st.sampled_from([size, size, draw(st.integers(1, size // S)) * S]))
    return AggScenario(
        batches=draw(event_batches()),
        delay_ms=draw(st.sampled_from([0, 1, 2, 3, 5, 8, 10, 15])) * S
        + draw(st.sampled_from([0, 0, 0, 1, 500])),
        size_ms=size,
        slide_ms=slide,
        trigger=draw(st.sampled_from(list(Trigger))),
        dedup=draw(st.sampled_from([True, True, False])),
    )


@dataclass(frozen=True)
class JoinScenario:
    impressions: list[list[dict[str, Any]]]
    clicks: list[list[dict[str, Any]]]
    imp_delay_ms: int
    click_delay_ms: int
    upper_ms: int
    outer: bool
    trigger: Trigger


@st.composite
def join_scenarios(draw: st.DrawFn) -> JoinScenario:
    unit = draw(st.sampled_from([S, S, 1]))
    n = draw(st.integers(1, 4))
    upper = draw(st.sampled_from([5, 10])) * S
    imps: list[list[dict[str, Any]]] = []
    clicks: list[list[dict[str, Any]]] = []
    known: list[dict[str, Any]] = []
    for _ in range(n):
        batch = []
        for _ in range(draw(st.integers(0, 5))):
            row = {
                "impression_id": f"i{next(_counter)}",
                "t": draw(st.integers(1, 40 * S // unit)) * unit,
            }
            known.append(row)
            batch.append(row)
        imps.append(batch)
    click_batches = draw(st.integers(0, n))  # fewer click batches: an idle input at the end
    for _ in range(click_batches):
        batch = []
        for _ in range(draw(st.integers(0, 4))):
            if known and draw(st.booleans()):
                imp = draw(st.sampled_from(known))
                offset = draw(st.integers(-2 * S // unit, (upper + 2 * S) // unit)) * unit
                target, t = imp["impression_id"], max(1, imp["t"] + offset)
            else:
                target, t = f"orphan{next(_counter)}", draw(st.integers(1, 40 * S // unit)) * unit
            batch.append({"click_id": f"c{next(_counter)}", "impression_id": target, "t": t})
        clicks.append(batch)
    return JoinScenario(
        impressions=imps,
        clicks=clicks,
        imp_delay_ms=draw(st.sampled_from([0, 2, 5, 10])) * S,
        click_delay_ms=draw(st.sampled_from([0, 2, 5, 10])) * S,
        upper_ms=upper,
        outer=draw(st.booleans()),
        trigger=draw(st.sampled_from(list(Trigger))),
    )

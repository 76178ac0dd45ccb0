"""Hypothesis strategies for chained operators: the ctr query's impressions, clicks and window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tests.support.strategies import JoinScenario, S, join_scenarios


@dataclass(frozen=True)
class CtrScenario:
    join: JoinScenario
    """Impressions (each with an ad), clicks, both delays, the click range and the trigger."""
    window_ms: int


@st.composite
def ctr_scenarios(draw: st.DrawFn) -> CtrScenario:
    """A join scenario whose impressions carry an ad, with a window of 2 to 15 seconds."""
    sc = draw(join_scenarios())
    ads: list[list[dict[str, Any]]] = [
        [{**r, "ad_id": draw(st.sampled_from(["a1", "a2"]))} for r in batch]
        for batch in sc.impressions
    ]
    clicks = list(sc.clicks)
    if draw(st.integers(0, 3)) > 0:
        # A last batch far ahead on both inputs moves every watermark past the earlier
        # windows, so most scenarios close windows (and evict unmatched impressions).
        far = draw(st.integers(45, 90)) * S
        clicks += [[] for _ in range(len(ads) - len(clicks))]
        ads.append([{"impression_id": f"far{far}", "t": far, "ad_id": "a1"}])
        clicks.append([{"click_id": f"farc{far}", "impression_id": "none", "t": far}])
    return CtrScenario(
        JoinScenario(
            ads,
            clicks,
            sc.imp_delay_ms,
            sc.click_delay_ms,
            sc.upper_ms,
            True,
            sc.trigger,
        ),
        window_ms=draw(st.sampled_from([2, 5, 10, 15])) * S,
    )

"""Windowed counts: late contributions per window, emission batch, state size."""

from __future__ import annotations

from collections import Counter

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from streamlab.model import ModelConfig, Rows, Trigger, WindowSpec, simulate
from streamlab.model.aggregate import _pairs

S = 1000


def run(batches, delay=10 * S, size=5 * S, slide=None, trigger=Trigger.AVAILABLE_NOW, dedup=True):  # type: ignore[no-untyped-def]
    rows = Rows.from_batches([[(i, t, k) for i, t, k in b] for b in batches])
    cfg = ModelConfig(
        delay_ms=delay, window=WindowSpec(size, slide or size), trigger=trigger, deduplicate=dedup
    )
    return simulate({"events": rows}, cfg)


def test_guide_example_depends_on_the_trigger() -> None:
    batches = [
        [(f"s{i}", (10 + i) * S, "a") for i in range(6)],
        [("x", 25 * S, "a")],
        [("late", 10 * S, "a")],
    ]
    now = run(batches)
    live = run(batches, trigger=Trigger.PROCESSING_TIME)
    counts = {(w.start, w.emitted_batch): w.count for w in now.aggregate.windows}
    # AvailableNow: batch 2 filters with the watermark of batch 0 (0), so the late 10 s still
    # counts in [10 s, 15 s), which batch 2 emits with 6 rows.
    assert counts[(10 * S, 2)] == 6
    # Live: a no-data batch after batch 1 moves the late watermark to 15 s; the late 10 s is at
    # or behind it and is dropped; [10 s, 15 s) was emitted by that no-data batch with 5.
    live_counts = {(w.start, w.emitted_batch): w.count for w in live.aggregate.windows}
    assert live_counts[(10 * S, 3)] == 5
    assert live.dedup.outcome[-1] == 1  # LATE


def test_window_end_at_the_late_watermark_is_dropped() -> None:
    # Watermark 20 s from batch 1 on; in batch 2, 19.999 s belongs to [15 s, 20 s), whose end
    # equals the late watermark: its contribution is dropped. No dedup, so only the window test.
    out = run(
        [[("a", 30 * S, "x")], [], [("edge", 20 * S - 1, "x"), ("ok", 20 * S, "x")]], dedup=False
    )
    c = out.aggregate.contributions
    assert c.dropped.tolist() == [False, True, False]
    assert [w.start for w in out.aggregate.windows] == [20 * S, 30 * S]


def test_one_row_counted_in_one_sliding_window_and_dropped_from_another() -> None:
    # 7 s windows every 3 s, watermark 14 s (19 s - 5 s). 12 s arrives in batch 2 and misses
    # [6 s, 13 s) (ended at or before 14 s) but counts in [9 s, 16 s) and [12 s, 19 s).
    out = run(
        [[("a", 19 * S, "x")], [], [("b", 12 * S, "x")]],
        delay=5 * S,
        size=7 * S,
        slide=3 * S,
        dedup=False,
    )
    c = out.aggregate.contributions
    mine = {
        s: d
        for r, s, d in zip(c.row.tolist(), c.start.tolist(), c.dropped.tolist(), strict=True)
        if r == 1
    }
    assert mine == {6 * S: True, 9 * S: False, 12 * S: False}


def test_state_rows_count_open_windows() -> None:
    out = run([[("a", 10 * S, "x"), ("b", 11 * S, "y")], [("c", 40 * S, "x")]], delay=0)
    # Batch 0: 2 dedup keys + 2 windows. Batch 1 evicts with 11 s: both keys expire (10 s and
    # 11 s), c's key arrives; windows [10 s, 15 s) x and y stay, [40 s, 45 s) x opens: 1 + 3.
    # The closing no-data batch evicts with 40 s: c's key and both [10 s, 15 s) windows go.
    assert out.state_rows.tolist() == [2 + 2, 1 + 3, 0 + 1]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 12), st.integers(0, 3)), min_size=1, max_size=40),
    st.sampled_from([1, 7, 5 * S]),
    st.integers(-3, 3),
    st.sampled_from([1, 10**9]),
)
def test_window_pairs_counted_in_a_table_or_sorted_are_numbered_alike(
    cells: list[tuple[int, int]], slide: int, offset: int, spread: int
) -> None:
    # A spread of 10**9 slides makes the table too large: the pairs are sorted instead.
    spec = WindowSpec(slide, slide)
    starts = np.array([offset + slot * spread * slide for slot, _ in cells], dtype=np.int64)
    codes = np.array([code for _, code in cells], dtype=np.int64)
    start, name, count, pair_of = _pairs(starts, codes, spec)
    want = Counter(zip(starts.tolist(), codes.tolist(), strict=True))
    ordered = sorted(want)
    assert list(zip(start.tolist(), name.tolist(), strict=True)) == ordered
    assert count.tolist() == [want[p] for p in ordered]
    rows = zip(starts.tolist(), codes.tolist(), strict=True)
    assert pair_of.tolist() == [ordered.index(p) for p in rows]

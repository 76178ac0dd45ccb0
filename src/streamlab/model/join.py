"""Stream-stream joins with a time-range condition: matches, state eviction, outer NULL rows.

The lab's join is ``impressions`` (left) with ``clicks`` (right) on ``impression_id`` and
``click_time >= impression_time + lower AND click_time <= impression_time + upper``. Rules, from
``StreamingSymmetricHashJoinExec`` and ``StreamingSymmetricHashJoinHelper``:

* each side drops rows with ``time <= late watermark`` (``storeAndJoinWithOtherSide``);
* in a batch the left rows first join the right state, then the right rows join the left state
  (which now holds this batch's left rows); left rows are always stored, right rows only when
  this batch's state bound does not already remove them
  (``AddingProcessedRowToStateCompletionIterator``, ``shouldAddToState``);
* state bounds come from ``getStateValueWatermark``: ``click_time <= impression_time + upper``
  bounds the left side: impressions with ``time <= E - upper - 1`` go; ``click_time >=
  impression_time + lower`` bounds the right side: clicks with ``time <= E + lower - 1`` go
  (``E`` is the eviction watermark; the ``- 1`` is Spark's for the inclusive comparisons);
* a left outer join emits ``(impression, NULL)`` when an impression that never matched is
  evicted (state format 2 keeps a ``matched`` flag), never earlier.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from streamlab.model.events import Rows
from streamlab.model.watermark import BatchInfo
from streamlab.settings import PipelineConfig

IntArray = npt.NDArray[np.int64]

# Per-row outcome codes on either side.
WAITING, JOINED, UNMATCHED, LATE, NOT_STORED, UNPARSEABLE = 0, 1, 2, 3, 4, 5
"""``WAITING``: still in state; ``JOINED``: matched at least once; ``UNMATCHED``: evicted
without a match; ``LATE``: dropped as late; ``NOT_STORED``: a right row on time but already past the
state bound, so joined only with the left state and never stored; ``UNPARSEABLE``: no time."""


@dataclass(frozen=True)
class JoinCondition:
    """The time-range part of the join condition, in milliseconds."""

    lower_ms: int = 0
    """``right_time >= left_time + lower_ms``."""
    upper_ms: int = PipelineConfig.click_window_ms
    """``right_time <= left_time + upper_ms``."""
    outer: bool = False
    """Left outer join (impressions kept, with NULL clicks, when they never match)."""


@dataclass(frozen=True, eq=False)
class JoinOutcome:
    """What the join emitted, batch by batch, and what happened to every row."""

    pairs: list[tuple[int, int, int]]
    """``(left row, right row, batch)`` for every joined output row."""
    null_rows: list[tuple[int, int]]
    """``(left row, batch)`` for every NULL-padded outer row."""
    left_outcome: IntArray
    """Per left row, an outcome code."""
    right_outcome: IntArray
    """Per right row, an outcome code."""
    left_evicted: IntArray
    """Per left row: the batch that removed it from state, -1 if never."""
    right_evicted: IntArray
    """Per right row: the batch that removed it from state, -1 if never."""
    state_rows: IntArray
    """Per batch: rows held in the join state (both sides) after the batch."""


def join(
    left: Rows, right: Rows, batches: Sequence[BatchInfo], condition: JoinCondition
) -> JoinOutcome:
    """Run the stream-stream join of ``left`` and ``right`` over ``batches``.

    >>> from streamlab.model.watermark import InputWatermark, plan_batches
    >>> imps = Rows.from_batches([[("i1", 1_000, "i1")], []])
    >>> clicks = Rows.from_batches([[("i1", 5_000, "c1")], []])
    >>> plan = plan_batches([InputWatermark("i", 0), InputWatermark("c", 0)],
    ...                     [[1_000, None], [5_000, None]], data_batches=2)
    >>> join(imps, clicks, plan, JoinCondition()).pairs
    [(0, 0, 0)]
    """
    lo, hi = condition.lower_ms, condition.upper_ms
    left_out = np.full(len(left), WAITING, dtype=np.int64)
    right_out = np.full(len(right), WAITING, dtype=np.int64)
    left_out[~left.valid] = UNPARSEABLE
    right_out[~right.valid] = UNPARSEABLE
    left_evicted = np.full(len(left), -1, dtype=np.int64)
    right_evicted = np.full(len(right), -1, dtype=np.int64)
    left_state: dict[object, list[int]] = {}
    right_state: dict[object, list[int]] = {}
    left_heap: list[tuple[int, int]] = []
    right_heap: list[tuple[int, int]] = []
    matched = np.zeros(len(left), dtype=bool)
    pairs: list[tuple[int, int, int]] = []
    nulls: list[tuple[int, int]] = []
    state_rows = np.zeros(len(batches), dtype=np.int64)
    left_by_batch = _by_batch(left)
    right_by_batch = _by_batch(right)
    lt, rt = left.time_ms.tolist(), right.time_ms.tolist()
    lkey, rkey = left.key.tolist(), right.key.tolist()

    for info in batches:
        b, late, evict = info.batch, info.late_watermark, info.eviction_watermark
        left_bound = evict - hi - 1
        right_bound = evict + lo - 1
        d = info.data_batch
        left_rows = left_by_batch.get(d, []) if d is not None else []
        right_rows = right_by_batch.get(d, []) if d is not None else []
        for i in left_rows:
            if left_out[i] == UNPARSEABLE:
                continue
            if lt[i] <= late:
                left_out[i] = LATE
                continue
            for j in right_state.get(lkey[i], ()):
                if lt[i] + lo <= rt[j] <= lt[i] + hi:
                    pairs.append((i, j, b))
                    matched[i] = True
                    right_out[j] = JOINED
            # Left rows are always stored, even when this batch evicts them: the right rows of
            # the batch have not been joined with them yet.
            left_state.setdefault(lkey[i], []).append(i)
            heapq.heappush(left_heap, (lt[i], i))
        for j in right_rows:
            if right_out[j] == UNPARSEABLE:
                continue
            if rt[j] <= late:
                right_out[j] = LATE
                continue
            hit = False
            for i in left_state.get(rkey[j], ()):
                if lt[i] + lo <= rt[j] <= lt[i] + hi:
                    pairs.append((i, j, b))
                    matched[i] = True
                    hit = True
            if hit:
                right_out[j] = JOINED
            if rt[j] <= right_bound:
                if not hit:
                    right_out[j] = NOT_STORED
            else:
                right_state.setdefault(rkey[j], []).append(j)
                heapq.heappush(right_heap, (rt[j], j))
        while left_heap and left_heap[0][0] <= left_bound:
            _, i = heapq.heappop(left_heap)
            left_state[lkey[i]].remove(i)
            left_evicted[i] = b
            if matched[i]:
                left_out[i] = JOINED
            else:
                left_out[i] = UNMATCHED
                if condition.outer:
                    nulls.append((i, b))
        while right_heap and right_heap[0][0] <= right_bound:
            _, j = heapq.heappop(right_heap)
            right_state[rkey[j]].remove(j)
            right_evicted[j] = b
            if right_out[j] != JOINED:
                right_out[j] = UNMATCHED
        state_rows[b] = len(left_heap) + len(right_heap)
    left_out[(left_out == WAITING) & matched] = JOINED
    return JoinOutcome(pairs, nulls, left_out, right_out, left_evicted, right_evicted, state_rows)


def _by_batch(rows: Rows) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for i, b in enumerate(rows.batch.tolist()):
        out.setdefault(b, []).append(i)
    return out

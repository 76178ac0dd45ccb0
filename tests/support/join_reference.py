"""The stream-stream join as streamlab first wrote it: row by row, with a heap per side.

A second, independent statement of the rules in :mod:`streamlab.model.join`, kept to check the
vectorized join against it on drawn inputs. Outcome codes are the model's own.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import numpy as np

from streamlab.model.events import Rows
from streamlab.model.join import (
    JOINED,
    LATE,
    NOT_STORED,
    UNMATCHED,
    UNPARSEABLE,
    WAITING,
    JoinCondition,
    JoinOutcome,
)
from streamlab.model.watermark import BatchInfo


def join_row_by_row(
    left: Rows, right: Rows, batches: Sequence[BatchInfo], condition: JoinCondition
) -> JoinOutcome:
    """Run the stream-stream join of ``left`` and ``right`` over ``batches``, row by row."""
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

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

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from streamlab.model.events import BoolArray, Rows, factorize
from streamlab.model.watermark import (
    BatchInfo,
    eviction_array,
    late_by_data_batch,
    spark_batch_of,
)
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
    n_b = len(batches)
    lo, hi = condition.lower_ms, condition.upper_ms
    evict = eviction_array(batches)
    # Per batch, the state bound of each side (eviction watermarks never decrease).
    left_bound = np.maximum.accumulate(evict - hi - 1) if n_b else evict
    right_bound = np.maximum.accumulate(evict + lo - 1) if n_b else evict
    left_at, left_out, left_on = _side(left, batches)
    right_at, right_out, right_on = _side(right, batches)
    lt, rt = left.time_ms, right.time_ms
    # Left rows are always stored, even when their own batch evicts them: the right rows of
    # the batch have not been joined with them yet. Right rows are stored only when this
    # batch's bound does not already remove them. A row leaves at the end of the first batch,
    # from its own, whose bound reaches its time (_STAYS: it stays).
    left_gone = np.where(
        left_on, np.maximum(left_at, np.searchsorted(left_bound, lt, side="left")), _STAYS
    )
    right_stored = right_on.copy()
    right_stored[right_on] = rt[right_on] > right_bound[right_at[right_on]]
    right_gone = np.where(right_stored, np.searchsorted(right_bound, rt, side="left"), _STAYS)
    left_gone = np.where(left_gone < n_b, left_gone, _STAYS)
    right_gone = np.where(right_gone < n_b, right_gone, _STAYS)

    i, j = _candidates(left, right, left_on, right_on)
    ok = (lt[i] + lo <= rt[j]) & (rt[j] <= lt[i] + hi)
    i, j = i[ok], j[ok]
    bi, bj = left_at[i], right_at[j]
    # Same batch: the right row meets the left state that now holds the left row. A left row
    # meets the stored right rows of earlier batches; a right row the left rows still held.
    ok = (bi == bj) | ((bi < bj) & (left_gone[i] >= bj)) | ((bj < bi) & (right_gone[j] >= bi))
    i, j, bi, bj = i[ok], j[ok], bi[ok], bj[ok]
    emitted = np.maximum(bi, bj)
    # In a batch the left rows join first (each with the right state, in stored order), then
    # the right rows (each with the left state).
    phase = (bj >= bi).astype(np.int64)
    order = np.lexsort((np.where(phase == 0, j, i), np.where(phase == 0, i, j), phase, emitted))
    pairs = list(zip(i[order].tolist(), j[order].tolist(), emitted[order].tolist(), strict=True))

    matched = np.zeros(len(left), dtype=bool)
    matched[i] = True
    hit = np.zeros(len(right), dtype=bool)
    hit[j] = True
    left_out[left_on] = np.where(
        matched[left_on], JOINED, np.where(left_gone[left_on] != _STAYS, UNMATCHED, WAITING)
    )
    right_out[right_on] = np.select(
        [hit[right_on], ~right_stored[right_on], right_gone[right_on] != _STAYS],
        [JOINED, NOT_STORED, UNMATCHED],
        WAITING,
    )
    nulls: list[tuple[int, int]] = []
    if condition.outer:
        # Emitted as each unmatched left row is evicted: by batch, then by time and row.
        null = np.flatnonzero(left_on & ~matched & (left_gone != _STAYS))
        null = null[np.lexsort((null, lt[null], left_gone[null]))]
        nulls = list(zip(null.tolist(), left_gone[null].tolist(), strict=True))
    state_rows = _held(left_at[left_on], left_gone[left_on], n_b) + _held(
        right_at[right_stored], right_gone[right_stored], n_b
    )
    return JoinOutcome(
        pairs,
        nulls,
        left_out,
        right_out,
        np.where(left_gone != _STAYS, left_gone, -1),
        np.where(right_gone != _STAYS, right_gone, -1),
        state_rows,
    )


_STAYS = np.iinfo(np.int64).max
"""The eviction batch of a row that stays in state."""


def _side(rows: Rows, batches: Sequence[BatchInfo]) -> tuple[IntArray, IntArray, BoolArray]:
    """Return each row's Spark batch, its outcome so far, and whether it joins (read, on time).

    A row of a data batch no micro-batch read stays ``WAITING``.
    """
    read = np.zeros(rows.data_batches, dtype=bool)
    for info in batches:
        if info.data_batch is not None:
            read[info.data_batch] = True
    at = spark_batch_of(batches, rows.data_batches)[rows.batch]
    late = late_by_data_batch(batches, rows.data_batches)[rows.batch]
    outcome = np.full(len(rows), WAITING, dtype=np.int64)
    outcome[~rows.valid] = UNPARSEABLE
    live = read[rows.batch] & rows.valid
    outcome[live & (rows.time_ms <= late)] = LATE
    return at, outcome, live & (rows.time_ms > late)


_CHUNK = 4_000_000
"""Candidate pairs built at once: a key held by many rows on both sides cannot exhaust memory."""


def _candidates(
    left: Rows, right: Rows, left_on: BoolArray, right_on: BoolArray
) -> tuple[IntArray, IntArray]:
    """Return every (left row, right row) of the joining rows that share a key."""
    codes = factorize(np.concatenate([left.key, right.key]))
    lc, rc = codes[: len(left)], codes[len(left) :]
    held = np.flatnonzero(left_on)
    held = held[np.argsort(lc[held], kind="stable")]
    sorted_codes = lc[held]
    probe = np.flatnonzero(right_on)
    start = np.searchsorted(sorted_codes, rc[probe], side="left")
    count = np.searchsorted(sorted_codes, rc[probe], side="right") - start
    ends = np.cumsum(count)
    out_i: list[IntArray] = []
    out_j: list[IntArray] = []
    at = 0
    while at < len(probe):
        # The right rows whose candidates fit in one chunk (at least one row).
        base = int(ends[at - 1]) if at else 0
        stop = max(at + 1, int(np.searchsorted(ends, base + _CHUNK, side="right")))
        c = count[at:stop]
        offset = np.arange(int(c.sum()), dtype=np.int64) - np.repeat(np.cumsum(c) - c, c)
        out_i.append(held[np.repeat(start[at:stop], c) + offset])
        out_j.append(np.repeat(probe[at:stop], c))
        at = stop
    empty = np.zeros(0, dtype=np.int64)
    return (
        np.concatenate(out_i) if out_i else empty,
        np.concatenate(out_j) if out_j else empty,
    )


def _held(added: IntArray, removed: IntArray, n_batches: int) -> IntArray:
    """Rows in state after each batch: added in ``added``, evicted at the end of ``removed``."""
    delta = np.bincount(added, minlength=n_batches + 1)[: n_batches + 1].astype(np.int64)
    gone = removed[removed != _STAYS]
    delta -= np.bincount(gone, minlength=n_batches + 1)[: n_batches + 1]
    return np.cumsum(delta)[:n_batches]

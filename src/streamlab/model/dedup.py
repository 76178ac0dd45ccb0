"""``dropDuplicatesWithinWatermark``: which rows survive, which are late, which are duplicates.

Rules, from ``StreamingDeduplicateWithinWatermarkExec`` and ``BaseStreamingDeduplicateExec``
(``statefulOperators.scala``):

* rows with ``event_time <= late watermark`` are dropped before deduplication
  (``watermarkPredicateForDataForLateEvents``);
* the first row of a key that is not in state passes and stores
  ``expiresAt = event_time + delay`` (``putDupInfoIntoState``); later rows of the key are dropped
  while the key is in state;
* after the batch's rows, keys with ``eviction watermark >= expiresAt`` are removed
  (``evictDupInfoFromState``), so a duplicate arriving after that passes again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from streamlab.model.events import Rows, factorize
from streamlab.model.watermark import BatchInfo, eviction_array, late_by_data_batch, spark_batch_of

IntArray = npt.NDArray[np.int64]

KEPT, LATE, DUPLICATE, UNPARSEABLE = 0, 1, 2, 3
"""Per-row outcome codes of deduplication."""
NEVER = -1
"""An expiry batch that has not happened (the key is still in state)."""


@dataclass(frozen=True, eq=False)
class DedupOutcome:
    """What deduplication did with every row, and its state after every batch."""

    outcome: IntArray
    """Per row: ``KEPT``, ``LATE``, ``DUPLICATE`` or ``UNPARSEABLE``."""
    duplicate_of: IntArray
    """Per row: for a duplicate, the index of the kept row holding its key; else -1."""
    expired_batch: IntArray
    """Per row: for a kept row, the batch whose end removes its key from state; else ``NEVER``."""
    state_rows: IntArray
    """Per batch: keys in the dedup state after the batch."""


def deduplicate(rows: Rows, batches: Sequence[BatchInfo], delay_ms: int) -> DedupOutcome:
    """Run ``dropDuplicatesWithinWatermark([key])`` over ``rows`` batch by batch.

    >>> from streamlab.model.watermark import InputWatermark, plan_batches
    >>> rows = Rows.from_batches([[("a", 30_000, "x")], [("a", 30_000, "x")]])
    >>> plan = plan_batches([InputWatermark("e", 10_000)], [[30_000, 30_000]], data_batches=2)
    >>> deduplicate(rows, plan, 10_000).outcome.tolist()
    [0, 2]
    """
    n = len(rows)
    evict = eviction_array(batches)
    spark = spark_batch_of(batches, rows.data_batches)[rows.batch]
    outcome = np.full(n, KEPT, dtype=np.int64)
    outcome[~rows.valid] = UNPARSEABLE
    late = late_by_data_batch(batches, rows.data_batches)[rows.batch]
    outcome[rows.valid & (rows.time_ms <= late)] = LATE
    del late  # temporaries go as soon as they are used: each is 80 MB at 10M rows
    duplicate_of = np.full(n, -1, dtype=np.int64)

    codes = factorize(rows.key)
    counts = np.bincount(codes, minlength=int(codes.max()) + 1 if n else 0)
    expired = np.full(n, NEVER, dtype=np.int64)
    single = (counts == 1)[codes]
    del counts
    kept_single = np.flatnonzero(single & (outcome == KEPT))
    if len(kept_single):
        expires_at = rows.time_ms[kept_single] + delay_ms
        first = np.searchsorted(evict, expires_at, side="left")
        del expires_at
        m = np.maximum(spark[kept_single], first)
        del first
        expired[kept_single] = np.where(m < len(evict), m, NEVER)
        del m
    del kept_single
    # A key seen more than once: its first kept row holds it until its expiry batch; the
    # key's later rows up to that batch are duplicates of it, and the first row after it
    # holds the key anew. Rows of a key come in batch order, so each round peels, for every
    # key at once, its holder and the rows that holder covers.
    multi = np.flatnonzero(~single & (outcome == KEPT))
    if len(multi):
        order = multi[np.argsort(codes[multi], kind="stable")]
        key, at = codes[order], spark[order]
        m = np.maximum(at, np.searchsorted(evict, rows.time_ms[order] + delay_ms, side="left"))
        until = np.where(m < len(evict), m, np.iinfo(np.int64).max)
        pending = np.ones(len(order), dtype=bool)
        while pending.any():
            idx = np.flatnonzero(pending)
            starts = np.ones(len(idx), dtype=bool)
            starts[1:] = key[idx[1:]] != key[idx[:-1]]
            head = idx[starts][np.cumsum(starts) - 1]
            covered = (at[idx] <= until[head]) & ~starts
            holders, dups = order[idx[starts]], order[idx[covered]]
            expired[holders] = np.where(m[idx[starts]] < len(evict), m[idx[starts]], NEVER)
            outcome[dups] = DUPLICATE
            duplicate_of[dups] = order[head[covered]]
            pending[idx[starts]] = False
            pending[idx[covered]] = False
    del codes, single
    kept = outcome == KEPT
    state_rows = _state_rows(spark[kept], expired[kept], len(batches))
    return DedupOutcome(outcome, duplicate_of, expired, state_rows)


def _state_rows(added: IntArray, removed: IntArray, n_batches: int) -> IntArray:
    """Count entries alive after each batch (added at ``added``, gone after ``removed``)."""
    delta = np.zeros(n_batches + 1, dtype=np.int64)
    np.add.at(delta, added, 1)
    gone = removed[removed != NEVER]
    np.add.at(delta, gone, -1)
    return np.cumsum(delta)[:n_batches]

"""``dropDuplicatesWithinWatermark`` as streamlab first wrote it: key by key, row by row.

A second statement of the rules in :mod:`streamlab.model.dedup`, kept to check the vectorized
deduplication against it on drawn inputs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from streamlab.model.dedup import (
    DUPLICATE,
    KEPT,
    LATE,
    NEVER,
    UNPARSEABLE,
    DedupOutcome,
    _state_rows,
)
from streamlab.model.events import Rows, factorize
from streamlab.model.watermark import BatchInfo, eviction_array, late_by_data_batch, spark_batch_of


def deduplicate_row_by_row(rows: Rows, batches: Sequence[BatchInfo], delay_ms: int) -> DedupOutcome:
    """Run ``dropDuplicatesWithinWatermark([key])`` over ``rows`` batch by batch."""
    n = len(rows)
    evict = eviction_array(batches)
    late = late_by_data_batch(batches, rows.data_batches)[rows.batch]
    spark = spark_batch_of(batches, rows.data_batches)[rows.batch]
    outcome = np.full(n, KEPT, dtype=np.int64)
    outcome[~rows.valid] = UNPARSEABLE
    outcome[rows.valid & (rows.time_ms <= late)] = LATE
    duplicate_of = np.full(n, -1, dtype=np.int64)
    expires_at = rows.time_ms + delay_ms

    def expiry(i: int) -> int:
        # Removed at the end of the first batch, from the row's own, whose eviction watermark
        # reaches expiresAt (eviction watermarks never decrease).
        m = max(int(spark[i]), int(np.searchsorted(evict, expires_at[i], side="left")))
        return m if m < len(evict) else NEVER

    codes = factorize(rows.key)
    counts = np.bincount(codes, minlength=int(codes.max()) + 1 if n else 0)
    expired = np.full(n, NEVER, dtype=np.int64)
    single = counts[codes] == 1
    kept_single = np.flatnonzero(single & (outcome == KEPT))
    if len(kept_single):
        first = np.searchsorted(evict, expires_at[kept_single], side="left")
        m = np.maximum(spark[kept_single], first)
        expired[kept_single] = np.where(m < len(evict), m, NEVER)
    multi = np.flatnonzero(~single)
    if len(multi):
        order = multi[np.argsort(codes[multi], kind="stable")]
        holder: dict[int, tuple[int, int]] = {}
        for i in order.tolist():
            if outcome[i] != KEPT:
                continue
            code = int(codes[i])
            held = holder.get(code)
            if held is not None and (held[1] == NEVER or spark[i] <= held[1]):
                outcome[i] = DUPLICATE
                duplicate_of[i] = held[0]
                continue
            until = expiry(i)
            holder[code] = (i, until)
            expired[i] = until
    state_rows = _state_rows(spark[outcome == KEPT], expired[outcome == KEPT], len(batches))
    return DedupOutcome(outcome, duplicate_of, expired, state_rows)

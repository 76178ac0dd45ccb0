"""``dropDuplicates`` with a watermark: which rows pass, which are late, when keys leave state.

Rules, from ``StreamingDeduplicateExec`` and ``BaseStreamingDeduplicateExec``
(``statefulOperators.scala``):

* rows with ``event_time <= late watermark`` are dropped before deduplication
  (``watermarkPredicateForDataForLateEvents``: the event time is in the operator's input, in the
  key or not);
* the first row of a key not in state passes and its key is stored;
* with the event time among the keys, a key is removed after the first batch, from its own,
  whose eviction watermark is ``>= event_time`` (``watermarkPredicateForKeysForEviction``);
  without it, keys stay in state for ever.

A re-sent copy can never pass twice: once its key is removed, the late watermark of every later
batch is at or past its event time, so it is dropped as late.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from streamlab.model.dedup import DUPLICATE, KEPT, LATE, NEVER, UNPARSEABLE, DedupOutcome
from streamlab.model.events import Rows, factorize, first_rows
from streamlab.model.watermark import BatchInfo, eviction_array, late_by_data_batch, spark_batch_of

IntArray = npt.NDArray[np.int64]


def drop_duplicates(rows: Rows, batches: Sequence[BatchInfo], *, time_in_key: bool) -> DedupOutcome:
    """Run ``withWatermark(...).dropDuplicates(keys)`` over ``rows`` (``rows.key`` is the key).

    With ``time_in_key`` the caller's ``rows.key`` already holds the event time.

    >>> from streamlab.model.watermark import InputWatermark, plan_batches
    >>> rows = Rows.from_batches(
    ...     [[("a", 10_000, ""), ("a", 10_000, "")], [("c", 20_000, "")], [("b", 2_000, "")]])
    >>> plan = plan_batches(
    ...     [InputWatermark("e", 5_000)], [[10_000, 20_000, 2_000]], data_batches=3)
    >>> out = drop_duplicates(rows, plan, time_in_key=True)
    >>> out.outcome.tolist()  # the copy of a is a duplicate; b is behind the 5 s watermark
    [0, 2, 0, 1]
    >>> out.state_rows.tolist()  # a leaves state once the eviction watermark reaches 10 s
    [1, 2, 1]
    """
    n = len(rows)
    late_wm = late_by_data_batch(batches, rows.data_batches)[rows.batch]
    spark = spark_batch_of(batches, rows.data_batches)[rows.batch]
    evict = eviction_array(batches)
    outcome = np.full(n, KEPT, dtype=np.int64)
    outcome[~rows.valid] = UNPARSEABLE
    outcome[rows.valid & (rows.time_ms <= late_wm)] = LATE
    duplicate_of = np.full(n, -1, dtype=np.int64)
    expired = np.full(n, NEVER, dtype=np.int64)
    live = np.flatnonzero(outcome == KEPT)
    if len(live):
        codes = factorize(rows.key[live])
        first = first_rows(codes)
        firsts = live[first]
        repeated = np.ones(len(live), dtype=bool)
        repeated[first] = False
        outcome[live[repeated]] = DUPLICATE
        duplicate_of[live[repeated]] = firsts[codes[repeated]]
        if time_in_key:
            at = np.searchsorted(evict, rows.time_ms[firsts], side="left")
            m = np.maximum(spark[firsts], at)
            expired[firsts] = np.where(m < len(evict), m, NEVER)
    kept = outcome == KEPT
    delta = np.zeros(len(batches) + 1, dtype=np.int64)
    np.add.at(delta, spark[kept], 1)
    gone = expired[kept]
    np.add.at(delta, gone[gone != NEVER], -1)
    state = np.cumsum(delta)[: len(batches)]
    return DedupOutcome(outcome, duplicate_of, expired, state)

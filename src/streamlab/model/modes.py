"""Streaming aggregations in append, update and complete mode: what each batch emits.

One engine covers the groupings a learner writes: ``window(t, size, slide, start)``,
``session_window(t, gap)`` (static or per-row gap, :mod:`streamlab.model.session`) and plain
keys without a window. Rules, from ``statefulOperators.scala`` (``StateStoreSaveExec``,
``SessionWindowStateStoreSaveExec``, ``WatermarkSupport``) and
``UnsupportedOperationChecker.scala``:

* **append** emits a window once, with its final value, at the end of the first batch whose
  eviction watermark is ``>= window.end``, and removes it (rule N2). A grouping with no event
  time in it never closes, so Spark refuses append mode for it (:func:`check_mode`);
* **update** emits, at the end of each batch, every group the batch's rows changed, with its
  value so far; then removes, without emitting, the windows whose end is at or behind the
  eviction watermark. Contributions to windows ending at or behind the late watermark are
  dropped first (rule L2). A grouping without event time keeps every group forever and drops
  nothing;
* **complete** emits every group in state at the end of every batch; it drops no late row and
  removes no state, and it runs no no-data batch (``shouldRunAnotherBatch`` holds only for
  append and update).

Values are computed from the contributions each group holds after the batch: ``count``,
``sum``, ``min``, ``max``, ``avg`` and ``distinct`` (``size(collect_set(col))``), with nulls
(NaN) skipped as Spark skips them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from streamlab.model.events import Rows, factorize
from streamlab.model.grouping import (
    AGG_FUNCS,
    AggFunc,
    Grouping,
    ModeOutcome,
    ModeRefused,
    OutputMode,
    SessionSpec,
    agg_name,
    check_mode,
    group_values,
    row_codes,
)
from streamlab.model.session import aggregate_sessions
from streamlab.model.watermark import BatchInfo, late_by_data_batch, spark_batch_of
from streamlab.model.windows import WindowSpec, assign

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

__all__ = [
    "AGG_FUNCS",
    "AggFunc",
    "Grouping",
    "ModeOutcome",
    "ModeRefused",
    "OutputMode",
    "SessionSpec",
    "agg_name",
    "aggregate_modes",
    "check_mode",
    "group_values",
]


def aggregate_modes(
    rows: Rows,
    reached: BoolArray,
    batches: Sequence[BatchInfo],
    grouping: Grouping,
    mode: OutputMode,
    *,
    aggs: Sequence[AggFunc] = (AggFunc("count"),),
    values: Mapping[str, FloatArray] | None = None,
    gaps: IntArray | None = None,
    time_key: bool = False,
    keep_members: bool = False,
) -> ModeOutcome:
    """Aggregate ``rows[reached]`` per ``grouping`` and ``rows.group``, batch by batch.

    Args:
        rows: the rows, with ``group`` as the grouping key next to the window.
        reached: which rows reach the aggregation (after a dedup, say).
        batches: the micro-batches (for complete mode, the data batches only).
        grouping: a window, a session window or ``None`` (keys only).
        mode: the output mode; refused like Spark refuses it (:func:`check_mode`).
        aggs: the aggregate columns.
        values: per value column, its value per row (NaN for null).
        gaps: per row, a dynamic session gap in ms (rows with a gap ``<= 0`` are left out).
        time_key: without a window, whether the event time itself is a grouping key (then it
            is late and evicted like a window ending at that time).
        keep_members: record which rows every emitted row aggregates.

    >>> from streamlab.model.watermark import InputWatermark, plan_batches
    >>> rows = Rows.from_batches([[("a", 1_000, "x"), ("b", 2_000, "x")], [("c", 30_000, "x")]])
    >>> plan = plan_batches([InputWatermark("e", 0)], [[2_000, 30_000]], data_batches=2)
    >>> out = aggregate_modes(rows, rows.valid, plan, WindowSpec(10_000, 10_000),
    ...                       OutputMode.UPDATE)
    >>> out.emit_batch.tolist(), out.emit_start.tolist(), out.values["count"].tolist()
    ([0, 1], [0, 30000], [2.0, 1.0])

    """
    check_mode(grouping, mode, time_in_keys=time_key)
    if isinstance(grouping, SessionSpec):
        return aggregate_sessions(
            rows,
            reached,
            batches,
            grouping,
            mode,
            aggs=aggs,
            values=values,
            gaps=gaps,
            keep_members=keep_members,
        )
    idx = np.flatnonzero(reached & rows.valid)
    if isinstance(grouping, WindowSpec):
        local, start = assign(rows.time_ms[idx], grouping)
        row = idx[local]
        end = start + grouping.size_ms
        timed = True
    elif time_key:
        row, start = idx, rows.time_ms[idx]
        end = start.copy()  # the predicate is on the time itself: late when t <= watermark
        timed = True
    else:
        row = idx
        start = np.zeros(len(row), dtype=np.int64)
        end = start
        timed = False
    n_batches = len(batches)
    spark = spark_batch_of(batches, rows.data_batches)[rows.batch[row]]
    late_wm = late_by_data_batch(batches, rows.data_batches)[rows.batch[row]]
    evict = np.array([b.eviction_watermark for b in batches], dtype=np.int64)
    filters = timed and mode is not OutputMode.COMPLETE
    late = (end <= late_wm) if filters else np.zeros(len(row), dtype=bool)
    gcode = factorize(rows.group[row]) if len(row) else np.zeros(0, dtype=np.int64)
    dropped = _dropped_per_batch(spark[late], start[late], gcode[late], n_batches)
    keep = ~late
    k_row, k_start, k_end = row[keep], start[keep], end[keep]
    k_g, k_batch = gcode[keep], spark[keep]
    if len(k_row):
        first_row, key_of = row_codes(k_start, k_g)
        keys = np.column_stack([k_start[first_row], k_g[first_row]])
    else:
        keys, key_of = np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.int64)
    n_keys = len(keys)
    first = np.full(n_keys, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, key_of, k_batch)
    key_end = np.zeros(n_keys, dtype=np.int64)
    if n_keys:
        key_end[key_of] = k_end
    key_group = np.empty(n_keys, dtype=object)
    if n_keys:
        key_group[key_of] = rows.group[k_row]
    # The batch whose end removes a group: the first from its own whose eviction watermark
    # reaches the end (append: it is emitted there; update: removed unseen). Never without time.
    if timed and mode is not OutputMode.COMPLETE:
        gone = np.maximum(np.searchsorted(evict, key_end, side="left"), first)
    else:
        gone = np.full(n_keys, n_batches, dtype=np.int64)
    e_batch: list[IntArray] = []
    e_key: list[IntArray] = []
    if mode is OutputMode.APPEND:
        sel = np.flatnonzero(gone < n_batches)
        e_batch.append(gone[sel])
        e_key.append(sel)
    elif mode is OutputMode.UPDATE:
        if n_keys:
            pick, _ = row_codes(k_batch, key_of)
            touched = np.column_stack([k_batch[pick], key_of[pick]])
        else:
            touched = keys
        e_batch.append(touched[:, 0].astype(np.int64))
        e_key.append(touched[:, 1].astype(np.int64))
    else:
        for b in range(n_batches):
            sel = np.flatnonzero(first <= b)
            e_batch.append(np.full(len(sel), b, dtype=np.int64))
            e_key.append(sel)
    eb = np.concatenate(e_batch) if e_batch else np.zeros(0, dtype=np.int64)
    ek = np.concatenate(e_key) if e_key else np.zeros(0, dtype=np.int64)
    order = np.lexsort((keys[ek, 0] if n_keys else ek, eb))
    eb, ek = eb[order], ek[order]
    vals = _values_at(eb, ek, key_of, k_batch, k_row, n_keys, aggs, values)
    members: list[IntArray] = []
    if keep_members:
        by_key = np.argsort(key_of, kind="stable")
        bounds = np.searchsorted(key_of[by_key], np.arange(n_keys + 1))
        for b, k in zip(eb.tolist(), ek.tolist(), strict=True):
            mine = by_key[bounds[k] : bounds[k + 1]]
            members.append(k_row[mine[k_batch[mine] <= b]])
    delta = np.zeros(n_batches + 1, dtype=np.int64)
    np.add.at(delta, np.minimum(first, n_batches), 1)
    np.add.at(delta, np.minimum(gone, n_batches), -1)
    state = np.cumsum(delta)[:n_batches]
    return ModeOutcome(
        emit_batch=eb,
        emit_start=keys[ek, 0].astype(np.int64) if n_keys else np.zeros(0, dtype=np.int64),
        emit_end=key_end[ek],
        emit_group=key_group[ek],
        values=vals,
        state_rows=state,
        dropped=dropped,
        row=row,
        late=late,
        members=members,
    )


def _dropped_per_batch(batch: IntArray, start: IntArray, group: IntArray, n: int) -> IntArray:
    """Count distinct (window, group) of the late contributions of each batch (rule L4)."""
    out = np.zeros(n, dtype=np.int64)
    if len(batch):
        first, _ = row_codes(batch, start, group)
        np.add.at(out, batch[first], 1)
    return out


def _values_at(
    eb: IntArray,
    ek: IntArray,
    key_of: IntArray,
    k_batch: IntArray,
    k_row: IntArray,
    n_keys: int,
    aggs: Sequence[AggFunc],
    values: Mapping[str, FloatArray] | None,
) -> dict[str, FloatArray]:
    """Value of every aggregate for every emitted (batch, key): contributions up to the batch."""
    out = {agg_name(a): np.full(len(eb), np.nan) for a in aggs}
    for b in np.unique(eb).tolist():
        pick = np.flatnonzero(eb == b)
        upto = k_batch <= b
        computed = group_values(key_of[upto], k_row[upto], n_keys, aggs, values)
        for name, col in computed.items():
            out[name][pick] = col[ek[pick]]
    return out

"""``session_window``: gap-based sessions, merged batch by batch, final when the watermark passes.

Rules, from ``MergingSessionsExec``/``MergingSessionsIterator``,
``SessionWindowStateStoreRestoreExec`` and ``SessionWindowStateStoreSaveExec``
(``statefulOperators.scala``), checked against Spark by the differential tests:

* each row opens the session ``[t, t + gap)``; a row whose gap is ``<= 0`` (dynamic gap) is
  left out (``SessionWindowing``: ``filter(sessionWindow.end > sessionWindow.start)``);
* rows whose own session ends at or behind the late watermark are dropped before merging
  (``watermarkPredicateForDataForLateEvents`` on the session column); the dropped count is one
  per distinct (key, session) among them, after the partial aggregation;
* a batch's sessions and the key's sessions in state are merged, in start order, while the next
  starts at or before the end so far (touching sessions merge), the end being the largest;
* append mode emits a session, and removes it, at the end of the first batch whose eviction
  watermark is ``>= session.end``; complete mode emits every session after every batch and
  removes none; update mode is refused (:func:`streamlab.model.grouping.check_mode`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from streamlab.model.events import Rows, factorize, objects
from streamlab.model.grouping import (
    AggFunc,
    ModeOutcome,
    OutputMode,
    SessionSpec,
    agg_name,
    group_values,
    row_codes,
)
from streamlab.model.watermark import BatchInfo, late_by_data_batch, spark_batch_of

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def aggregate_sessions(
    rows: Rows,
    reached: BoolArray,
    batches: Sequence[BatchInfo],
    spec: SessionSpec,
    mode: OutputMode,
    *,
    aggs: Sequence[AggFunc] = (AggFunc("count"),),
    values: Mapping[str, FloatArray] | None = None,
    gaps: IntArray | None = None,
    keep_members: bool = False,
) -> ModeOutcome:
    """Run ``groupBy(session_window(t, gap), group)`` over ``rows[reached]``, batch by batch.

    >>> from streamlab.model.watermark import InputWatermark, plan_batches
    >>> rows = Rows.from_batches([[("a", 10_000, "k"), ("b", 15_000, "k")], [("c", 40_000, "k")]])
    >>> plan = plan_batches([InputWatermark("e", 0)], [[15_000, 40_000]], data_batches=2)
    >>> out = aggregate_sessions(rows, rows.valid, plan, SessionSpec(5_000), OutputMode.APPEND)
    >>> out.emit_start.tolist(), out.emit_end.tolist(), out.values["count"].tolist()
    ([10000], [20000], [2.0])
    >>> out.state_rows.tolist()  # [40 s, 45 s) stays open: the watermark is 40 s
    [1, 2, 1]
    """
    n_batches = len(batches)
    gap = np.full(len(rows), spec.gap_ms, dtype=np.int64) if gaps is None else gaps
    idx = np.flatnonzero(reached & rows.valid & (gap > 0))
    t = rows.time_ms[idx]
    end = t + gap[idx]
    spark = spark_batch_of(batches, rows.data_batches)[rows.batch[idx]]
    late_wm = late_by_data_batch(batches, rows.data_batches)[rows.batch[idx]]
    evict = [b.eviction_watermark for b in batches]
    late = end <= late_wm
    key = factorize(rows.group[idx]) if len(idx) else np.zeros(0, dtype=np.int64)
    names = rows.group[idx]
    dropped = np.zeros(n_batches, dtype=np.int64)
    if late.any():
        first, _ = row_codes(spark[late], key[late], t[late], end[late])
        np.add.at(dropped, spark[late][first], 1)
    # Open sessions: key, start, end, id. Every counted row points at its session's id.
    s_key = np.zeros(0, dtype=np.int64)
    s_start = np.zeros(0, dtype=np.int64)
    s_end = np.zeros(0, dtype=np.int64)
    s_id = np.zeros(0, dtype=np.int64)
    row_sid = np.full(len(idx), -1, dtype=np.int64)
    next_id = 0
    e_batch: list[int] = []
    e_start: list[int] = []
    e_end: list[int] = []
    e_group: list[object] = []
    e_vals: dict[str, list[float]] = {agg_name(a): [] for a in aggs}
    members: list[IntArray] = []
    state = np.zeros(n_batches, dtype=np.int64)
    group_name: dict[int, object] = {}
    for b in range(n_batches):
        new = np.flatnonzero((spark == b) & ~late)
        for k, g in zip(key[new].tolist(), names[new].tolist(), strict=True):
            group_name.setdefault(k, g)
        # Candidates: state sessions (id >= 0) and this batch's rows (id -1 - position).
        c_key = np.concatenate([s_key, key[new]])
        c_start = np.concatenate([s_start, t[new]])
        c_end = np.concatenate([s_end, end[new]])
        c_src = np.concatenate([s_id, -1 - new])
        if len(c_key):
            order = np.lexsort((c_end, c_start, c_key))
            c_key, c_start, c_end, c_src = c_key[order], c_start[order], c_end[order], c_src[order]
            run_end = _segmented_cummax(c_end, c_key)
            opens = np.ones(len(c_key), dtype=bool)
            opens[1:] = (c_key[1:] != c_key[:-1]) | (c_start[1:] > run_end[:-1])
            seg = np.cumsum(opens) - 1
            n_seg = int(seg[-1]) + 1
            m_key = c_key[opens]
            m_start = c_start[opens]
            m_end = np.full(n_seg, np.iinfo(np.int64).min, dtype=np.int64)
            np.maximum.at(m_end, seg, c_end)
            m_id = np.arange(next_id, next_id + n_seg, dtype=np.int64)
            next_id += n_seg
            # Re-point rows: of merged state sessions, and this batch's own rows.
            old = c_src >= 0
            if old.any():
                remap = np.arange(next_id, dtype=np.int64)
                remap[c_src[old]] = m_id[seg[old]]
                held = row_sid >= 0
                row_sid[held] = remap[row_sid[held]]
            row_sid[-1 - c_src[~old]] = m_id[seg[~old]]
        else:
            m_key = m_start = m_end = m_id = np.zeros(0, dtype=np.int64)
        if mode is OutputMode.COMPLETE:
            out_sel = np.arange(len(m_id))
            keep = np.ones(len(m_id), dtype=bool)
        else:
            closed = m_end <= evict[b]
            out_sel = np.flatnonzero(closed)
            keep = ~closed
        if len(out_sel):
            counted = np.flatnonzero(row_sid >= 0)
            pos = np.full(next_id, -1, dtype=np.int64)
            pos[m_id] = np.arange(len(m_id), dtype=np.int64)
            held_pos = pos[row_sid[counted]]
            mine = held_pos >= 0
            vals = group_values(held_pos[mine], idx[counted[mine]], len(m_id), aggs, values)
            order_out = out_sel[np.lexsort((m_start[out_sel], m_key[out_sel]))]
            for i in order_out.tolist():
                e_batch.append(b)
                e_start.append(int(m_start[i]))
                e_end.append(int(m_end[i]))
                e_group.append(group_name.get(int(m_key[i])))
                for name in e_vals:
                    e_vals[name].append(float(vals[name][i]))
                if keep_members:
                    members.append(idx[counted[mine][held_pos[mine] == i]])
        gone = np.isin(row_sid, m_id[~keep]) if (~keep).any() else np.zeros(len(row_sid), bool)
        row_sid[gone] = -2  # emitted and removed
        s_key, s_start, s_end, s_id = m_key[keep], m_start[keep], m_end[keep], m_id[keep]
        state[b] = len(s_id)
    return ModeOutcome(
        emit_batch=np.array(e_batch, dtype=np.int64),
        emit_start=np.array(e_start, dtype=np.int64),
        emit_end=np.array(e_end, dtype=np.int64),
        emit_group=objects(e_group),
        values={k: np.array(v, dtype=np.float64) for k, v in e_vals.items()},
        state_rows=state,
        dropped=dropped,
        row=idx,
        late=late,
        members=members,
    )


def _segmented_cummax(values: IntArray, segment: IntArray) -> IntArray:
    """Return the running maximum of ``values``, restarting where ``segment`` (sorted) changes."""
    if not len(values):
        return values
    lo = int(values.min())
    span = int(values.max()) - lo + 1
    shifted = (values - lo) + segment.astype(np.int64) * span
    return np.maximum.accumulate(shifted) - segment.astype(np.int64) * span + lo

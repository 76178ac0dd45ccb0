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
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from streamlab.errors import StreamlabError
from streamlab.model.events import Rows, factorize
from streamlab.model.watermark import BatchInfo, late_by_data_batch, spark_batch_of
from streamlab.model.windows import WindowSpec, assign

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
ObjArray = npt.NDArray[np.object_]

AGG_FUNCS = ("count", "sum", "min", "max", "avg", "distinct")
"""The aggregates the engine computes; ``distinct`` is ``size(collect_set(col))``."""


class OutputMode(StrEnum):
    """``writeStream.outputMode``."""

    APPEND = "append"
    """Each group once, final, when the watermark closes it."""
    UPDATE = "update"
    """The groups each batch changed, with their value so far."""
    COMPLETE = "complete"
    """The whole result after every batch."""


class ModeRefused(StreamlabError):
    """Spark refuses this output mode for this grouping; the message says why."""


@dataclass(frozen=True)
class SessionSpec:
    """``session_window(event_time, gap)``: rows of a key closer than the gap share a session."""

    gap_ms: int
    """The static gap in milliseconds (a per-row gap, when given, replaces it)."""


Grouping = WindowSpec | SessionSpec | None
"""What the aggregation groups by next to its keys: a window, a session window or nothing."""


@dataclass(frozen=True)
class AggFunc:
    """One aggregate column: its function and the value column it reads."""

    func: str
    """One of :data:`AGG_FUNCS`."""
    column: str | None = None
    """The value column (``None``: ``count(*)``)."""

    def __post_init__(self) -> None:
        """Reject functions the engine does not compute."""
        if self.func not in AGG_FUNCS:
            raise StreamlabError(
                f"aggregate {self.func!r} is not one the model computes: use one of "
                f"{', '.join(AGG_FUNCS)}"
            )


@dataclass(frozen=True, eq=False)
class ModeOutcome:
    """What an aggregation emitted, batch by batch, and the state it kept."""

    emit_batch: IntArray
    """Per emitted row: the batch that emitted it."""
    emit_start: IntArray
    """Per emitted row: the window or session start (epoch ms; 0 without a window)."""
    emit_end: IntArray
    """Per emitted row: the window or session end (epoch ms; 0 without a window)."""
    emit_group: ObjArray
    """Per emitted row: the grouping value next to the window."""
    values: dict[str, FloatArray]
    """Per aggregate column name (``func`` or ``func(column)``): its value per emitted row."""
    state_rows: IntArray
    """Per batch: groups (windows, sessions) held in state after the batch."""
    dropped: IntArray
    """Per batch: ``numRowsDroppedByWatermark`` of the aggregation (rule L4)."""
    row: IntArray
    """Per contribution: the row it comes from."""
    late: BoolArray
    """Per contribution: dropped because its window or session had closed for late rows."""
    members: list[IntArray] = field(default_factory=list)
    """Per emitted row: the rows it aggregates (when asked for with ``keep_members``)."""


def check_mode(
    grouping: Grouping, mode: OutputMode, *, time_in_keys: bool = False, has_keys: bool = True
) -> None:
    """Refuse what ``UnsupportedOperationChecker`` refuses, saying why.

    >>> check_mode(None, OutputMode.APPEND)
    Traceback (most recent call last):
    ...
    streamlab.model.modes.ModeRefused: append mode needs the aggregation to group by ...
    """
    if mode is OutputMode.APPEND and grouping is None and not time_in_keys:
        raise ModeRefused(
            "append mode needs the aggregation to group by a window or the watermarked event "
            "time: Spark refuses it ('Append output mode not supported when there are streaming "
            "aggregations ... without watermark') because a group without event time never "
            "closes, so it could never be emitted; use update or complete mode, or group by "
            "window(event_time, ...)"
        )
    if isinstance(grouping, SessionSpec) and not has_keys:
        raise ModeRefused(
            "a session window needs a key to group by next to it: Spark 4 fails the query "
            "('Global aggregation with session window in streaming query is not supported'); "
            "add a key column to the groupBy"
        )
    if mode is OutputMode.UPDATE and isinstance(grouping, SessionSpec):
        raise ModeRefused(
            "update mode is not supported for session windows: Spark refuses it "
            "(STREAMING_OUTPUT_MODE.UNSUPPORTED_OPERATION) because merging sessions would "
            "leave earlier updated rows behind; use append or complete mode"
        )


def agg_name(a: AggFunc) -> str:
    """Return the name of ``a``'s value in :attr:`ModeOutcome.values`."""
    return a.func if a.column is None else f"{a.func}({a.column})"


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
        from streamlab.model.session import aggregate_sessions

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
        keys, key_of = np.unique(np.column_stack([k_start, k_g]), axis=0, return_inverse=True)
        key_of = key_of.reshape(-1)
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
        touched = np.unique(np.column_stack([k_batch, key_of]), axis=0) if n_keys else keys
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
        uniq = np.unique(np.column_stack([batch, start, group]), axis=0)
        np.add.at(out, uniq[:, 0], 1)
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


def group_values(
    group: IntArray,
    row: IntArray,
    n_groups: int,
    aggs: Sequence[AggFunc],
    values: Mapping[str, FloatArray] | None,
) -> dict[str, FloatArray]:
    """Compute every aggregate per group over the contributions ``(group, row)``."""
    out: dict[str, FloatArray] = {}
    for a in aggs:
        name = agg_name(a)
        if a.column is None:
            out[name] = np.bincount(group, minlength=n_groups).astype(np.float64)
            continue
        if values is None or a.column not in values:
            raise StreamlabError(f"aggregate {name} needs the values of column {a.column!r}")
        v = np.asarray(values[a.column], dtype=np.float64)[row]
        ok = ~np.isnan(v)
        g, x = group[ok], v[ok]
        n = np.bincount(g, minlength=n_groups)
        if a.func == "count":
            out[name] = n.astype(np.float64)
        elif a.func in ("sum", "avg"):
            s = np.bincount(g, weights=x, minlength=n_groups)
            col = s if a.func == "sum" else s / np.where(n > 0, n, 1)
            out[name] = np.where(n > 0, col, np.nan)
        elif a.func in ("min", "max"):
            init = np.inf if a.func == "min" else -np.inf
            col = np.full(n_groups, init)
            (np.minimum if a.func == "min" else np.maximum).at(col, g, x)
            out[name] = np.where(n > 0, col, np.nan)
        else:  # distinct: size(collect_set(col)) is 0, not null, for a group of nulls only
            pairs = np.unique(np.column_stack([g, x]), axis=0) if len(g) else np.zeros((0, 2))
            out[name] = np.bincount(pairs[:, 0].astype(np.int64), minlength=n_groups).astype(
                np.float64
            )
    return out

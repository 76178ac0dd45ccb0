"""What an aggregation groups by, computes and emits: the types the aggregation modules share.

Rules, from ``UnsupportedOperationChecker.scala`` and the aggregate functions of
``sql/catalyst/.../expressions/aggregate/``: see :func:`check_mode` and :func:`group_values`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from streamlab.errors import StreamlabError
from streamlab.model.windows import WindowSpec

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
    streamlab.model.grouping.ModeRefused: append mode needs the aggregation to group by ...
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


def row_codes(*columns: IntArray) -> tuple[IntArray, IntArray]:
    """Return ``(first row of each distinct row, its code per row)`` of int columns.

    Codes follow the rows' sort order (first column first), as ``np.unique(..., axis=0)``
    gives them, from one ``lexsort`` instead of a sort of structured rows.

    >>> first, code = row_codes(np.array([5, 1, 5]), np.array([0, 2, 0]))
    >>> first.tolist(), code.tolist()
    ([1, 0], [1, 0, 1])
    """
    n = len(columns[0])
    if not n:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = np.lexsort(tuple(reversed(columns)))  # stable: equal rows keep their order
    change = np.zeros(n, dtype=bool)
    change[0] = True
    for col in columns:
        c = col[order]
        change[1:] |= c[1:] != c[:-1]
    code = np.empty(n, dtype=np.int64)
    code[order] = np.cumsum(change) - 1
    return order[change].astype(np.int64), code

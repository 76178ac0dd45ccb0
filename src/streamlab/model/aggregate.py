"""Windowed counts in append mode: which contributions count, which are late, when windows close.

Rules, from ``statefulOperators.scala`` (``StateStoreSaveExec``, ``WatermarkSupport``):

* the late test is on the window, not the row: a row's contribution to a window is dropped when
  ``window.end <= late watermark`` (``watermarkExpression`` uses ``GetStructField(window, 1)``,
  the end, for a window key); with sliding windows one row can count in one window and be
  dropped from another;
* in append mode a window is emitted, and its state removed, at the end of the first batch whose
  eviction watermark is ``>= window.end`` (``watermarkPredicateForKeysForEviction``), with every
  contribution that batch and the batches before it brought.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from streamlab.model.events import Rows, sorted_codes
from streamlab.model.grouping import row_codes
from streamlab.model.watermark import BatchInfo, eviction_array, late_by_data_batch, spark_batch_of
from streamlab.model.windows import WindowSpec, assign

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Window:
    """One window and group: its count and the batch that emitted it."""

    start: int
    """Window start, epoch milliseconds (inclusive)."""
    end: int
    """Window end, epoch milliseconds (exclusive)."""
    group: str
    """The grouping value next to the window (``event_type``)."""
    count: int
    """Rows counted in the window."""
    first_batch: int
    """The batch that created the window's state."""
    emitted_batch: int | None
    """The batch that emitted the window, ``None`` while it is still open."""


@dataclass(frozen=True, eq=False)
class Contributions:
    """Every (row, window) pair: one entry per window a row falls in."""

    row: IntArray
    """Index of the row."""
    start: IntArray
    """Start of the window, epoch milliseconds."""
    dropped: BoolArray
    """Whether the contribution was dropped because the window had closed for late rows."""
    late_watermark: IntArray
    """The late watermark the contribution was tested against."""
    window: IntArray
    """Index into the windows list for counted contributions, -1 for dropped ones."""


@dataclass(frozen=True, eq=False)
class AggregateOutcome:
    """The windows and contributions of a windowed count, and its state after every batch."""

    windows: list[Window]
    """Every window that counted at least one row, by start then group."""
    contributions: Contributions
    """Every (row, window) pair of the rows that reached the aggregation."""
    state_rows: IntArray
    """Per batch: windows held in state after the batch."""


def aggregate(
    rows: Rows, reached: BoolArray, batches: Sequence[BatchInfo], spec: WindowSpec
) -> AggregateOutcome:
    """Count ``rows[reached]`` per window and group, in append mode, batch by batch.

    >>> from streamlab.model.watermark import InputWatermark, plan_batches
    >>> rows = Rows.from_batches([[("a", 12_000, "x")], [], [("b", 3_000, "x")]])
    >>> plan = plan_batches([InputWatermark("e", 0)], [[12_000, None, None]], data_batches=3)
    >>> out = aggregate(rows, rows.valid, plan, WindowSpec(5_000, 5_000))
    >>> [(w.start, w.count, w.emitted_batch) for w in out.windows]
    [(10000, 1, None)]
    >>> out.contributions.dropped.tolist()  # b misses [0s, 5s): it ended before 12 s
    [False, True]
    """
    idx = np.flatnonzero(reached & rows.valid)
    local, start = assign(rows.time_ms[idx], spec)
    row = idx if spec.tumbling else idx[local]  # a tumbling window has one row per time
    del local, idx
    data_batch = rows.batch[row]
    late = late_by_data_batch(batches, rows.data_batches)[data_batch]
    spark = spark_batch_of(batches, rows.data_batches)[data_batch]
    del data_batch
    dropped = start + spec.size_ms <= late
    evict = eviction_array(batches)
    window_of = np.full(len(row), -1, dtype=np.int64)
    windows: list[Window] = []
    # Views, not copies, where every contribution counts and every row has an event type
    # (the lab's data): at 10M events each copy is another 80 MB.
    keep: slice | IntArray = slice(None) if not dropped.any() else np.flatnonzero(~dropped)
    if (len(row) if isinstance(keep, slice) else len(keep)) > 0:
        # One group per (window start, event type), in that order. A row without an event type
        # forms no window here, where Spark would count it under a NULL event_type; the lab's
        # generator always writes one, so only hand-written lines can differ.
        starts, groups, read_in = start[keep], rows.group[row[keep]], spark[keep]
        has_group = np.asarray(groups != None, dtype=bool)  # noqa: E711 (elementwise)
        named: slice | IntArray = slice(None) if has_group.all() else np.flatnonzero(has_group)
        del has_group
        names, name_code = sorted_codes(groups[named])
        del groups
        summary_start, name_of, sizes, pair_of = _pairs(starts[named], name_code, spec)
        firsts = np.full(len(sizes), np.iinfo(np.int64).max, dtype=np.int64)
        np.minimum.at(firsts, pair_of, read_in[named])
        if isinstance(keep, slice) and isinstance(named, slice):
            window_of[:] = pair_of
        else:
            window_of[np.arange(len(row))[keep][named]] = pair_of
        del pair_of
        ends = summary_start + spec.size_ms
        emitted = np.searchsorted(evict, ends, side="left")
        for s, g, c, first, e in zip(
            summary_start.tolist(),
            names[name_of].tolist(),
            sizes.tolist(),
            firsts.tolist(),
            emitted.tolist(),
            strict=True,
        ):
            emitted_at = max(int(e), int(first))
            windows.append(
                Window(
                    start=int(s),
                    end=int(s) + spec.size_ms,
                    group=str(g),
                    count=int(c),
                    first_batch=int(first),
                    emitted_batch=emitted_at if emitted_at < len(evict) else None,
                )
            )
    state_rows = _state_rows(windows, len(batches))
    contributions = Contributions(row, start, dropped, late, window_of)
    return AggregateOutcome(windows, contributions, state_rows)


def _pairs(
    starts: IntArray, name_code: IntArray, spec: WindowSpec
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Return the (window start, event type) pairs of the rows, by start then type.

    Returns each pair's start, type code and row count, and each row's pair. Window starts are
    ``slide`` apart, so where the starts and types span a table not much larger than the rows,
    the pairs are counted in that table (no sort); otherwise they are sorted
    (:func:`~streamlab.model.grouping.row_codes`).
    """
    types = int(name_code.max()) + 1 if len(name_code) else 1
    low = int(starts.min()) if len(starts) else 0
    span = (int(starts.max()) - low) // spec.slide_ms + 1 if len(starts) else 1
    if span * types <= 4 * len(starts) + (1 << 16):
        cell = (starts - low) // spec.slide_ms * types + name_code
        count = np.bincount(cell, minlength=span * types)
        present = np.flatnonzero(count)
        rank = np.cumsum(count > 0) - 1
        pair_of = rank[cell]
        return (
            present // types * spec.slide_ms + low,
            present % types,
            count[present],
            pair_of,
        )
    first_of, pair_of = row_codes(starts, name_code)
    return (
        starts[first_of].astype(np.int64),
        name_code[first_of],
        np.bincount(pair_of, minlength=len(first_of)),
        pair_of,
    )


def _state_rows(windows: list[Window], n_batches: int) -> IntArray:
    delta = np.zeros(n_batches + 1, dtype=np.int64)
    for w in windows:
        delta[w.first_batch] += 1
        if w.emitted_batch is not None:
            delta[w.emitted_batch] -= 1
    return np.cumsum(delta)[:n_batches]

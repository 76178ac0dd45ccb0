"""Chained stateful operators: the output watermark of one operator is the input of the next.

Spark 4 runs several stateful operators in one query (``spark.sql.streaming.statefulOperator.
allowMultiple``, true by default). ``WatermarkPropagator`` (``PropagateWatermarkSimulator``)
walks the physical plan children first, once per batch, with the batch's global watermark:

* a ``withWatermark`` node outputs the global watermark;
* a stateful operator's *input* watermark is the smallest output watermark of its children,
  and its *output* watermark is ``produceOutputWatermark(input)``;
* a stateless node passes the smallest of its children's watermarks through;
* when the global watermark is 0 the walk is skipped and every operator gets 0, and an
  operator's input watermark is never below 0 (``getInputWatermark``: ``max(wm, 0)``);
* an operator evicts with its input watermark of this batch and drops late rows with its input
  watermark of the previous batch (``getInputWatermarkForLateEvents(batchId - 1)``).

``produceOutputWatermark`` is the input watermark for aggregations and deduplications
(``StateStoreWriter``), and for a stream-stream join the smallest of the input watermark and
both sides' state watermarks (``StreamingSymmetricHashJoinExec``): a join can still emit a row
as old as its state keeps, so what follows it sees a watermark held back by the join's range.

This module turns the query's plan of batches into the plan of the operator that follows
(:func:`downstream`), and runs the lab's ``stream_join/ctr`` query: a left outer join of
impressions and clicks, then a count per ad and impression-time window in append mode
(:func:`click_through`), and a deduplication before a join (:func:`dedup_then_join`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from streamlab.errors import StreamlabError
from streamlab.model.aggregate import AggregateOutcome, aggregate
from streamlab.model.dedup import KEPT, DedupOutcome, deduplicate
from streamlab.model.events import Rows
from streamlab.model.join import JoinCondition, JoinOutcome, join
from streamlab.model.joins import JoinType, TypedJoinOutcome, join_typed
from streamlab.model.watermark import BatchInfo
from streamlab.model.windows import WindowSpec

IntArray = npt.NDArray[np.int64]

Produce = Callable[[int], int]
"""An operator's ``produceOutputWatermark``: input watermark (ms) -> output watermark (ms)."""


def passthrough(input_ms: int) -> int:
    """``produceOutputWatermark`` of an aggregation or a deduplication: the input watermark.

    >>> passthrough(60_000)
    60000
    """
    return input_ms


def join_state_watermarks(input_ms: int, condition: JoinCondition) -> tuple[int, int]:
    """Return the left and right state watermarks of a time-range join at ``input_ms``.

    ``right_time <= left_time + upper`` bounds the left side, ``right_time >= left_time +
    lower`` the right one; each is solved with the watermark and moved back 1 ms for the
    inclusive comparison (``StreamingJoinHelper.getStateValueWatermark``). State rows with
    ``time <=`` their side's value are removed.

    >>> join_state_watermarks(100_000, JoinCondition(0, 10_000))
    (89999, 99999)
    """
    return input_ms - condition.upper_ms - 1, input_ms + condition.lower_ms - 1


def join_output_watermark(condition: JoinCondition) -> Produce:
    """Return the join's ``produceOutputWatermark``: min(input, left state, right state).

    >>> join_output_watermark(JoinCondition(0, 10_000))(100_000)
    89999
    """

    def produce(input_ms: int) -> int:
        left, right = join_state_watermarks(input_ms, condition)
        return min(input_ms, left, right)

    return produce


def operator_input(global_ms: int, produce_upstream: Sequence[Produce]) -> int:
    """Return the input watermark of the operator after ``produce_upstream`` (in plan order).

    The global watermark 0 skips the propagation (every operator gets 0); otherwise each
    upstream operator's output feeds the next, and the result is never below 0.

    >>> operator_input(100_000, [join_output_watermark(JoinCondition(0, 10_000))])
    89999
    >>> operator_input(5_000, [join_output_watermark(JoinCondition(0, 10_000))])
    0
    """
    if global_ms == 0:
        return 0
    wm = global_ms
    for produce in produce_upstream:
        wm = produce(wm)
    return max(wm, 0)


def downstream(
    batches: Sequence[BatchInfo], produce_upstream: Sequence[Produce]
) -> list[BatchInfo]:
    """Return the plan of batches as the operator after ``produce_upstream`` sees it.

    Each batch keeps its id; its ``data_batch`` is the batch itself, since what the upstream
    operator emits in Spark batch ``b`` (no-data batches included) is what this operator reads
    in ``b``. Rows fed to it carry the emitting batch as their data batch.

    >>> from streamlab.model.watermark import InputWatermark, plan_batches
    >>> plan = plan_batches([InputWatermark("i", 0)], [[100_000, 200_000]], data_batches=2)
    >>> [(b.late_watermark, b.eviction_watermark) for b in plan]
    [(0, 0), (0, 100000), (100000, 200000)]
    >>> produce = [join_output_watermark(JoinCondition(0, 10_000))]
    >>> [(b.late_watermark, b.eviction_watermark) for b in downstream(plan, produce)]
    [(0, 0), (0, 89999), (89999, 189999)]
    """
    out: list[BatchInfo] = []
    for b in batches:
        out.append(
            BatchInfo(
                batch=b.batch,
                data_batch=b.batch,
                late_watermark=operator_input(b.late_watermark, produce_upstream),
                eviction_watermark=operator_input(b.eviction_watermark, produce_upstream),
                next_watermark=operator_input(b.next_watermark, produce_upstream),
                input_watermarks=(),
                max_event_time=(),
            )
        )
    return out


def check_multiple_stateful_operators(allow_multiple: bool, shape: str) -> None:
    """Refuse a chain of stateful operators as Spark does when they are not allowed.

    With ``spark.sql.streaming.statefulOperator.allowMultiple=false`` every operator uses the
    one global watermark, and ``UnsupportedOperationChecker.checkStreamingQueryGlobalWatermark
    Limit`` refuses a stateful operator that may emit rows older than the global watermark
    (a time-range join, an aggregation in append mode) followed by another stateful operator.

    >>> check_multiple_stateful_operators(True, "a join then an aggregation")
    >>> try:
    ...     check_multiple_stateful_operators(False, "a join then an aggregation")
    ... except StreamlabError as exc:
    ...     print(str(exc)[:80])
    a join then an aggregation needs spark.sql.streaming.statefulOperator.allowMulti
    """
    if not allow_multiple:
        raise StreamlabError(
            f"{shape} needs spark.sql.streaming.statefulOperator.allowMultiple=true (Spark's "
            "default): with one global watermark the second operator would drop the first "
            "one's rows as late (UnsupportedOperationChecker refuses it)"
        )


# --- the lab's stream_join/ctr ---------------------------------------------------------------


@dataclass(frozen=True)
class CtrWindow:
    """One row of ``streaming_gold.ad_ctr``: an ad in an impression-time window."""

    window_start: int
    """Window start, epoch milliseconds."""
    window_end: int
    """Window end, epoch milliseconds."""
    ad_id: str
    """The ad."""
    impressions: int
    """Distinct impressions in the window (``size(collect_set(impression_id))``)."""
    clicked_impressions: int
    """Distinct impressions a click matched (``size(collect_set(click_impression_id))``)."""
    clicks: int
    """Joined clicks (``count(click_id)``)."""
    emitted_batch: int | None
    """The batch that wrote the window, ``None`` while it is still open."""

    @property
    def ctr(self) -> float:
        """``clicked_impressions / impressions``."""
        return self.clicked_impressions / self.impressions if self.impressions else 0.0


@dataclass(frozen=True, eq=False)
class ChainOutcome:
    """A join followed by a windowed aggregation: both operators' outcomes."""

    join: JoinOutcome
    """The join, with the query's plan of batches."""
    batches: list[BatchInfo]
    """The aggregation's plan: the join's output watermark per batch."""
    joined: Rows
    """The join's output rows as the aggregation reads them (data batch = emitting batch)."""
    left_of: IntArray
    """Per joined row: its left (impression) row."""
    right_of: IntArray
    """Per joined row: its right (click) row, -1 for a NULL row."""
    aggregate: AggregateOutcome
    """The aggregation over the joined rows."""
    windows: list[CtrWindow]
    """Every window with its counts, by start then ad."""
    state_rows: IntArray
    """Per batch: rows in both operators' state after the batch."""


def click_through(
    impressions: Rows,
    clicks: Rows,
    batches: Sequence[BatchInfo],
    condition: JoinCondition,
    window: WindowSpec,
    ad_of: Sequence[object] | None = None,
    *,
    allow_multiple: bool = True,
) -> ChainOutcome:
    """Run ``stream_join/ctr``: a left outer time-range join, then counts per ad and window.

    ``ad_of`` gives each impression's ad (default: the impressions' ``group``). The
    aggregation reads every joined row in the batch that emitted it (NULL rows in the batch
    that evicted their impression) and works with the join's output watermark.

    >>> from streamlab.model.watermark import InputWatermark, plan_batches
    >>> imps = Rows.from_batches(
    ...     [[("i1", 1_000, "ad1"), ("i2", 2_000, "ad1")], [("i3", 90_000, "ad1")]])
    >>> clicks = Rows.from_batches([[("i1", 3_000, "c1")], [("i9", 90_000, "c9")]])
    >>> plan = plan_batches([InputWatermark("i", 0), InputWatermark("c", 0)],
    ...                     [[2_000, 90_000], [3_000, 90_000]], data_batches=2)
    >>> cond, minute = JoinCondition(0, 10_000, True), WindowSpec(60_000, 60_000)
    >>> out = click_through(imps, clicks, plan, cond, minute)
    >>> [(w.window_start, w.impressions, w.clicked_impressions, w.clicks, w.emitted_batch)
    ...  for w in out.windows]  # i3 is still in the join's state: no row for its window yet
    [(0, 2, 1, 1, 2)]
    """
    check_multiple_stateful_operators(allow_multiple, "a join then an aggregation")
    if not condition.outer:
        raise StreamlabError(
            "stream_join/ctr counts impressions without a click: a left outer join"
        )
    jo = join(impressions, clicks, batches, condition)
    agg_batches = downstream(batches, [join_output_watermark(condition)])
    ads = list(impressions.group) if ad_of is None else list(ad_of)
    left: list[int] = [i for i, _, _ in jo.pairs] + [i for i, _ in jo.null_rows]
    right: list[int] = [j for _, j, _ in jo.pairs] + [-1] * len(jo.null_rows)
    emitted: list[int] = [b for _, _, b in jo.pairs] + [b for _, b in jo.null_rows]
    left_of = np.asarray(left, dtype=np.int64)
    right_of = np.asarray(right, dtype=np.int64)
    order = np.argsort(np.asarray(emitted, dtype=np.int64), kind="stable")
    left_of, right_of = left_of[order], right_of[order]
    batch_of = np.asarray(emitted, dtype=np.int64)[order]
    group = np.empty(len(left_of), dtype=object)
    group[:] = [ads[i] for i in left_of.tolist()]
    joined = Rows.from_arrays(
        batch_of,
        impressions.time_ms[left_of],
        impressions.key[left_of],
        group,
        data_batches=len(batches),
    )
    agg = aggregate(joined, joined.valid, agg_batches, window)
    windows = _ctr_windows(agg, joined, clicks, right_of)
    return ChainOutcome(
        jo, agg_batches, joined, left_of, right_of, agg, windows, jo.state_rows + agg.state_rows
    )


def _ctr_windows(
    agg: AggregateOutcome, joined: Rows, clicks: Rows, right_of: IntArray
) -> list[CtrWindow]:
    c = agg.contributions
    members: dict[int, list[int]] = {}
    for row, w in zip(c.row.tolist(), c.window.tolist(), strict=True):
        if w >= 0:
            members.setdefault(w, []).append(row)
    keys = joined.key.tolist()
    out: list[CtrWindow] = []
    for w_idx, w in enumerate(agg.windows):
        rows = members.get(w_idx, [])
        matched = [r for r in rows if right_of[r] >= 0]
        out.append(
            CtrWindow(
                window_start=w.start,
                window_end=w.end,
                ad_id=w.group,
                impressions=len({keys[r] for r in rows}),
                # The click's impression id equals the impression's: the join is on it.
                clicked_impressions=len({keys[r] for r in matched}),
                clicks=sum(1 for r in matched if clicks.group[right_of[r]] is not None),
                emitted_batch=w.emitted_batch,
            )
        )
    return out


# --- generic chains: any join type, then a window; a window, then a window -------------------


def equal_time_output_watermark(input_ms: int) -> int:
    """``produceOutputWatermark`` of a join whose keys hold the event time (``t1 = t2``).

    The state is evicted by key (``JoinStateKeyWatermarkPredicate``: ``time <= watermark``), so
    the state watermark is the input watermark itself and nothing holds the output back.

    >>> equal_time_output_watermark(4_000)
    4000
    """
    return input_ms


@dataclass(frozen=True, eq=False)
class WindowedRows:
    """What an aggregation after another operator counted: per window, rows and a sum."""

    aggregate: AggregateOutcome
    """The aggregation, planned with ``batches``."""
    batches: list[BatchInfo]
    """The aggregation's plan (its input watermarks)."""
    rows: Rows
    """Its input rows (data batch = the batch that emitted them upstream)."""
    values: npt.NDArray[np.int64]
    """Per input row, the value ``sum`` adds (1 for joined rows, the count for windows)."""

    def table(self) -> list[tuple[int, int, int, int, int | None]]:
        """Return ``(start, end, count, sum, emitted batch)`` per window, by start."""
        c = self.aggregate.contributions
        sums: dict[int, int] = {}
        for row, w in zip(c.row.tolist(), c.window.tolist(), strict=True):
            if w >= 0:
                sums[w] = sums.get(w, 0) + int(self.values[row])
        return [
            (w.start, w.end, w.count, sums.get(k, 0), w.emitted_batch)
            for k, w in enumerate(self.aggregate.windows)
        ]


def count_after(
    emitted: Sequence[tuple[int, int, int]],
    batches: Sequence[BatchInfo],
    produce_upstream: Sequence[Produce],
    window: WindowSpec,
) -> WindowedRows:
    """Count ``(event time, value, emitting batch)`` rows in ``window`` after other operators.

    The aggregation's watermarks are the upstream operators' output (:func:`downstream`); a
    row read in batch ``b`` is late for a window when ``window.end <=`` the aggregation's late
    watermark of ``b``. The group is the same for every row.
    """
    plan = downstream(batches, produce_upstream)
    order = sorted(range(len(emitted)), key=lambda k: emitted[k][2])
    batch = np.array([emitted[k][2] for k in order], dtype=np.int64)
    time = np.array([emitted[k][0] for k in order], dtype=np.int64)
    values = np.array([emitted[k][1] for k in order], dtype=np.int64)
    group = np.empty(len(order), dtype=object)
    group[:] = [""] * len(order)
    rows = Rows.from_arrays(batch, time, group.copy(), group, data_batches=len(batches))
    return WindowedRows(aggregate(rows, rows.valid, plan, window), plan, rows, values)


def windows_as_rows(windowed: WindowedRows) -> list[tuple[int, int, int]]:
    """Return the emitted windows as the next aggregation reads them.

    A window column grouped again is read at ``window_time(window)`` = ``end - 1 µs``; in
    milliseconds ``end - 1`` falls in the same next window whenever the windows are whole
    milliseconds. The value is the window's count.
    """
    return [
        (end - 1, count, emitted)
        for _, end, count, _, emitted in windowed.table()
        if emitted is not None
    ]


# --- deduplication, then a join ----------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DedupJoinOutcome:
    """``dropDuplicatesWithinWatermark`` on one or both inputs, then a stream-stream join."""

    join: TypedJoinOutcome
    """The join over the rows the deduplications let through; its row numbers are positions
    in ``left_rows`` and ``right_rows``."""
    left_rows: IntArray
    """Per row the join saw on the left: its number among the left input's rows."""
    right_rows: IntArray
    """Per row the join saw on the right: its number among the right input's rows."""
    left_dedup: DedupOutcome | None
    """The left input's deduplication, if it has one."""
    right_dedup: DedupOutcome | None
    """The right input's deduplication, if it has one."""
    state_rows: IntArray
    """Per batch: rows in every operator's state after the batch."""


def dedup_then_join(
    left: Rows,
    right: Rows,
    batches: Sequence[BatchInfo],
    condition: JoinCondition,
    how: JoinType,
    *,
    left_delay_ms: int | None = None,
    right_delay_ms: int | None = None,
) -> DedupJoinOutcome:
    """Deduplicate each input that has a delay (on its ``key``), then join what is left.

    A deduplication's output watermark is its input (``StateStoreWriter``), so the join runs
    with the query's own watermarks (``operator_input`` of ``passthrough`` is the global
    watermark); the deduplication drops the late rows first, with the same late watermark, so
    the join never sees a late row of a deduplicated input.

    >>> from streamlab.model.watermark import InputWatermark, plan_batches
    >>> imps = Rows.from_batches([[("i1", 1_000, "i1")]])
    >>> clicks = Rows.from_batches([[("i1", 2_000, "c1"), ("i1", 3_000, "c2")]])
    >>> plan = plan_batches([InputWatermark("i", 0), InputWatermark("c", 0)],
    ...                     [[1_000], [3_000]], data_batches=1)
    >>> out = dedup_then_join(imps, clicks, plan, JoinCondition(0, 10_000), JoinType.INNER,
    ...                       right_delay_ms=0)
    >>> [(int(out.left_rows[i]), int(out.right_rows[j])) for i, j, _ in out.join.pairs]
    [(0, 0)]
    """
    ld = deduplicate(left, batches, left_delay_ms) if left_delay_ms is not None else None
    rd = deduplicate(right, batches, right_delay_ms) if right_delay_ms is not None else None
    lk = np.flatnonzero(ld.outcome == KEPT) if ld is not None else np.arange(len(left))
    rk = np.flatnonzero(rd.outcome == KEPT) if rd is not None else np.arange(len(right))
    jo = join_typed(left.take(lk), right.take(rk), batches, condition, how)
    state = jo.state_rows.copy()
    for d in (ld, rd):
        if d is not None:
            state = state + d.state_rows
    return DedupJoinOutcome(jo, lk, rk, ld, rd, state)

"""Spark's own tests of chained stateful operators and of the join's output watermark, replayed
through the model with the expected rows and watermarks the suites assert.

Each case names its suite and test. ``MultiAddData`` followed by a check is one landed batch
processed under a running query, so the plan is the live trigger's (a no-data batch after each
data batch when the watermark moved). Times are milliseconds; ``T`` turns the suites'
``Timestamp.valueOf("2023-01-01 01:00:10")`` (UTC) into them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from streamlab.model import JoinCondition, Rows, Trigger, WindowSpec
from streamlab.model.chain import (
    count_after,
    downstream,
    equal_time_output_watermark,
    join_output_watermark,
    passthrough,
    windows_as_rows,
)
from streamlab.model.joins import JoinType, join_typed
from streamlab.model.watermark import InputWatermark, batch_maxima, plan_batches

S = 1000
MINUTE = 60 * S
HOUR = 60 * MINUTE


def T(text: str) -> int:
    return round(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def plan_two(left: Rows, right: Rows, n: int) -> list:  # type: ignore[type-arg]
    maxima = [batch_maxima(r.batch, r.time_ms, r.valid, n) for r in (left, right)]
    return plan_batches(
        [InputWatermark("left", 0), InputWatermark("right", 0)],
        maxima,
        data_batches=n,
        trigger=Trigger.PROCESSING_TIME,
    )


# MultiStatefulOperatorsSuite: test("stream-stream time interval join - output watermark for
# various intervals"): produceOutputWatermark(0) of three joins.
@pytest.mark.parametrize(
    ("between", "condition", "expected"),
    [
        # leftEventTime BETWEEN rightEventTime AND rightEventTime + INTERVAL 40 seconds
        ("right .. right + 40 s", JoinCondition(-40 * S, 0), -40 * S - 1),
        # leftEventTime BETWEEN rightEventTime - INTERVAL 30 seconds AND rightEventTime
        ("right - 30 s .. right", JoinCondition(0, 30 * S), -30 * S - 1),
        # ... BETWEEN rightEventTime - INTERVAL 30 seconds AND rightEventTime + INTERVAL 40 s
        ("right - 30 s .. right + 40 s", JoinCondition(-40 * S, 30 * S), -40 * S - 1),
    ],
)
def test_join_output_watermark_for_various_intervals(
    between: str, condition: JoinCondition, expected: int
) -> None:
    assert join_output_watermark(condition)(0) == expected, between


def _outer_join_then_count(how: JoinType) -> tuple[list, object]:  # type: ignore[type-arg]
    # s1.timestamp1 BETWEEN s2.timestamp2 - INTERVAL 1 hour AND s2.timestamp2 + INTERVAL 1 hour
    condition = JoinCondition(-HOUR, HOUR)
    first = [("1", T("2023-01-01 01:00:10")), ("2", T("2023-01-01 01:00:30"))]
    second = [("1", T("2023-01-01 01:00:20"))]
    # The left outer case feeds `first` to input1 (the left); the right outer case to input2.
    a, b = (first, second) if how is JoinType.LEFT_OUTER else (second, first)
    left = Rows.from_batches(
        [
            [(k, t, k) for k, t in a],
            [("5", T("2023-01-01 01:15:00"), "5")],
            [("5", T("2023-01-01 02:16:00"), "5")],
        ]
    )
    right = Rows.from_batches(
        [
            [(k, t, k) for k, t in b],
            [("6", T("2023-01-01 01:15:00"), "6")],
            [("6", T("2023-01-01 02:16:00"), "6")],
        ]
    )
    plan = plan_two(left, right, 3)
    jo = join_typed(left, right, plan, condition, how)
    on = left if how is JoinType.LEFT_OUTER else right
    rows = [(int(left.time_ms[i]), 1, bb) for i, _, bb in jo.pairs]
    if how is JoinType.LEFT_OUTER:
        rows += [(int(left.time_ms[i]), 1, bb) for i, bb in jo.left_nulls]
    else:
        rows = [(int(right.time_ms[j]), 1, bb) for _, j, bb in jo.pairs]
        rows += [(int(right.time_ms[j]), 1, bb) for j, bb in jo.right_nulls]
    assert on is not None
    counted = count_after(rows, plan, [join_output_watermark(condition)], WindowSpec.of("10m"))
    return plan, counted


# MultiStatefulOperatorsSuite: test("stream-stream time interval left outer join ->
# aggregation, append mode") and test("stream-stream time interval right outer join ->
# aggregation, append mode") (the same with the inputs swapped, grouped by timestamp2).
@pytest.mark.parametrize("how", [JoinType.LEFT_OUTER, JoinType.RIGHT_OUTER], ids=str)
def test_outer_join_then_aggregation(how: JoinType) -> None:
    plan, counted = _outer_join_then_count(how)
    agg = counted.batches  # type: ignore[attr-defined]
    # Three data batches, each followed by a no-data batch.
    assert [b.data_batch for b in plan] == [0, None, 1, None, 2, None]
    # joinOperator / aggSaveOperator eventTimeWatermarkForLateEvents and ...ForEviction after
    # each step: the aggregation works one hour and 1 ms behind the join.
    assert (plan[1].late_watermark, plan[1].eviction_watermark) == (0, T("2023-01-01 01:00:20"))
    assert (agg[1].late_watermark, agg[1].eviction_watermark) == (
        0,
        T("2023-01-01 00:00:20") - 1,
    )
    assert (plan[3].late_watermark, plan[3].eviction_watermark) == (
        T("2023-01-01 01:00:20"),
        T("2023-01-01 01:15:00"),
    )
    assert (agg[3].late_watermark, agg[3].eviction_watermark) == (
        T("2023-01-01 00:00:20") - 1,
        T("2023-01-01 00:15:00") - 1,
    )
    assert (plan[5].late_watermark, plan[5].eviction_watermark) == (
        T("2023-01-01 01:15:00"),
        T("2023-01-01 02:16:00"),
    )
    assert (agg[5].late_watermark, agg[5].eviction_watermark) == (
        T("2023-01-01 00:15:00") - 1,
        T("2023-01-01 01:16:00") - 1,
    )
    emitted = [(s, e, c, b) for s, e, c, _, b in counted.table() if b is not None]  # type: ignore[attr-defined]
    # CheckAnswer(("2023-01-01 01:00:00", "2023-01-01 01:10:00", 2)) after the third step only.
    assert emitted == [(T("2023-01-01 01:00:00"), T("2023-01-01 01:10:00"), 2, 5)]


# MultiStatefulOperatorsSuite: test("join -> window agg, append mode"): an inner join on
# eventTime1 = eventTime2, then 5-second windows of eventTime1.
def test_join_on_equal_event_times_then_window_aggregation() -> None:
    step0 = [(str(v), v * S, str(v)) for v in range(1, 5)]
    left = Rows.from_batches([step0, [("5", 5 * S, "5")]])
    right = Rows.from_batches([step0, [("5", 5 * S, "5")]])
    plan = plan_two(left, right, 2)
    jo = join_typed(left, right, plan, JoinCondition(0, 0), JoinType.INNER, time_in_key=True)
    assert [(int(left.key[i]), int(right.key[j]), b) for i, j, b in jo.pairs] == [
        (1, 1, 0),
        (2, 2, 0),
        (3, 3, 0),
        (4, 4, 0),
        (5, 5, 2),
    ]
    rows = [(int(left.time_ms[i]), 1, b) for i, _, b in jo.pairs]
    counted = count_after(rows, plan, [equal_time_output_watermark], WindowSpec.of("5s"))
    # op2 W (0, 4) after the first step's no-data batch, (4, 5) after the second's.
    assert [(b.late_watermark, b.eviction_watermark) for b in counted.batches] == [
        (0, 0),
        (0, 4 * S),
        (4 * S, 4 * S),
        (4 * S, 5 * S),
    ]
    # CheckNewAnswer() after step 0, CheckNewAnswer((0, 4)) after step 1.
    assert [(s // S, c, b) for s, _, c, _, b in counted.table() if b is not None] == [(0, 4, 3)]


def _events(steps: list[list[int]]) -> tuple[Rows, list]:  # type: ignore[type-arg]
    rows = Rows.from_batches(
        [[(f"{b}-{v}", v * S, "") for v in step] for b, step in enumerate(steps)]
    )
    plan = plan_batches(
        [InputWatermark("events", 0)],
        [batch_maxima(rows.batch, rows.time_ms, rows.valid, len(steps))],
        data_batches=len(steps),
        trigger=Trigger.PROCESSING_TIME,
    )
    return rows, plan


def _first_counts(rows: Rows, plan: list, size: str) -> object:  # type: ignore[type-arg]
    spark_of = {b.data_batch: b.batch for b in plan if b.data_batch is not None}
    raw = [(int(t), 1, spark_of[int(d)]) for t, d in zip(rows.time_ms, rows.batch, strict=True)]
    return count_after(raw, plan, [], WindowSpec.of(size))


# MultiStatefulOperatorsSuite: test("window agg -> window agg, append mode").
def test_window_aggregation_then_window_aggregation() -> None:
    rows, plan = _events([list(range(10, 22)), list(range(10, 30)), [30, 31]])
    op1 = _first_counts(rows, plan, "5s")
    op2 = count_after(windows_as_rows(op1), plan, [passthrough], WindowSpec.of("10s"))  # type: ignore[arg-type]
    out = [(s // S, c, total, b) for s, _, c, total, b in op2.table() if b is not None]
    # CheckNewAnswer((10, 2, 10)); CheckNewAnswer(); CheckNewAnswer((20, 2, 12)).
    assert out == [(10, 2, 10, 1), (20, 2, 12, 5)]
    # assertNumRowsDroppedByWatermark(Seq(0, 2)) after step 1: op1 drops [10, 15) and [15, 20).
    c = op1.aggregate.contributions  # type: ignore[attr-defined]
    dropped = {int(s) for s, gone in zip(c.start.tolist(), c.dropped.tolist(), strict=True) if gone}
    assert dropped == {10 * S, 15 * S}


# MultiStatefulOperatorsSuite: test("agg -> agg -> agg, append mode").
def test_three_window_aggregations_in_a_row() -> None:
    rows, plan = _events([list(range(0, 38)), list(range(30, 61))])
    op1 = _first_counts(rows, plan, "5s")
    op2 = count_after(windows_as_rows(op1), plan, [passthrough], WindowSpec.of("10s"))  # type: ignore[arg-type]
    # The third sums the second's sums: feed it (time, sum) pairs.
    second = [(e - 1, total, b) for _, e, _, total, b in op2.table() if b is not None]
    op3 = count_after(second, plan, [passthrough, passthrough], WindowSpec.of("20s"))
    out = [(s // S, e // S, c, total, b) for s, e, c, total, b in op3.table() if b is not None]
    # CheckNewAnswer((0, 20, 2, 20)); CheckNewAnswer((20, 40, 2, 23), (40, 60, 2, 20)).
    assert out == [(0, 20, 2, 20, 1), (20, 40, 2, 23, 3), (40, 60, 2, 20, 3)]
    # assertNumRowsDroppedByWatermark(Seq(0, 0, 1)) after step 1: op1 drops its rows of
    # [30, 35), counted once per window after the partial aggregation (rule L4).
    c = op1.aggregate.contributions  # type: ignore[attr-defined]
    assert {
        int(s) for s, gone in zip(c.start.tolist(), c.dropped.tolist(), strict=True) if gone
    } == {30 * S}


def test_downstream_of_no_operator_is_the_plan_itself() -> None:
    _, plan = _events([[10, 20], [30]])
    assert [(b.late_watermark, b.eviction_watermark) for b in downstream(plan, [])] == [
        (b.late_watermark, b.eviction_watermark) for b in plan
    ]


# --- StreamingJoinSuite's windowed joins: keys and 10-second windows equal on both sides -----


def _windowed(
    how: JoinType,
    steps: list[tuple[list[int], list[int]]],
    left_keep: Any = None,
    right_keep: Any = None,
) -> list[list[tuple[Any, ...]]]:
    """``setupWindowedJoin(how)``: key = value, time = value seconds, leftValue = 2 * value,
    rightValue = 3 * value, 10-second watermarks, join on key and 10-second window. Returns
    the rows of each step (its data batch and the no-data batch after it) as
    ``(key, window end s, leftValue, rightValue)``, NULLs as ``None``."""
    left = Rows.from_batches([[(str(v), v * S, str(v)) for v in lv] for lv, _ in steps])
    right = Rows.from_batches([[(str(v), v * S, str(v)) for v in rv] for _, rv in steps])
    maxima = [batch_maxima(r.batch, r.time_ms, r.valid, len(steps)) for r in (left, right)]
    plan = plan_batches(
        [InputWatermark("left", 10 * S), InputWatermark("right", 10 * S)],
        maxima,
        data_batches=len(steps),
        trigger=Trigger.PROCESSING_TIME,
    )
    keep_l = None if left_keep is None else [left_keep(int(k)) for k in left.key]
    keep_r = None if right_keep is None else [right_keep(int(k)) for k in right.key]
    jo = join_typed(
        left,
        right,
        plan,
        JoinCondition(0, 0),
        how,
        window=WindowSpec.of("10s"),
        left_keep=keep_l,  # type: ignore[arg-type]
        right_keep=keep_r,  # type: ignore[arg-type]
    )

    def end(t: int) -> int:
        return (t // (10 * S) + 1) * 10

    step_of = {}
    step = -1
    for b in plan:
        if b.data_batch is not None:
            step = b.data_batch
        step_of[b.batch] = step
    out: list[list[tuple[Any, ...]]] = [[] for _ in steps]
    for i, j, b in jo.pairs:
        v = int(left.key[i])
        out[step_of[b]].append((v, end(v * S), 2 * v, 3 * int(right.key[j])))
    for i, b in jo.left_nulls:
        v = int(left.key[i])
        out[step_of[b]].append((v, end(v * S), 2 * v, None))
    for j, b in jo.right_nulls:
        v = int(right.key[j])
        out[step_of[b]].append((v, end(v * S), None, 3 * v))
    return [sorted(rows) for rows in out]


WINDOWED_STEPS = [([1, 2, 3, 4, 5], [3, 4, 5, 6, 7]), ([21], [22]), ([22], [])]
INNER_PART = [(3, 10, 6, 9), (4, 10, 8, 12), (5, 10, 10, 15)]


# StreamingOuterJoinSuite: test("windowed left outer join"): the watermark moves to 11 s after
# the second step and the no-data batch emits the unmatched left rows of [0, 10).
def test_windowed_left_outer_join() -> None:
    assert _windowed(JoinType.LEFT_OUTER, WINDOWED_STEPS) == [
        INNER_PART,
        [(1, 10, 2, None), (2, 10, 4, None)],
        [(22, 30, 44, 66)],
    ]


# StreamingOuterJoinSuite: test("windowed right outer join").
def test_windowed_right_outer_join() -> None:
    assert _windowed(JoinType.RIGHT_OUTER, WINDOWED_STEPS) == [
        INNER_PART,
        [(6, 10, None, 18), (7, 10, None, 21)],
        [(22, 30, 44, 66)],
    ]


# StreamingFullOuterJoinSuite: test("windowed full outer join") (up to its StopStream).
def test_windowed_full_outer_join() -> None:
    assert _windowed(JoinType.FULL_OUTER, WINDOWED_STEPS) == [
        INNER_PART,
        [(1, 10, 2, None), (2, 10, 4, None), (6, 10, None, 18), (7, 10, None, 21)],
        [(22, 30, 44, 66)],
    ]


# StreamingOuterJoinSuite: test("right outer early state exclusion on right"): the condition
# also has rightValue > 7, a right-only predicate.
def test_right_outer_early_state_exclusion_on_right() -> None:
    steps = [([3, 4, 5], [1, 2, 3]), ([20], [21]), ([], [20])]
    got = _windowed(JoinType.RIGHT_OUTER, steps, right_keep=lambda v: 3 * v > 7)
    # The right rows with rightValue <= 7 get their outer row at once, never stored.
    assert got == [[(1, 10, None, 3), (2, 10, None, 6), (3, 10, 6, 9)], [], [(20, 30, 40, 60)]]


# StreamingFullOuterJoinSuite: test("full outer early state exclusion on left"): leftValue > 4.
def test_full_outer_early_state_exclusion_on_left() -> None:
    steps = [([1, 2, 3], [3, 4, 5]), ([20], [21]), ([], [20])]
    got = _windowed(JoinType.FULL_OUTER, steps, left_keep=lambda v: 2 * v > 4)
    assert got == [
        [(1, 10, 2, None), (2, 10, 4, None), (3, 10, 6, 9)],
        [(4, 10, None, 12), (5, 10, None, 15)],
        [(20, 30, 40, 60)],
    ]


# StreamingFullOuterJoinSuite: test("full outer early state exclusion on right"): rightValue > 7.
def test_full_outer_early_state_exclusion_on_right() -> None:
    steps = [([3, 4, 5], [1, 2, 3]), ([20], [21]), ([], [20])]
    got = _windowed(JoinType.FULL_OUTER, steps, right_keep=lambda v: 3 * v > 7)
    assert got == [
        [(1, 10, None, 3), (2, 10, None, 6), (3, 10, 6, 9)],
        [(4, 10, 8, None), (5, 10, 10, None)],
        [(20, 30, 40, 60)],
    ]

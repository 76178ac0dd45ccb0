"""Spark's own tests of full outer and left semi stream-stream joins, ported to
streamlab.testing; each passes with the suite's explicit rows and with ModelAnswer().

Left semi joins hold fewer state rows in Spark 4.3 than the suite's older assertions say:
SPARK-55973 removes a left row from state as soon as a right row matches it. The rows are the
suite's; the state counts are Spark 4.3's, each next to the suite's in a comment.

The full outer case runs its two checks (explicit rows, the model's answer) as concurrent
queries; the others check both in one query (``tests.support.suites.once``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from streamlab.testing import (
    AddData,
    CheckAnswer,
    CheckNewAnswer,
    ExpectLate,
    ExpectStateRows,
    ModelAnswer,
    StartStream,
    StopStream,
)
from streamlab.testing.steps import Step
from tests.support.suites import once

SIDES = {"left": "leftKey int, leftTime timestamp", "right": "rightKey int, rightTime timestamp"}


def as_model(steps: Sequence[Step]) -> list[Step]:
    out: list[Step] = []
    for s in steps:
        if isinstance(s, CheckNewAnswer | CheckAnswer):
            out.append(type(s)(ModelAnswer()))
        elif isinstance(s, ExpectStateRows):
            out.append(ExpectStateRows(ModelAnswer()))
        else:
            out.append(s)
    return out


def both(stream_test: Any, query: Callable[..., DataFrame], steps: list[Step]) -> None:
    runs = [stream_test(query, inputs=SIDES).run, stream_test(query, inputs=SIDES).run]
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(runs[0], *steps), pool.submit(runs[1], *as_model(steps))]
        for f in futures:
            f.result()


def range_join(how: str) -> Callable[[DataFrame, DataFrame], DataFrame]:
    """StreamingJoinSuite's ``setupJoinWithRangeCondition(how)``."""

    def query(left: DataFrame, right: DataFrame) -> DataFrame:
        df1 = left.withWatermark("leftTime", "10 seconds")
        df2 = right.withWatermark("rightTime", "10 seconds")
        condition = F.expr(
            "leftKey = rightKey AND "
            "leftTime BETWEEN rightTime - interval 5 seconds AND rightTime + interval 5 seconds"
        )
        joined = df1.join(df2, condition, how)
        if how == "left_semi":
            return joined.select("leftKey", F.col("leftTime").cast("int"))
        return joined.select(
            "leftKey", "rightKey", F.col("leftTime").cast("int"), F.col("rightTime").cast("int")
        )

    return query


# StreamingFullOuterJoinSuite (StreamingJoinSuite.scala):
# test("full outer join with watermark range condition")
def test_full_outer_join_with_watermark_range_condition(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([(1, 5), (3, 5)], to="left"),
        CheckNewAnswer([]),
        ExpectStateRows(2),
        AddData([(1, 10), (2, 5)], to="right"),
        CheckNewAnswer([(1, 1, 5, 10)]),  # match left row in the state
        ExpectStateRows(4),
        AddData([(1, 9)], to="right"),
        CheckNewAnswer([(1, 1, 5, 9)]),
        ExpectStateRows(5),
        # Increase event time watermark to 20s by adding data with time = 30s on both inputs.
        AddData([(1, 7), (1, 30)], to="left"),
        CheckNewAnswer([(1, 1, 7, 9), (1, 1, 7, 10)]),
        ExpectStateRows(7),
        # Watermark = 30 - 10 = 20: outer rows for every unmatched row of both sides.
        AddData([(0, 30)], to="right"),
        CheckNewAnswer([(3, None, 5, None), (None, 2, None, 5)]),
        ExpectStateRows(2),
    ]
    both(stream_test, range_join("full_outer"), steps)


# StreamingLeftSemiJoinSuite (StreamingJoinSuite.scala):
# test("left semi join with watermark range condition")
@pytest.mark.slow  # a Spark run of many batches: out of the fast subset
def test_left_semi_join_with_watermark_range_condition(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([(1, 5), (3, 5)], to="left"),
        CheckNewAnswer([]),
        ExpectStateRows(2),
        AddData([(1, 10), (2, 5)], to="right"),
        CheckNewAnswer([(1, 5)]),  # match left row in the state
        ExpectStateRows(3),  # suite: 4; Spark 4.3 removes the matched (1, 5) at once
        AddData([(1, 9)], to="right"),
        CheckNewAnswer([]),  # no match: the left row was matched already
        ExpectStateRows(4),  # suite: 5
        # Increase event time watermark to 20s by adding data with time = 30s on both inputs.
        AddData([(1, 7), (1, 30)], to="left"),
        CheckNewAnswer([(1, 7)]),
        ExpectStateRows(5),  # suite: 6; left (3, 5), (1, 30), right (1, 10), (2, 5), (1, 9)
        # Watermark = 30 - 10 = 20, no matched row.
        AddData([(0, 30)], to="right"),
        CheckNewAnswer([]),
        ExpectStateRows(2),  # left (1, 30), right (0, 30)
    ]
    once(stream_test, range_join("left_semi"), steps, inputs=SIDES)


# --- MultiStatefulOperatorsSuite: a join, then a window aggregation on the join's output -----
# Spark's MultiAddData lands both inputs in one batch; here each AddData is its own batch (the
# first input's, then the second's), and each check reads the batches of both. Spark's
# assertNumStateRows(Seq(a, b)) is one number here, a + b.

IDS = {"input1": "id1 string, timestamp1 timestamp", "input2": "id2 string, timestamp2 timestamp"}


def T(text: str) -> datetime:
    return datetime.fromisoformat(text)


def interval_join_then_count(how: str, on: str) -> Callable[..., DataFrame]:
    def query(input1: DataFrame, input2: DataFrame) -> DataFrame:
        s1 = input1.withWatermark("timestamp1", "0 seconds").alias("s1")
        s2 = input2.withWatermark("timestamp2", "0 seconds").alias("s2")
        s3 = s1.join(
            s2,
            F.expr(
                "s1.id1 = s2.id2 AND (s1.timestamp1 BETWEEN "
                "s2.timestamp2 - INTERVAL 1 hour AND s2.timestamp2 + INTERVAL 1 hour)"
            ),
            how,
        )
        # The suite casts the window's bounds to strings in UTC; here they stay timestamps.
        return (
            s3.groupBy(F.window(on, "10 minutes"))
            .agg(F.count("*").alias("cnt"))
            .selectExpr("window.start AS window_start", "window.end AS window_end", "cnt")
        )

    return query


# MultiStatefulOperatorsSuite:
# test("stream-stream time interval left outer join -> aggregation, append mode")
@pytest.mark.slow  # a Spark run of many batches: out of the fast subset
def test_interval_left_outer_join_then_aggregation(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([("1", T("2023-01-01 01:00:10")), ("2", T("2023-01-01 01:00:30"))], to="input1"),
        AddData([("1", T("2023-01-01 01:00:20"))], to="input2"),
        # the aggregation's eviction watermark is the join's output, 00:00:20 less 1 ms
        CheckAnswer([]),
        AddData([("5", T("2023-01-01 01:15:00"))], to="input1"),
        AddData([("6", T("2023-01-01 01:15:00"))], to="input2"),
        CheckAnswer([]),
        AddData([("5", T("2023-01-01 02:16:00"))], to="input1"),
        AddData([("6", T("2023-01-01 02:16:00"))], to="input2"),
        # ("2", 01:00:30) and ("5", 01:15:00) leave the join with NULLs; [01:00, 01:10) closes
        CheckAnswer([(T("2023-01-01 01:00:00"), T("2023-01-01 01:10:00"), 2)]),
    ]
    once(stream_test, interval_join_then_count("leftOuter", "timestamp1"), steps, inputs=IDS)


# MultiStatefulOperatorsSuite:
# test("stream-stream time interval right outer join -> aggregation, append mode")
@pytest.mark.slow  # a Spark run of many batches: out of the fast subset
def test_interval_right_outer_join_then_aggregation(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([("1", T("2023-01-01 01:00:10")), ("2", T("2023-01-01 01:00:30"))], to="input2"),
        AddData([("1", T("2023-01-01 01:00:20"))], to="input1"),
        CheckAnswer([]),
        AddData([("5", T("2023-01-01 01:15:00"))], to="input2"),
        AddData([("6", T("2023-01-01 01:15:00"))], to="input1"),
        CheckAnswer([]),
        AddData([("5", T("2023-01-01 02:16:00"))], to="input2"),
        AddData([("6", T("2023-01-01 02:16:00"))], to="input1"),
        CheckAnswer([(T("2023-01-01 01:00:00"), T("2023-01-01 01:10:00"), 2)]),
    ]
    once(stream_test, interval_join_then_count("rightOuter", "timestamp2"), steps, inputs=IDS)


VALUES = {
    "input1": "value1 int, eventTime1 timestamp",
    "input2": "value2 int, eventTime2 timestamp",
}


def equal_times_then_window(input1: DataFrame, input2: DataFrame) -> DataFrame:
    # The suite computes eventTime = timestamp_seconds(value); here both columns are input.
    df1 = input1.withWatermark("eventTime1", "0 seconds")
    df2 = input2.withWatermark("eventTime2", "0 seconds")
    return (
        df1.join(df2, F.expr("eventTime1 = eventTime2"), "inner")
        .groupBy(F.window("eventTime1", "5 seconds").alias("window"))
        .agg(F.count("*").alias("count"))
        .select(F.col("window").getField("start").cast("long"), "count")
    )


# MultiStatefulOperatorsSuite: test("join -> window agg, append mode")
@pytest.mark.slow  # a Spark run of many batches: out of the fast subset
def test_join_then_window_aggregation(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([(v, v) for v in range(1, 5)], to="input1"),
        AddData([(v, v) for v in range(1, 5)], to="input2"),
        CheckNewAnswer([]),
        ExpectStateRows(1),  # Seq(1, 0) after the no-data batch: the join's state is gone
        AddData([(5, 5)], to="input1"),  # Move the watermark
        AddData([(5, 5)], to="input2"),
        CheckNewAnswer([(0, 4)]),
        ExpectStateRows(1),  # Seq(1, 0)
        ExpectLate(0),
    ]
    once(stream_test, equal_times_then_window, steps, inputs=VALUES)


# StreamingOuterJoinSuite (StreamingJoinSuite.scala): test("right outer with watermark range
# condition") (the first of its queries; the other two change only the interval's spelling)
@pytest.mark.slow  # a Spark run of many batches: out of the fast subset
def test_right_outer_with_watermark_range_condition(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([(1, 5), (3, 5)], to="left"),
        CheckAnswer([]),
        AddData([(1, 10), (2, 5)], to="right"),
        CheckNewAnswer([(1, 1, 5, 10)]),
        AddData([(1, 11)], to="right"),
        CheckNewAnswer([]),  # no match as left time is too low
        ExpectStateRows(5),
        # Increase event time watermark to 20s by adding data with time = 30s on both inputs
        AddData([(1, 7), (1, 30)], to="left"),
        CheckNewAnswer([(1, 1, 7, 10), (1, 1, 7, 11)]),
        ExpectStateRows(7),
        AddData([(0, 30)], to="right"),  # watermark = 30 - 10 = 20, no-data-batch computes nulls
        CheckNewAnswer([(None, 2, None, 5)]),
        ExpectStateRows(2),
    ]
    once(stream_test, range_join("right_outer"), steps, inputs=SIDES)


# --- StreamingJoinSuite's windowed joins: equal keys and equal 10-second windows -------------
# setupStream(prefix, multiplier) gives key = v, time = v seconds, value = v * multiplier; here
# those are the input columns. The two sides' columns are named apart (leftKey, leftWindow /
# rightKey, rightWindow) where the suite calls both "key" and "window": the USING join's output
# key is the left one (left outer, left semi), the right one (right outer) or their coalesce
# (full outer), as the suite's join on Seq("key", "window") gives. MultiAddData(left)(right) is
# two AddData here, the left first. Spark's assertNumStateRows(total = n) is ExpectStateRows(n).

WINDOWED = {
    "left": "leftKey int, leftTime timestamp, leftValue int",
    "right": "rightKey int, rightTime timestamp, rightValue int",
}
WINDOWED_STRING = {**WINDOWED, "right": "rightKey int, rightTime timestamp, rightValue string"}
"""setupWindowedJoinWith{Left,Right}Condition: the right value is cast to a string."""


def lefts(*vs: int) -> list[tuple[int, int, int]]:
    return [(v, v, v * 2) for v in vs]


def rights(*vs: int) -> list[tuple[int, int, int]]:
    return [(v, v, v * 3) for v in vs]


def right_strings(*vs: int) -> list[tuple[int, int, str]]:
    return [(v, v, str(v * 3)) for v in vs]


def windowed_join(how: str, condition: str = "") -> Callable[..., DataFrame]:
    """setupWindowedJoin(how) and, with ``condition`` "left" or "right",
    setupWindowedJoinWithLeftCondition / ...WithRightCondition."""

    def query(left: DataFrame, right: DataFrame) -> DataFrame:
        ten = "10 seconds"
        lw = left.withWatermark("leftTime", ten).select(
            "leftKey", F.window("leftTime", ten).alias("leftWindow"), "leftValue"
        )
        rw = right.withWatermark("rightTime", ten).select(
            "rightKey", F.window("rightTime", ten).alias("rightWindow"), "rightValue"
        )
        cond = (F.col("leftKey") == F.col("rightKey")) & (
            F.col("leftWindow") == F.col("rightWindow")
        )
        if condition == "left":
            cond = cond & (F.col("leftValue") > 4)
        elif condition == "right":
            cond = cond & (F.col("rightValue").cast("int") > 7)
        joined = lw.join(rw, cond, how)
        lend = F.col("leftWindow.end").cast("long")
        rend = F.col("rightWindow.end").cast("long")
        if how == "left_semi":
            return joined.select("leftKey", lend, "leftValue")
        if how == "right_outer":
            return joined.select("rightKey", rend, "leftValue", "rightValue")
        if how == "full_outer" and condition:
            return joined.select("leftKey", lend, "leftValue", "rightKey", rend, "rightValue")
        if how == "full_outer":
            key = F.coalesce("leftKey", "rightKey")
            end = F.coalesce("leftWindow", "rightWindow").getField("end").cast("long")
            return joined.select(key, end, "leftValue", "rightValue")
        return joined.select("leftKey", lend, "leftValue", "rightValue")

    return query


# StreamingOuterJoinSuite: test("windowed left outer join")
@pytest.mark.slow  # a Spark run of many batches: out of the fast subset
def test_windowed_left_outer_join(stream_test: Any) -> None:
    steps: list[Step] = [
        # Test inner part of the join.
        AddData(lefts(1, 2, 3, 4, 5), to="left"),
        AddData(rights(3, 4, 5, 6, 7), to="right"),
        CheckNewAnswer([(3, 10, 6, 9), (4, 10, 8, 12), (5, 10, 10, 15)]),
        AddData(lefts(21), to="left"),
        AddData(rights(22), to="right"),  # watermark = 11, no-data-batch computes nulls
        CheckNewAnswer([(1, 10, 2, None), (2, 10, 4, None)]),
        ExpectStateRows(2),
        AddData(lefts(22), to="left"),
        CheckNewAnswer([(22, 30, 44, 66)]),
        ExpectStateRows(3),
    ]
    once(stream_test, windowed_join("left_outer"), steps, inputs=WINDOWED)


# StreamingOuterJoinSuite: test("windowed right outer join")
@pytest.mark.slow  # a Spark run of many batches: out of the fast subset
def test_windowed_right_outer_join(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData(lefts(1, 2, 3, 4, 5), to="left"),
        AddData(rights(3, 4, 5, 6, 7), to="right"),
        CheckNewAnswer([(3, 10, 6, 9), (4, 10, 8, 12), (5, 10, 10, 15)]),
        AddData(lefts(21), to="left"),
        AddData(rights(22), to="right"),  # watermark = 11, no-data-batch computes nulls
        CheckNewAnswer([(6, 10, None, 18), (7, 10, None, 21)]),
        ExpectStateRows(2),
        AddData(lefts(22), to="left"),
        CheckNewAnswer([(22, 30, 44, 66)]),
        ExpectStateRows(3),
    ]
    once(stream_test, windowed_join("right_outer"), steps, inputs=WINDOWED)


# StreamingFullOuterJoinSuite: test("windowed full outer join")
@pytest.mark.slow  # a Spark run of many batches: out of the fast subset
def test_windowed_full_outer_join(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData(lefts(1, 2, 3, 4, 5), to="left"),
        AddData(rights(3, 4, 5, 6, 7), to="right"),
        CheckNewAnswer([(3, 10, 6, 9), (4, 10, 8, 12), (5, 10, 10, 15)]),
        ExpectStateRows(10),  # left 1..5, right 3..7
        AddData(lefts(21), to="left"),
        AddData(rights(22), to="right"),
        # Watermark = 11, should remove rows having window=[0,10].
        CheckNewAnswer([(1, 10, 2, None), (2, 10, 4, None), (6, 10, None, 18), (7, 10, None, 21)]),
        ExpectStateRows(2),
        AddData(lefts(22), to="left"),
        CheckNewAnswer([(22, 30, 44, 66)]),
        ExpectStateRows(3),
        StopStream(),
        StartStream(),
        AddData(lefts(1), to="left"),
        CheckNewAnswer([]),  # Row not add as 1 < state key watermark = 12.
        ExpectStateRows(3),
        ExpectLate(1),
        AddData(rights(5), to="right"),
        CheckNewAnswer([]),  # Row not add as 5 < state key watermark = 12.
        ExpectStateRows(3),
        ExpectLate(1),
    ]
    once(stream_test, windowed_join("full_outer"), steps, inputs=WINDOWED)


# StreamingLeftSemiJoinSuite: test("windowed left semi join"). State rows: Spark 4.3's, with
# the suite's in comments (SPARK-55973 removes a matched left row at once).
@pytest.mark.slow  # a Spark run of many batches: out of the fast subset
def test_windowed_left_semi_join(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData(lefts(1, 2, 3, 4, 5), to="left"),
        AddData(rights(3, 4, 5, 6, 7), to="right"),
        CheckNewAnswer([(3, 10, 6), (4, 10, 8), (5, 10, 10)]),
        ExpectStateRows(7),  # suite: 10; left 1, 2, right 3..7
        AddData(lefts(21), to="left"),
        AddData(rights(22), to="right"),
        CheckNewAnswer([]),  # Watermark = 11, should remove rows having window=[0,10].
        ExpectStateRows(2),
        AddData(lefts(22), to="left"),
        CheckNewAnswer([(22, 30, 44)]),
        ExpectStateRows(2),  # the matched left row is not stored
        StopStream(),
        StartStream(),
        AddData(lefts(1), to="left"),
        CheckNewAnswer([]),  # Row not add as 1 < state key watermark = 12.
        ExpectStateRows(2),
        ExpectLate(1),
        AddData(rights(5), to="right"),
        CheckNewAnswer([]),  # Row not add as 5 < state key watermark = 12.
        ExpectStateRows(2),
        ExpectLate(1),
    ]
    once(stream_test, windowed_join("left_semi"), steps, inputs=WINDOWED)


# StreamingLeftSemiJoinSuite: test("left semi early state exclusion on left")
@pytest.mark.slow  # a Spark run of many batches: out of the fast subset
def test_left_semi_early_state_exclusion_on_left(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData(lefts(1, 2, 3), to="left"),
        AddData(right_strings(3, 4, 5), to="right"),
        # The left rows with leftValue <= 4 should not generate their semi join rows and
        # not get added to the state.
        CheckNewAnswer([(3, 10, 6)]),
        ExpectStateRows(3),  # suite: 4 (left 3 as well); right 3, 4, 5
        # We shouldn't get more semi join rows when the watermark advances.
        AddData(lefts(20), to="left"),
        AddData(right_strings(21), to="right"),
        CheckNewAnswer([]),
        ExpectStateRows(2),  # left 20, right 21
        AddData(right_strings(20), to="right"),
        CheckNewAnswer([(20, 30, 40)]),
        ExpectStateRows(2),  # suite: 3; left 20 leaves at its match, right 21, 20
    ]
    once(stream_test, windowed_join("left_semi", "left"), steps, inputs=WINDOWED_STRING)


# StreamingLeftSemiJoinSuite: test("left semi early state exclusion on right")
@pytest.mark.slow  # a Spark run of many batches: out of the fast subset
def test_left_semi_early_state_exclusion_on_right(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData(lefts(3, 4, 5), to="left"),
        AddData(right_strings(1, 2, 3), to="right"),
        # The right rows with rightValue <= 7 should never be added to the state.
        # The right row with rightValue = 9 > 7, hence joined and added to state.
        CheckNewAnswer([(3, 10, 6)]),
        ExpectStateRows(3),  # suite: 4; left 4, 5, right 3
        AddData(lefts(20), to="left"),
        AddData(right_strings(21), to="right"),
        CheckNewAnswer([]),
        ExpectStateRows(2),
        AddData(right_strings(20), to="right"),
        CheckNewAnswer([(20, 30, 40)]),
        ExpectStateRows(2),  # suite: 3
    ]
    once(stream_test, windowed_join("left_semi", "right"), steps, inputs=WINDOWED_STRING)


# StreamingOuterJoinSuite: test("left outer early state exclusion on left")
@pytest.mark.slow  # a Spark run of many batches: out of the fast subset
def test_left_outer_early_state_exclusion_on_left(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData(lefts(1, 2, 3), to="left"),
        AddData(right_strings(3, 4, 5), to="right"),
        # The left rows with leftValue <= 4 should generate their outer join row now and
        # not get added to the state.
        CheckNewAnswer([(3, 10, 6, "9"), (1, 10, 2, None), (2, 10, 4, None)]),
        ExpectStateRows(4),
        # We shouldn't get more outer join rows when the watermark advances.
        AddData(lefts(20), to="left"),
        AddData(right_strings(21), to="right"),
        CheckNewAnswer([]),
        AddData(right_strings(20), to="right"),
        CheckNewAnswer([(20, 30, 40, "60")]),
    ]
    once(stream_test, windowed_join("left_outer", "left"), steps, inputs=WINDOWED_STRING)


# StreamingOuterJoinSuite: test("left outer early state exclusion on right")
@pytest.mark.slow  # a Spark run of many batches: out of the fast subset
def test_left_outer_early_state_exclusion_on_right(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData(lefts(3, 4, 5), to="left"),
        AddData(right_strings(1, 2, 3), to="right"),
        # The right rows with rightValue <= 7 should never be added to the state.
        CheckNewAnswer([(3, 10, 6, "9")]),  # rightValue = 9 > 7 hence joined and added to state
        ExpectStateRows(4),
        # When the watermark advances, we get the outer join rows just as we would if they
        # were added but didn't match the full join condition.
        AddData(lefts(20), to="left"),
        AddData(right_strings(21), to="right"),  # watermark = 10, no-data-batch computes nulls
        CheckNewAnswer([(4, 10, 8, None), (5, 10, 10, None)]),
        AddData(right_strings(20), to="right"),
        CheckNewAnswer([(20, 30, 40, "60")]),
    ]
    once(stream_test, windowed_join("left_outer", "right"), steps, inputs=WINDOWED_STRING)


# StreamingOuterJoinSuite: test("right outer early state exclusion on left")
@pytest.mark.slow  # a Spark run of many batches: out of the fast subset
def test_right_outer_early_state_exclusion_on_left(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData(lefts(1, 2, 3), to="left"),
        AddData(right_strings(3, 4, 5), to="right"),
        # The left rows with leftValue <= 4 should never be added to the state.
        CheckNewAnswer([(3, 10, 6, "9")]),  # leftValue = 6 > 4 hence joined and added to state
        ExpectStateRows(4),
        AddData(lefts(20), to="left"),
        AddData(right_strings(21), to="right"),  # watermark = 10, no-data-batch computes nulls
        CheckNewAnswer([(4, 10, None, "12"), (5, 10, None, "15")]),
        AddData(right_strings(20), to="right"),
        CheckNewAnswer([(20, 30, 40, "60")]),
    ]
    once(stream_test, windowed_join("right_outer", "left"), steps, inputs=WINDOWED_STRING)


# StreamingOuterJoinSuite: test("right outer early state exclusion on right")
@pytest.mark.slow  # a Spark run of many batches: out of the fast subset
def test_right_outer_early_state_exclusion_on_right(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData(lefts(3, 4, 5), to="left"),
        AddData(right_strings(1, 2, 3), to="right"),
        # The right rows with rightValue <= 7 should generate their outer join row now and
        # not get added to the state.
        CheckNewAnswer([(3, 10, 6, "9"), (1, 10, None, "3"), (2, 10, None, "6")]),
        ExpectStateRows(4),
        # We shouldn't get more outer join rows when the watermark advances.
        AddData(lefts(20), to="left"),
        AddData(right_strings(21), to="right"),
        CheckNewAnswer([]),
        AddData(right_strings(20), to="right"),
        CheckNewAnswer([(20, 30, 40, "60")]),
    ]
    once(stream_test, windowed_join("right_outer", "right"), steps, inputs=WINDOWED_STRING)


# StreamingFullOuterJoinSuite: test("full outer early state exclusion on left")
@pytest.mark.slow  # a Spark run of many batches: out of the fast subset
def test_full_outer_early_state_exclusion_on_left(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData(lefts(1, 2, 3), to="left"),
        AddData(right_strings(3, 4, 5), to="right"),
        # The left rows with leftValue <= 4 should generate their outer join rows now and
        # not get added to the state.
        CheckNewAnswer(
            [(1, 10, 2, None, None, None), (2, 10, 4, None, None, None), (3, 10, 6, 3, 10, "9")]
        ),
        ExpectStateRows(4),  # left: 3, right: 3, 4, 5
        # Generate outer join result for all non-matched rows when the watermark advances.
        AddData(lefts(20), to="left"),
        AddData(right_strings(21), to="right"),
        CheckNewAnswer([(None, None, None, 4, 10, "12"), (None, None, None, 5, 10, "15")]),
        ExpectStateRows(2),  # left: 20, right: 21
        AddData(right_strings(20), to="right"),
        CheckNewAnswer([(20, 30, 40, 20, 30, "60")]),
        ExpectStateRows(3),  # left: 20, right: 21, 20
    ]
    once(stream_test, windowed_join("full_outer", "left"), steps, inputs=WINDOWED_STRING)


# StreamingFullOuterJoinSuite: test("full outer early state exclusion on right")
@pytest.mark.slow  # a Spark run of many batches: out of the fast subset
def test_full_outer_early_state_exclusion_on_right(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData(lefts(3, 4, 5), to="left"),
        AddData(right_strings(1, 2, 3), to="right"),
        # The right rows with rightValue <= 7 should generate their outer join rows now,
        # and never be added to the state.
        CheckNewAnswer(
            [(None, None, None, 1, 10, "3"), (None, None, None, 2, 10, "6"), (3, 10, 6, 3, 10, "9")]
        ),
        ExpectStateRows(4),  # left: 3, 4, 5, right: 3
        AddData(lefts(20), to="left"),
        AddData(right_strings(21), to="right"),
        CheckNewAnswer([(4, 10, 8, None, None, None), (5, 10, 10, None, None, None)]),
        ExpectStateRows(2),
        AddData(right_strings(20), to="right"),
        CheckNewAnswer([(20, 30, 40, 20, 30, "60")]),
        ExpectStateRows(3),
    ]
    once(stream_test, windowed_join("full_outer", "right"), steps, inputs=WINDOWED_STRING)


# --- streamlab's own case (rule C9): a deduplication on one input, then a join ---------------

ADS = {
    "impressions": "impression_id string, impression_time timestamp",
    "clicks": "click_impression_id string, click_id string, click_time timestamp",
}


def first_click_join(impressions: DataFrame, clicks: DataFrame) -> DataFrame:
    imps = impressions.withWatermark("impression_time", "10 seconds")
    first = clicks.withWatermark("click_time", "10 seconds").dropDuplicatesWithinWatermark(
        ["click_impression_id"]
    )
    cond = F.expr(
        "impression_id = click_impression_id AND click_time >= impression_time AND "
        "click_time <= impression_time + INTERVAL 10 seconds"
    )
    return imps.join(first, cond).select("impression_id", "click_id")


def test_deduplication_then_join(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData(
            [("i1", T("2023-01-01 01:00:10")), ("i2", T("2023-01-01 01:00:20"))], to="impressions"
        ),
        CheckNewAnswer([]),
        AddData(
            [("i1", "c1", T("2023-01-01 01:00:12")), ("i2", "c3", T("2023-01-01 01:00:25"))],
            to="clicks",
        ),
        CheckNewAnswer([("i1", "c1"), ("i2", "c3")]),
        # a second click of i1 within the delay: the deduplication drops it, the join never sees it
        AddData([("i1", "c2", T("2023-01-01 01:00:14"))], to="clicks"),
        CheckNewAnswer([]),
        ExpectLate(0),
        AddData([("i3", T("2023-01-01 01:00:40"))], to="impressions"),
        CheckNewAnswer([]),
        # the watermark is min(40, 25) - 10 = 15 s: c6 at 13 s is late, dropped by the deduplication
        AddData(
            [("i3", "c5", T("2023-01-01 01:00:45")), ("i1", "c6", T("2023-01-01 01:00:13"))],
            to="clicks",
        ),
        CheckNewAnswer([("i3", "c5")]),
        ExpectLate(1),
        ExpectStateRows(ModelAnswer()),
    ]
    once(stream_test, first_click_join, steps, inputs=ADS)

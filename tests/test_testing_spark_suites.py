"""Spark's own event-time tests, ported to streamlab.testing; each passes with explicit rows
and with ModelAnswer().

Inputs that Spark's tests build with ``value.cast("timestamp")`` are given here as timestamp
columns fed whole seconds (a number is epoch seconds, as Spark's cast reads it). The two runs
of each case (explicit rows, the model's answer) run as concurrent queries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from streamlab.testing import (
    AddData,
    CheckAnswer,
    CheckLastBatch,
    CheckNewAnswer,
    CrashAndRestart,
    ExpectLate,
    ExpectStateRows,
    ExpectWatermark,
    ModelAnswer,
    StartStream,
    StopStream,
)
from streamlab.testing.steps import Step
from tests.support.suites import once


def as_model(steps: Sequence[Step]) -> list[Step]:
    """The same steps with every expectation replaced by the model's answer."""
    out: list[Step] = []
    for s in steps:
        if isinstance(s, CheckNewAnswer | CheckAnswer | CheckLastBatch):
            out.append(type(s)(ModelAnswer()))
        elif isinstance(s, ExpectStateRows):
            out.append(ExpectStateRows(ModelAnswer()))
        elif isinstance(s, ExpectWatermark):
            out.append(ExpectWatermark(ModelAnswer()))
        else:
            out.append(s)
    return out


def both(stream_test: Any, query: Callable[..., DataFrame], steps: list[Step], **kw: Any) -> None:
    runs = [
        stream_test(query, **kw).run,
        stream_test(query, **kw).run,
    ]
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(runs[0], *steps), pool.submit(runs[1], *as_model(steps))]
        for f in futures:
            f.result()


def windowed_counts(events: DataFrame) -> DataFrame:
    return (
        events.withWatermark("eventTime", "10 seconds")
        .groupBy(F.window("eventTime", "5 seconds").alias("window"))
        .agg(F.count("*").alias("count"))
        .select(F.col("window").getField("start").cast("long"), "count")
    )


EVENT_TIME = "eventTime timestamp"


# EventTimeWatermarkSuite: test("append mode")
def test_append_mode(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([10, 11, 12, 13, 14, 15]),
        CheckNewAnswer([]),
        AddData([25]),  # Advance watermark to 15 seconds
        CheckNewAnswer([(10, 5)]),
        ExpectStateRows(2),
        AddData([10]),  # Should not emit anything as data less than watermark
        CheckNewAnswer([]),
        ExpectStateRows(2),
    ]
    both(stream_test, windowed_counts, steps, schema=EVENT_TIME)


# EventTimeWatermarkSuite: test("event time and watermark metrics"), with a watermark.
# Spark's assertEventStats reads the data batch's watermark; ExpectWatermark checks the one
# the next batch runs with, so each value here is one step ahead of Spark's.
def test_event_time_and_watermark_metrics(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([15]),
        CheckAnswer([]),
        ExpectWatermark(5),  # Spark: wtrmark = 0 in the data batch; 15 - 10 next
        AddData([10, 12, 14]),
        CheckAnswer([]),
        ExpectWatermark(5),
        AddData([25]),
        CheckAnswer([(10, 3)]),
        ExpectWatermark(15),
    ]
    both(stream_test, windowed_counts, steps, schema=EVENT_TIME)


# EventTimeWatermarkSuite: test("recovery"). Spark purges the last commit and clears its memory
# sink before restarting; CrashAndRestart purges the last commit and that batch's output, and
# Spark runs the batch again, so (10, 5) is emitted again rather than lost.
def test_recovery(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([10, 11, 12, 13, 14, 15]),
        CheckAnswer([]),
        AddData([25]),  # Advance watermark to 15 seconds
        CheckAnswer([(10, 5)]),
        CrashAndRestart(),
        AddData([10, 27, 30]),  # Advance watermark to 20 seconds, 10 should be ignored
        CheckAnswer([(10, 5), (15, 1)]),
        StopStream(),
        StartStream(),
        AddData([17]),  # Watermark should still be 20 seconds, 17 should be ignored
        CheckAnswer([(10, 5), (15, 1)]),
        AddData([40]),  # Advance watermark to 30 seconds, emit first data 25
        CheckNewAnswer([(25, 2)]),
    ]
    both(stream_test, windowed_counts, steps, schema=EVENT_TIME)


# EventTimeWatermarkSuite: test("test no-data flag"), with the flag on (Spark's default).
def test_no_data_flag_on(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([10, 11, 12, 13, 14, 15]),
        CheckNewAnswer([]),
        AddData([25]),  # Advance watermark to 15 seconds
        CheckNewAnswer([(10, 5)]),
    ]
    both(stream_test, windowed_counts, steps, schema=EVENT_TIME)


def dedup_all_columns(events: DataFrame) -> DataFrame:
    return (
        events.withWatermark("eventTime", "10 seconds")
        .dropDuplicatesWithinWatermark()
        .select(F.col("eventTime").cast("long"))
    )


# StreamingDeduplicationWithinWatermarkSuite:
# test("deduplicate with all columns with event time column in DataFrame")
def test_deduplicate_with_all_columns(stream_test: Any) -> None:
    steps: list[Step] = [
        # Advance watermark to 5 secs, no-data-batch does not drop state rows
        AddData([t for _ in range(5) for t in range(10, 16)]),
        CheckAnswer(list(range(10, 16))),
        ExpectStateRows(6),
        # Advance watermark to 7 secs, no-data-batch does not drop state rows
        AddData(list(range(13, 18))),
        CheckNewAnswer([16, 17]),  # 13 to 15 are duplicated
        ExpectStateRows(8),
        AddData([5]),  # Should not emit anything as data less than watermark
        CheckNewAnswer([]),
        ExpectStateRows(8),
        ExpectLate(1),
        # Advance watermark to 25 secs, no-data-batch drops state rows having expired time <= 25
        AddData([35]),
        CheckNewAnswer([35]),
        ExpectStateRows(3),
        # Advance watermark to 45 seconds, no-data-batch drops state rows having expired time <= 45
        AddData([55]),
        CheckNewAnswer([55]),
        ExpectStateRows(1),
    ]
    both(stream_test, dedup_all_columns, steps, schema=EVENT_TIME)


def dedup_on_key(delay: str) -> Callable[[DataFrame], DataFrame]:
    def query(events: DataFrame) -> DataFrame:
        return (
            events.withWatermark("eventTime", delay)
            .dropDuplicatesWithinWatermark(["_1"])
            .select("_1", F.col("eventTime").cast("long"))
        )

    return query


KEYED = "_1 string, eventTime timestamp"


# StreamingDeduplicationWithinWatermarkSuite:
# test("deduplicate with subset of columns which event time column is not in subset")
def test_deduplicate_with_subset_of_columns(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([("a", 17)]),  # Advances watermark to 15
        CheckNewAnswer([("a", 17)]),
        ExpectStateRows(1),  # expired time is set to 19
        AddData([("a", 16)]),  # Watermark does not advance
        CheckNewAnswer([]),
        ExpectStateRows(1),
        AddData([("a", 13)]),  # Should not emit anything as data less than watermark
        CheckNewAnswer([]),
        ExpectStateRows(1),
        ExpectLate(1),
        # Advances watermark to 20. no-data batch drops state row ("a" -> 19)
        AddData([("b", 22), ("c", 21)]),
        CheckNewAnswer([("b", 22), ("c", 21)]),
        ExpectStateRows(2),  # expired time is set to 24 and 23
        # "a" is identified as new event since previous batch dropped state row ("a" -> 19)
        AddData([("a", 21)]),
        CheckNewAnswer([("a", 21)]),
        ExpectStateRows(3),  # expired time is set to 23
        # Advances watermark to 23. no-data batch drops state row ("a" -> 23), ("c" -> 23)
        AddData([("d", 25)]),
        CheckNewAnswer([("d", 25)]),
        ExpectStateRows(2),
    ]
    both(stream_test, dedup_on_key("2 seconds"), steps, schema=KEYED)


# StreamingDeduplicationWithinWatermarkSuite:
# test("SPARK-39650: duplicate with specific keys should allow input to change schema"),
# its first query.
def test_duplicate_with_specific_keys(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([("a", 1)]),
        CheckNewAnswer([("a", 1)]),
        AddData([("a", 2), ("b", 3)]),
        CheckNewAnswer([("b", 3)]),
    ]
    both(stream_test, dedup_on_key("10 seconds"), steps, schema=KEYED)


def drop_event_time(events: DataFrame) -> DataFrame:
    return (
        events.withWatermark("first", "10 seconds")
        .dropDuplicatesWithinWatermark(["_2"])
        .select("_2")
    )


# StreamingDeduplicationWithinWatermarkSuite:
# test("SPARK-50492: drop event time column after dropDuplicatesWithinWatermark")
def test_drop_event_time_column_after_dedup(stream_test: Any) -> None:
    steps: list[Step] = [AddData([(1, 2)]), CheckAnswer([2])]
    both(stream_test, drop_event_time, steps, schema="first timestamp, _2 int")


SIDES = {"left": "leftKey int, leftTime timestamp", "right": "rightKey int, rightTime timestamp"}


def two_side_conditions(left: DataFrame, right: DataFrame) -> DataFrame:
    df1 = left.withWatermark("leftTime", "20 seconds")
    df2 = right.withWatermark("rightTime", "30 seconds")
    condition = F.expr(
        "leftKey = rightKey AND "
        "leftTime BETWEEN rightTime - interval 10 seconds AND rightTime + interval 5 seconds"
    )
    return df1.join(df2, condition).select(
        "leftKey", F.col("leftTime").cast("int"), F.col("rightTime").cast("int")
    )


# StreamingJoinSuite:
# test("stream stream inner join with time range - with watermark - two side conditions")
def test_inner_join_time_range_two_side_conditions(stream_test: Any) -> None:
    steps: list[Step] = [
        # If leftTime = 20, then it match only with rightTime = [15, 30]
        AddData([(1, 20)], to="left"),
        CheckAnswer([]),
        AddData([(1, 14), (1, 15), (1, 25), (1, 26), (1, 30), (1, 31)], to="right"),
        CheckNewAnswer([(1, 20, 15), (1, 20, 25), (1, 20, 26), (1, 20, 30)]),
        ExpectStateRows(7),
        # If rightTime = 60, then it matches only leftTime = [50, 65]
        AddData([(1, 60)], to="right"),
        CheckNewAnswer([]),  # matches with nothing on the left
        AddData([(1, 49), (1, 50), (1, 65), (1, 66)], to="left"),
        CheckNewAnswer([(1, 50, 60), (1, 65, 60)]),
        # Event time watermark = min(left: 66 - 20 = 46, right: 60 - 30 = 30) = 30
        ExpectStateRows(10),  # 12 - 2 removed
        AddData([(1, 30), (1, 31)], to="left"),  # 30 should not be processed or added to state
        CheckNewAnswer([(1, 31, 26), (1, 31, 30), (1, 31, 31)]),
        ExpectStateRows(11),  # only 31 added
        # Advance the watermark: min(left: 66 - 20 = 46, right: 80 - 30 = 50) = 46
        AddData([(1, 80)], to="right"),
        CheckNewAnswer([]),
        ExpectStateRows(6),  # 12 - 6 removed
        AddData([(1, 46), (1, 50)], to="right"),  # 46 should not be processed or added to state
        CheckNewAnswer([(1, 49, 50), (1, 50, 50)]),
        ExpectStateRows(7),  # 50 added
    ]
    both(stream_test, two_side_conditions, steps, inputs=SIDES)


def left_outer_range(left: DataFrame, right: DataFrame) -> DataFrame:
    df1 = left.withWatermark("leftTime", "10 seconds")
    df2 = right.withWatermark("rightTime", "10 seconds")
    condition = F.expr(
        "leftKey = rightKey AND "
        "leftTime BETWEEN rightTime - interval 5 seconds AND rightTime + interval 5 seconds"
    )
    return df1.join(df2, condition, "left_outer").select(
        "leftKey", "rightKey", F.col("leftTime").cast("int"), F.col("rightTime").cast("int")
    )


# StreamingOuterJoinSuite (StreamingJoinSuite.scala): test("left outer with watermark range
# condition")
def test_left_outer_with_watermark_range_condition(stream_test: Any) -> None:
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
        CheckNewAnswer([(3, None, 5, None)]),
        ExpectStateRows(2),
    ]
    both(stream_test, left_outer_range, steps, inputs=SIDES)


def window_then_window(events: DataFrame) -> DataFrame:
    return (
        events.withWatermark("eventTime", "0 seconds")
        .groupBy(F.window("eventTime", "5 seconds").alias("window"))
        .agg(F.count("*").alias("count"))
        .groupBy(F.window("window", "10 seconds"))
        .agg(F.count("*").alias("count"), F.sum("count").alias("sum"))
        .select(F.col("window").getField("start").cast("long"), "count", "sum")
    )


# MultiStatefulOperatorsSuite: test("window agg -> window agg, append mode"). Spark's
# assertNumStateRows(Seq(a, b)) is one number here, a + b (ExpectStateRows sums the operators).
@pytest.mark.slow  # a Spark run of many batches: out of the fast subset
def test_window_aggregation_then_window_aggregation(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData(list(range(10, 22))),
        # op1 emits [10, 15) 5 and [15, 20) 5 in the no-data batch, op2 reads them at once
        CheckNewAnswer([(10, 2, 10)]),
        ExpectStateRows(1),  # Seq(0, 1)
        ExpectLate(0),
        AddData(list(range(10, 30))),
        CheckNewAnswer([]),
        ExpectStateRows(2),  # Seq(1, 1)
        ExpectLate(2),  # Seq(0, 2): op1 drops [10, 15) and [15, 20), once per window
        AddData([30, 31]),  # Move the watermark.
        CheckNewAnswer([(20, 2, 12)]),
        ExpectStateRows(1),  # Seq(0, 1)
        ExpectLate(0),
    ]
    once(stream_test, window_then_window, steps, schema=EVENT_TIME)


def three_windows(events: DataFrame) -> DataFrame:
    return (
        events.withWatermark("eventTime", "0 seconds")
        .groupBy(F.window("eventTime", "5 seconds").alias("window"))
        .agg(F.count("*").alias("count"))
        .groupBy(F.window(F.window_time("window"), "10 seconds"))
        .agg(F.count("*").alias("count"), F.sum("count").alias("sum"))
        .groupBy(F.window(F.window_time("window"), "20 seconds"))
        .agg(F.count("*").alias("count"), F.sum("sum").alias("sum"))
        .select(
            F.col("window").getField("start").cast("long"),
            F.col("window").getField("end").cast("long"),
            "count",
            "sum",
        )
    )


# MultiStatefulOperatorsSuite: test("agg -> agg -> agg, append mode").
@pytest.mark.slow  # a Spark run of many batches: out of the fast subset
def test_three_window_aggregations_in_a_row(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData(list(range(0, 38))),
        CheckNewAnswer([(0, 20, 2, 20)]),
        ExpectStateRows(3),  # Seq(1, 1, 1)
        ExpectLate(0),
        AddData(list(range(30, 61))),
        CheckNewAnswer([(20, 40, 2, 23), (40, 60, 2, 20)]),
        ExpectStateRows(1),  # Seq(0, 0, 1)
        ExpectLate(1),  # Seq(0, 0, 1): op1 drops its rows of [30, 35), once
    ]
    once(stream_test, three_windows, steps, schema=EVENT_TIME)

"""Deliberately wrong queries fail with the event-time reason; dedup and joins vs the model."""

from __future__ import annotations

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
    NotModelled,
    StreamTestFailure,
)


def t(s: int) -> str:
    return f"2026-01-01 00:00:{s:02d}"


def tumbling(events: DataFrame) -> DataFrame:  # the test wants 10 s windows sliding every 5 s
    return (
        events.withWatermark("event_time", "0 seconds")
        .groupBy(F.window("event_time", "10 seconds"))
        .count()
    )


def test_tumbling_instead_of_sliding(stream_test: Any) -> None:
    with pytest.raises(StreamTestFailure) as failure:
        stream_test(tumbling, schema="event_time timestamp").run(
            AddData([(t(7),)]),
            AddData([(t(30),)]),  # watermark 30 s: every window of 7 s has closed
            CheckAnswer([((t(0), t(10)), 1), ((t(5), t(15)), 1)]),
        )
    text = str(failure.value)
    assert "first difference: ((00:00:05, 00:00:15), 1) expected, missing" in text, text
    assert (
        "the test expects 10 seconds sliding every 5 seconds windows; the query's are "
        "10 seconds tumbling"
    ) in text, text


def no_dedup(events: DataFrame) -> DataFrame:  # the test wants re-sent events counted once
    return (
        events.withWatermark("event_time", "10 seconds")
        .groupBy(F.window("event_time", "5 seconds"))
        .count()
    )


def test_missing_dedup(stream_test: Any) -> None:
    with pytest.raises(StreamTestFailure) as failure:
        stream_test(no_dedup, schema="id string, event_time timestamp").run(
            AddData([("e1", t(1)), ("e2", t(2))]),
            AddData([("e1", t(1)), ("e3", t(30))]),  # e1 re-sent; watermark 20 s
            CheckAnswer([((t(0), t(5)), 2)]),
        )
    text = str(failure.value)
    assert "((00:00:00, 00:00:05), 3)" in text
    assert (
        "the test expects duplicates removed before counting "
        "(dropDuplicatesWithinWatermark(['id'])); the query counts every copy"
    ) in text, text


def deduped(events: DataFrame) -> DataFrame:
    return (
        events.withWatermark("event_time", "10 seconds")
        .dropDuplicatesWithinWatermark(["id"])
        .groupBy(F.window("event_time", "5 seconds"))
        .count()
    )


def test_dedup_then_window_matches_the_model(stream_test: Any) -> None:
    stream_test(deduped, schema="id string, event_time timestamp", expect_model=True).run(
        AddData([("e1", t(1)), ("e2", t(2)), ("e1", t(1))]),
        CheckNewAnswer(),
        AddData([("e1", t(1)), ("e3", t(30))]),
        CheckNewAnswer([((t(0), t(5)), 2)]),
        CheckNewAnswer(),
        ExpectStateRows(ModelAnswer()),
        AddData([("e4", t(3))]),  # behind the 20 s watermark
        ExpectLate([("e4", t(3))]),
        CheckAnswer(),
    )


def within_watermark(events: DataFrame) -> DataFrame:
    return events.withWatermark("event_time", "5 seconds").dropDuplicatesWithinWatermark(["id"])


def test_drop_duplicates_within_watermark(stream_test: Any) -> None:
    # e1 expires at 1 + 5 = 6 s: once the watermark passes it, a re-sent e1 counts again.
    stream_test(within_watermark, schema="id string, event_time timestamp").run(
        AddData([("e1", t(1)), ("e1", t(1)), ("e2", t(9))]),
        CheckNewAnswer([("e1", t(1)), ("e2", t(9))]),
        AddData([("e1", t(7)), ("e3", t(20))]),  # watermark 4 s before: e1 still held
        CheckNewAnswer(ModelAnswer()),
        AddData([("e1", t(16))]),  # watermark 15 s: e1's key expired
        CheckNewAnswer([("e1", t(16))]),
        CheckAnswer(ModelAnswer()),
        ExpectStateRows(ModelAnswer()),
    )


def inner(impressions: DataFrame, clicks: DataFrame) -> DataFrame:
    imps = impressions.withWatermark("imp_time", "5 seconds")
    cl = clicks.withWatermark("click_time", "5 seconds")
    cond = (
        (F.col("imp_id") == F.col("click_imp"))
        & (F.col("click_time") >= F.col("imp_time"))
        & (F.col("click_time") <= F.col("imp_time") + F.expr("interval 10 seconds"))
    )
    return imps.join(cl, cond, "inner").select("imp_id", "click_id")


SCHEMAS = {
    "impressions": "imp_id string, imp_time timestamp",
    "clicks": "click_id string, click_imp string, click_time timestamp",
}


def test_inner_instead_of_left_outer(stream_test: Any) -> None:
    with pytest.raises(StreamTestFailure) as failure:
        stream_test(inner, inputs=SCHEMAS).run(
            AddData([("i1", t(1)), ("i2", t(2))], to="impressions"),
            AddData([("c1", "i1", t(4))], to="clicks"),
            AddData([("i9", t(40))], to="impressions"),
            AddData([("c9", "i9", t(41))], to="clicks"),  # both watermarks past i2's range
            CheckAnswer([("i1", "c1"), ("i2", None), ("i9", "c9")]),
        )
    text = str(failure.value)
    assert "('i2', NULL) expected, missing from the query's output" in text, text
    assert "the test expects a left outer join; the query's is inner" in text, text


def left_outer(impressions: DataFrame, clicks: DataFrame) -> DataFrame:
    imps = impressions.withWatermark("imp_time", "5 seconds")
    cl = clicks.withWatermark("click_time", "5 seconds")
    cond = F.expr(
        "imp_id = click_imp AND click_time >= imp_time AND "
        "click_time <= imp_time + interval 10 seconds"
    )
    return imps.join(cl, cond, "leftOuter")


def test_left_outer_join_matches_the_model(stream_test: Any) -> None:
    stream_test(left_outer, inputs=SCHEMAS, expect_model=True).run(
        AddData([("i1", t(1)), ("i2", t(2))], to="impressions"),
        AddData([("c1", "i1", t(4)), ("c0", "i0", t(3))], to="clicks"),
        CheckNewAnswer(),
        AddData([("i9", t(40))], to="impressions"),
        AddData([("c9", "i9", t(41))], to="clicks"),
        CheckNewAnswer(),
        AddData([("c2", "i2", t(3))], to="clicks"),  # behind the watermark: late
        ExpectLate([("c2", "i2", t(3))]),
        CheckAnswer(),
        ExpectStateRows(ModelAnswer()),
    )


def filtered(events: DataFrame) -> DataFrame:
    return (
        events.withWatermark("event_time", "10 seconds")
        .filter(F.col("n") > 0)
        .groupBy(F.window("event_time", "5 seconds"))
        .count()
    )


def test_unknown_shape_is_refused_in_one_line(stream_test: Any) -> None:
    with pytest.raises(NotModelled) as refused:
        stream_test(filtered, schema="event_time timestamp, n int").run(
            AddData([(t(1), 1)]), CheckNewAnswer(ModelAnswer())
        )
    text = str(refused.value)
    assert "\n" not in text
    assert "the model does not cover the operator Filter (n#" in text, text

"""Spark's own tests of output modes, session windows, plain dropDuplicates and restarts,
ported to streamlab.testing; each passes with explicit rows and with ModelAnswer().

As in ``test_testing_spark_suites.py``, inputs Spark builds with ``value.cast("timestamp")`` are
timestamp columns fed whole seconds; the two runs of a case (explicit rows, the model's answer)
run as concurrent queries. Where Spark's test splits sentences with ``explode(split(...))``, the
input here is already one row per word (the model reads no generator); the rows are Spark's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from streamlab.spark.errors import SparkQueryError
from streamlab.testing import (
    AddData,
    CheckLastBatch,
    CheckNewAnswer,
    ExpectLate,
    ExpectStateRows,
    ExpectWatermark,
    ModelAnswer,
    NotModelled,
    StartStream,
    StopStream,
    StreamTest,
)
from streamlab.testing.oracle import Oracle
from streamlab.testing.steps import CheckAnswer, Step

pytestmark = pytest.mark.slow

EVENT_TIME = "eventTime timestamp"


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
    runs = [stream_test(query, **kw).run, stream_test(query, **kw).run]
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


# EventTimeWatermarkSuite: test("update mode")
def test_update_mode(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([10, 11, 12, 13, 14, 15]),
        CheckNewAnswer([(10, 5), (15, 1)]),
        AddData([25]),  # Advance watermark to 15 seconds
        CheckNewAnswer([(25, 1)]),
        ExpectStateRows(2),
        AddData([10, 25]),  # Ignore 10 as its less than watermark
        CheckNewAnswer([(25, 2)]),
        ExpectStateRows(2),
        AddData([10]),  # Should not emit anything as data less than watermark
        CheckNewAnswer([]),
        ExpectStateRows(2),
    ]
    both(stream_test, windowed_counts, steps, schema=EVENT_TIME, output_mode="update")


# EventTimeWatermarkSuite: test("complete mode"): no row is late and no window is dropped.
def test_complete_mode(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([10, 11, 12]),
        CheckLastBatch([(10, 3)]),
        AddData([25]),
        CheckLastBatch([(10, 3), (25, 1)]),
        AddData([25]),
        CheckLastBatch([(10, 3), (25, 2)]),
        AddData([10]),
        CheckLastBatch([(10, 4), (25, 2)]),
        AddData([25]),
        CheckLastBatch([(10, 4), (25, 3)]),
    ]
    both(stream_test, windowed_counts, steps, schema=EVENT_TIME, output_mode="complete")


def raw_timestamp_counts(events: DataFrame) -> DataFrame:
    return (
        events.withWatermark("eventTime", "10 seconds")
        .groupBy("eventTime")
        .agg(F.count("*").alias("count"))
        .select(F.col("eventTime").cast("long"), "count")
    )


# EventTimeWatermarkSuite: test("group by on raw timestamp")
def test_group_by_on_raw_timestamp(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([10]),
        CheckAnswer([]),
        AddData([25]),  # Advance watermark to 15 seconds
        CheckAnswer([(10, 1)]),
    ]
    both(stream_test, raw_timestamp_counts, steps, schema=EVENT_TIME)


def offset_windows(events: DataFrame) -> DataFrame:
    return (
        events.withWatermark("eventTime", "10 seconds")
        .groupBy(F.window("eventTime", "10 seconds", "10 seconds", "2 seconds").alias("w"))
        .agg(F.count("*").alias("count"))
        .select(F.col("w").getField("start").cast("long"), "count")
    )


# EventTimeWatermarkSuite: test("append mode") with windows starting 2 s past the minute
# (window(eventTime, "10 seconds", "10 seconds", "2 seconds"), as in the time-window tests of
# DataFrameTimeWindowingSuite): [2, 12) holds 10 and 11, [12, 22) 12 to 15.
def test_append_mode_windows_with_a_start_offset(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([10, 11, 12, 13, 14, 15]),
        CheckNewAnswer([]),
        AddData([35]),  # Advance watermark to 25 seconds: [2, 12) and [12, 22) close
        CheckNewAnswer([(2, 2), (12, 4)]),
        ExpectStateRows(1),
    ]
    both(stream_test, offset_windows, steps, schema=EVENT_TIME)


def simple_count(values: DataFrame) -> DataFrame:
    return values.groupBy("value").agg(F.count("*").alias("count"))


# StreamingAggregationSuite: test("simple count, update mode")
def test_simple_count_update_mode(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([3]),
        CheckLastBatch([(3, 1)]),
        AddData([3, 2]),
        CheckLastBatch([(3, 2), (2, 1)]),
        StopStream(),
        StartStream(),
        AddData([3, 2, 1]),
        CheckLastBatch([(3, 3), (2, 2), (1, 1)]),
        AddData([4, 4, 4, 4]),
        CheckLastBatch([(4, 4)]),
    ]
    both(stream_test, simple_count, steps, schema="value int", output_mode="update")


# StreamingAggregationSuite: test("simple count, complete mode")
def test_simple_count_complete_mode(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([3]),
        CheckLastBatch([(3, 1)]),
        AddData([2]),
        CheckLastBatch([(3, 1), (2, 1)]),
        StopStream(),
        StartStream(),
        AddData([3, 2, 1]),
        CheckLastBatch([(3, 2), (2, 2), (1, 1)]),
        AddData([4, 4, 4, 4]),
        CheckLastBatch([(4, 4), (3, 2), (2, 2), (1, 1)]),
    ]
    both(stream_test, simple_count, steps, schema="value int", output_mode="complete")


def sum_avg_min_max(rows: DataFrame) -> DataFrame:
    return (
        rows.withWatermark("eventTime", "10 seconds")
        .groupBy("key")
        .agg(
            F.sum("v").alias("s"),
            F.avg("v").alias("a"),
            F.min("v").alias("lo"),
            F.max("v").alias("hi"),
            F.size(F.collect_set("v")).alias("n"),
        )
    )


# StreamingAggregationSuite: test("typed aggregators") reads sum, avg, min, max of one key
# per batch in update mode; here with sum/avg/min/max/size(collect_set) over the same rows.
def test_aggregates_beyond_count_update_mode(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([("a", 10, 10), ("a", 20, 11), ("b", 1, 12)]),
        CheckNewAnswer([("a", 30, 15.0, 10, 20, 2), ("b", 1, 1.0, 1, 1, 1)]),
        AddData([("a", 20, 40)]),  # a key without a window is never late
        CheckNewAnswer([("a", 50, 50 / 3, 10, 20, 2)]),
        AddData([("b", 5, 1)]),
        CheckNewAnswer([("b", 6, 3.0, 1, 5, 2)]),
    ]
    schema = "key string, v long, eventTime timestamp"
    both(stream_test, sum_avg_min_max, steps, schema=schema, output_mode="update")


# StreamingAggregationSuite: "Append output mode not supported when there are streaming
# aggregations on streaming DataFrames/DataSets without watermark" (UnsupportedOperationsSuite):
# the model refuses the same query, saying why.
def test_append_mode_without_window_is_refused(spark: Any, tmp_path: Any) -> None:
    with pytest.raises(SparkQueryError, match="append mode needs an aggregation"):
        StreamTest(spark, sum_avg_min_max, schema="key string, v long, eventTime timestamp").run(
            AddData([("a", 1, 1)])
        )
    df = sum_avg_min_max(_static_stream(spark, tmp_path, "key string, v long, eventTime timestamp"))
    with pytest.raises(NotModelled, match="never closes"):
        Oracle.from_query(df, {"input": None}, "append", [])


def sessions(words: DataFrame, watermark: bool = True) -> DataFrame:
    events = words.withWatermark("eventTime", "30 seconds") if watermark else words
    return (
        events.groupBy(F.session_window("eventTime", "10 seconds").alias("session"), "sessionId")
        .agg(F.count("*").alias("numEvents"))
        .select(
            "sessionId",
            F.col("session.start").cast("long"),
            F.col("session.end").cast("long"),
            "numEvents",
        )
    )


def words(text: str, t: int) -> list[tuple[str, int]]:
    return [(w, t) for w in text.split()]


WORDS = "sessionId string, eventTime timestamp"


# StreamingSessionWindowSuite: testWithAllOptions("append mode - session window"), without
# the durationMs column (end - start).
def test_session_window_append_mode(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData(
            words("hello world spark streaming", 40) + words("world hello structured streaming", 41)
        ),
        CheckNewAnswer([]),
        AddData(words("spark streaming", 25)),  # placing new sessions "before" previous ones
        CheckNewAnswer([]),
        # late event which session's end 10 would be later than watermark 11: dropped
        AddData(words("spark streaming", 0)),
        CheckNewAnswer([]),
        ExpectLate(words("spark streaming", 0)),
        AddData(words("spark streaming", 30)),  # concatenating previous sessions into one
        CheckNewAnswer([]),
        AddData(words("hello apache spark", 60)),  # watermark: 30
        CheckNewAnswer([]),
        AddData(words("structured streaming", 90)),  # watermark: 60
        CheckNewAnswer(
            [
                ("spark", 25, 50, 3),
                ("streaming", 25, 51, 4),
                ("hello", 40, 51, 2),
                ("world", 40, 51, 2),
                ("structured", 41, 51, 1),
            ]
        ),
        ExpectStateRows(5),
    ]
    both(stream_test, sessions, steps, schema=WORDS)


def sessions_complete(words: DataFrame) -> DataFrame:
    return sessions(words, watermark=True)


# StreamingSessionWindowSuite: testWithAllOptions("complete mode - session window"), without
# durationMs; the watermark Spark's test leaves out changes nothing in complete mode, and the
# model reads the event time from it.
def test_session_window_complete_mode(stream_test: Any) -> None:
    first = [
        ("hello", 40, 51, 2),
        ("world", 40, 51, 2),
        ("streaming", 40, 51, 2),
        ("spark", 40, 50, 1),
        ("structured", 41, 51, 1),
    ]
    merged = [
        ("spark", 25, 50, 3),
        ("streaming", 25, 51, 4),
        ("hello", 40, 51, 2),
        ("world", 40, 51, 2),
        ("structured", 41, 51, 1),
    ]
    steps: list[Step] = [
        AddData(
            words("hello world spark streaming", 40) + words("world hello structured streaming", 41)
        ),
        CheckNewAnswer(first),
        AddData(words("spark streaming", 25)),
        CheckNewAnswer([("spark", 25, 35, 1), ("streaming", 25, 35, 1), *first]),
        AddData(words("spark streaming", 30)),
        CheckNewAnswer(merged),
        AddData(words("hello apache spark", 60)),
        CheckNewAnswer(
            [*merged, ("hello", 60, 70, 1), ("apache", 60, 70, 1), ("spark", 60, 70, 1)]
        ),
    ]
    both(stream_test, sessions_complete, steps, schema=WORDS, output_mode="complete")


def sessions_no_key(words: DataFrame) -> DataFrame:
    return (
        words.withWatermark("eventTime", "30 seconds")
        .groupBy(F.session_window("eventTime", "10 seconds").alias("session"))
        .agg(F.count("*").alias("numEvents"))
        .select(F.col("session.start").cast("long"), F.col("session.end").cast("long"), "numEvents")
    )


# StreamingSessionWindowSuite: testWithAllOptions("append mode - session window - no key"):
# Spark 4 fails this query at its first batch ("Global aggregation with session window in
# streaming query is not supported"); the model refuses it with the same rule.
def test_session_window_without_a_key_is_refused(spark: Any, tmp_path: Any) -> None:
    with pytest.raises(SparkQueryError, match="Global aggregation with session window"):
        StreamTest(spark, sessions_no_key, schema=WORDS).run(AddData(words("a", 1)))
    df = sessions_no_key(_static_stream(spark, tmp_path, WORDS))
    with pytest.raises(NotModelled, match="session window needs a key"):
        Oracle.from_query(df, {"input": None}, "append", [])


# StreamingSessionWindowSuite: testWithAllOptions("update mode - session window"): Spark 4
# refuses update mode for session windows at start (STREAMING_OUTPUT_MODE); so does the model.
def test_session_window_update_mode_is_refused(spark: Any, tmp_path: Any) -> None:
    with pytest.raises(SparkQueryError, match="not supported for session window"):
        StreamTest(spark, sessions, schema=WORDS, output_mode="update").run(AddData(words("a", 1)))
    df = sessions(_static_stream(spark, tmp_path, WORDS))
    with pytest.raises(NotModelled, match="update mode is not supported for session windows"):
        Oracle.from_query(df, {"input": None}, "update", [])


def dedup_all(events: DataFrame) -> DataFrame:
    return (
        events.withWatermark("eventTime", "10 seconds")
        .dropDuplicates()
        .select(F.col("eventTime").cast("long"))
    )


# StreamingDeduplicationSuite: test("deduplicate with watermark")
def test_deduplicate_with_watermark(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([t for _ in range(5) for t in range(10, 16)]),
        CheckAnswer([(t,) for t in range(10, 16)]),
        ExpectStateRows(6),
        AddData([25]),  # Advance watermark to 15 secs, no-data-batch drops rows <= 15
        CheckNewAnswer([(25,)]),
        ExpectStateRows(1),
        AddData([10]),  # Should not emit anything as data less than watermark
        CheckNewAnswer([]),
        ExpectStateRows(1),
        ExpectLate(1),
        AddData([45]),  # Advance watermark to 35 seconds, no-data-batch drops row 25
        CheckNewAnswer([(45,)]),
        ExpectStateRows(1),
    ]
    both(stream_test, dedup_all, steps, schema=EVENT_TIME)


def dedup_id_time(rows: DataFrame) -> DataFrame:
    return rows.withWatermark("time", "1 second").dropDuplicates(["id", "time"]).select("id")


# StreamingDeduplicationSuite: test("SPARK-19841: watermarkPredicate should filter based on
# keys")
def test_watermark_predicate_filters_on_keys(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([(1, 1), (1, 1), (1, 2)]),
        CheckAnswer([(1,), (2,)]),
        AddData([(1, 1), (2, 3), (2, 4)]),
        CheckNewAnswer([(3,), (4,)]),
        AddData([(1, 0), (1, 1), (3, 5), (3, 6)]),  # Drop (1 -> 0, 1 -> 1) due to watermark
        CheckNewAnswer([(5,), (6,)]),
        AddData([(1, 0), (4, 7)]),  # Drop (1 -> 0) due to watermark
        CheckNewAnswer([(7,)]),
    ]
    both(stream_test, dedup_id_time, steps, schema="time timestamp, id int")


def dedup_id(rows: DataFrame) -> DataFrame:
    return (
        rows.withWatermark("time", "1 second")
        .dropDuplicates(["id"])
        .select("id", F.col("time").cast("long"))
    )


# StreamingDeduplicationSuite: test("SPARK-21546: dropDuplicates should ignore watermark when
# it's not a key")
def test_dropduplicates_ignores_watermark_when_not_a_key(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([(1, 1), (1, 2), (2, 2)]),
        CheckAnswer([(1, 1), (2, 2)]),
    ]
    both(stream_test, dedup_id, steps, schema="id int, time timestamp")


def two_watermarks(rows: DataFrame) -> DataFrame:
    return (
        rows.withWatermark("first", "1 minute")
        .select("*")
        .withWatermark("second", "2 minutes")
        .groupBy(F.window("second", "1 minute"))
        .count()
    )


# EventTimeWatermarkSuite: test("overriding watermark should not be allowed by default"):
# Spark fails the query ("Redefining watermark is disallowed", naming
# spark.sql.streaming.statefulOperator.allowMultiple); the model refuses it with the same rule.
def test_two_watermarks_on_one_stream_are_refused(spark: Any, tmp_path: Any) -> None:
    schema = "first timestamp, second timestamp"
    with pytest.raises(SparkQueryError, match="Redefining watermark is disallowed"):
        StreamTest(spark, two_watermarks, schema=schema).run(AddData([(100, 200)]))
    df = two_watermarks(_static_stream(spark, tmp_path, schema))
    with pytest.raises(NotModelled, match="withWatermark twice on one stream"):
        Oracle.from_query(df, {"input": None}, "append", [])


def impressions_clicks(impressions: DataFrame, clicks: DataFrame) -> DataFrame:
    imps = impressions.withWatermark("imp_time", "5 seconds")
    cl = clicks.withWatermark("click_time", "5 seconds")
    return imps.join(
        cl,
        F.expr(
            "imp_id = click_imp AND click_time BETWEEN imp_time AND imp_time + interval 10 seconds"
        ),
    ).select("imp_id", "click_id")


# EventTimeWatermarkSuite: test("recovery") with two inputs (the per-input watermarks of
# test("watermark with 2 streams")): after a restart Spark keeps the global watermark (offset
# log) and forgets each input's; an input with no new rows counts as 0 again, so with the min
# policy the watermark waits for it.
def test_restart_forgets_the_per_input_watermarks(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([("i0", 45), ("i1", 100)], to="impressions"),
        AddData([("c1", "i0", 50)], to="clicks"),
        ExpectWatermark(45),  # min(100 - 5, 50 - 5)
        StopStream(),
        StartStream(),
        AddData([("c2", "i9", 60)], to="clicks"),
        ExpectWatermark(45),  # impressions count as 0 again: min(0, 55) is below 45
        AddData([("i2", 70)], to="impressions"),
        ExpectWatermark(55),  # min(65, 55)
        CheckAnswer([("i0", "c1")]),
    ]
    inputs = {
        "impressions": "imp_id string, imp_time timestamp",
        "clicks": "click_id string, click_imp string, click_time timestamp",
    }
    both(stream_test, impressions_clicks, steps, inputs=inputs)


def windows_of_windows(events: DataFrame) -> DataFrame:
    tens = (
        events.withWatermark("eventTime", "10 seconds")
        .groupBy(F.window("eventTime", "10 seconds").alias("w"))
        .count()
    )
    return tens.groupBy(F.window(F.window_time("w"), "1 minute").alias("m")).agg(
        F.sum("count").alias("n")
    )


# Not from Spark's suites: Spark refuses chained aggregations in update (or complete) mode at
# start (_LEGACY_ERROR_TEMP_3102), as their first can emit rows the second would drop as
# late; the model says so too.
# After a join, Spark runs an aggregation in update mode, and the model says it does not cover it.
def test_chains_the_model_does_not_run_are_refused_with_the_reason(
    spark: Any, tmp_path: Any
) -> None:
    with pytest.raises(SparkQueryError, match="_LEGACY_ERROR_TEMP_3102"):
        StreamTest(spark, windows_of_windows, schema=WORDS, output_mode="update").run(
            AddData(words("a", 1))
        )
    df = windows_of_windows(_static_stream(spark, tmp_path, WORDS))
    with pytest.raises(NotModelled, match="Spark refuses an aggregation after an aggregation"):
        Oracle.from_query(df, {"input": None}, "update", [])
    streams = {}
    for name in ("a", "b"):  # the harness's folders: inputs/<name>
        (tmp_path / "inputs" / name).mkdir(parents=True)
        streams[name] = spark.readStream.schema(WORDS).json(str(tmp_path / "inputs" / name))
    left = streams["a"].withWatermark("eventTime", "10 seconds")
    right = (
        streams["b"]
        .withColumnRenamed("sessionId", "id2")
        .withColumnRenamed("eventTime", "t2")
        .withWatermark("t2", "10 seconds")
    )
    joined = left.join(
        right, F.expr("sessionId = id2 AND t2 BETWEEN eventTime AND eventTime + INTERVAL 5 seconds")
    )
    counted = joined.groupBy(F.window("eventTime", "1 minute")).count()
    with pytest.raises(NotModelled, match="in update mode too, which the model does not cover"):
        Oracle.from_query(counted, {"a": None, "b": None}, "update", [])
    # A join after an aggregation: named, not a generic refusal.
    tens = left.groupBy(F.window("eventTime", "10 seconds").alias("w"), "sessionId").count()
    ends = tens.select("sessionId", F.window_time("w").alias("wt"))
    after = ends.join(right, F.expr("sessionId = id2 AND t2 = wt"))
    with pytest.raises(NotModelled, match="not a join after Aggregate"):
        Oracle.from_query(after, {"a": None, "b": None}, "append", [])


def _static_stream(spark: Any, tmp_path: Any, schema: str) -> DataFrame:
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    return spark.readStream.schema(schema).json(str(folder))

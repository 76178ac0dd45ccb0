"""Spark's refusals of streaming queries, provoked for real, read as one line with the fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from streamlab.spark.errors import SparkQueryError, translate
from streamlab.testing import AddData, CheckNewAnswer, StartStream, StopStream

HERE = Path(__file__).name


def line_of(fn: Any, text: str) -> int:
    import inspect

    lines, start = inspect.getsourcelines(fn)
    return start + next(i for i, line in enumerate(lines) if text in line)


def fails(stream_test: Any, query: Any, *steps: Any, **options: Any) -> SparkQueryError:
    options.setdefault("schema", "event_time timestamp, user string, raw string")
    with pytest.raises(SparkQueryError) as caught:
        stream_test(query, **options).run(*steps)
    err = caught.value
    assert "\n" not in str(err), str(err)
    return err


def test_streaming_file_source_without_schema(spark: SparkSession, tmp_path: Path) -> None:
    def job() -> DataFrame:
        return spark.readStream.json(str(tmp_path))  # no schema

    with pytest.raises(Exception) as caught:
        job()
    err = translate(caught.value)
    assert err.error_class == "_LEGACY_ERROR_TEMP_2048"
    assert "a streaming file source needs a schema" in str(err)
    assert err.where == f"tests/{HERE}:{line_of(job, 'readStream.json')}"


def distinct(events: DataFrame) -> DataFrame:
    return (
        events.withWatermark("event_time", "10 seconds")
        .groupBy(F.window("event_time", "5 seconds"))
        .agg(F.countDistinct("user"))
    )


def test_distinct_aggregation(stream_test: Any) -> None:
    err = fails(stream_test, distinct)
    assert "distinct aggregations" in str(err) and "approx_count_distinct" in str(err)
    assert err.where == f"tests/{HERE}:{line_of(distinct, 'countDistinct')}"


def no_watermark(events: DataFrame) -> DataFrame:
    return events.groupBy(F.window("event_time", "5 seconds")).count()


def not_a_window(events: DataFrame) -> DataFrame:
    return events.withWatermark("event_time", "10 seconds").groupBy("user").count()


@pytest.mark.parametrize("query", [no_watermark, not_a_window])
def test_append_mode_needs_a_window_and_a_watermark(stream_test: Any, query: Any) -> None:
    err = fails(stream_test, query, output_mode="append")
    assert err.error_class == "STREAMING_OUTPUT_MODE.UNSUPPORTED_OPERATION"
    assert "append mode needs an aggregation on a window" in str(err)
    assert err.where == f"tests/{HERE}:{line_of(query, 'groupBy')}"


def outer_without_range(impressions: DataFrame, clicks: DataFrame) -> DataFrame:
    imps = impressions.withWatermark("imp_time", "5 seconds")
    cl = clicks.withWatermark("click_time", "5 seconds")
    return imps.join(cl, F.expr("imp_id = click_imp"), "leftOuter")


def outer_without_watermark(impressions: DataFrame, clicks: DataFrame) -> DataFrame:
    return impressions.join(clicks, F.expr("imp_id = click_imp"), "leftOuter")


JOIN_INPUTS = {
    "impressions": "imp_id string, imp_time timestamp",
    "clicks": "click_imp string, click_time timestamp",
}


@pytest.mark.parametrize("query", [outer_without_range, outer_without_watermark])
def test_outer_join_without_watermark_or_range(stream_test: Any, query: Any) -> None:
    err = fails(stream_test, query, inputs=JOIN_INPUTS, schema=None)
    assert "an outer stream-stream join needs a watermark on both inputs and a time range" in str(
        err
    )
    assert err.where == f"tests/{HERE}:{line_of(query, '.join(')}"


def ambiguous(left: DataFrame, right: DataFrame) -> DataFrame:
    joined = left.join(right, left.user == right.user)
    return joined.select("user")  # both inputs have a `user` column


def test_ambiguous_column_after_join(stream_test: Any) -> None:
    schema = "user string, event_time timestamp"
    err = fails(stream_test, ambiguous, inputs={"left": schema, "right": schema}, schema=None)
    assert err.error_class == "AMBIGUOUS_REFERENCE"
    assert "rename one side's column before the join" in str(err)
    assert err.where == f"tests/{HERE}:{line_of(ambiguous, 'select(')}"


def sorted_stream(events: DataFrame) -> DataFrame:
    return events.orderBy("event_time")


def test_sorting_a_stream(stream_test: Any) -> None:
    err = fails(stream_test, sorted_stream)
    assert "sorting a stream is only supported on an aggregation in complete" in str(err)
    assert err.where == f"tests/{HERE}:{line_of(sorted_stream, 'orderBy')}"


def chained(events: DataFrame) -> DataFrame:
    per_user = (
        events.withWatermark("event_time", "1 second")
        .groupBy(F.window("event_time", "5 seconds").alias("w"), "user")
        .count()
    )
    return per_user.groupBy("user").count()


def test_chained_aggregations(stream_test: Any) -> None:
    err = fails(stream_test, chained, output_mode="update")
    assert "Spark refuses these chained stateful operators" in str(err)
    assert err.where == f"tests/{HERE}:{line_of(chained, 'groupBy')}"


def parse_raw(events: DataFrame) -> DataFrame:
    return events.select(F.to_timestamp("raw").alias("parsed"))


def test_to_timestamp_on_a_bad_string_under_ansi(stream_test: Any) -> None:
    err = fails(
        stream_test,
        parse_raw,
        AddData([("2026-01-01 00:00:01", "u", "not a time")]),
    )
    assert err.error_class == "CAST_INVALID_INPUT"
    assert "use try_to_timestamp()" in str(err)
    assert str(err).startswith("step 1 AddData(1 row)")
    assert err.where == f"tests/{HERE}:{line_of(parse_raw, 'to_timestamp')}"


def per_window(events: DataFrame) -> DataFrame:
    return (
        events.withWatermark("event_time", "10 seconds")
        .groupBy(F.window("event_time", "5 seconds"))
        .count()
    )


def per_window_and_user(events: DataFrame) -> DataFrame:  # a changed key: state won't fit
    return (
        events.withWatermark("event_time", "10 seconds")
        .groupBy(F.window("event_time", "5 seconds"), "user")
        .agg(F.sum(F.lit(1)).alias("n"))
    )


def test_changed_query_on_an_old_checkpoint(stream_test: Any) -> None:
    err = fails(
        stream_test,
        per_window,
        AddData([("2026-01-01 00:00:01", "u", "")]),
        CheckNewAnswer([]),
        StopStream(),
        StartStream(query=per_window_and_user),
        AddData([("2026-01-01 00:00:02", "u", "")]),
    )
    assert "the query changed in a way its checkpoint cannot follow" in str(err), str(err)
    assert err.error_class is not None

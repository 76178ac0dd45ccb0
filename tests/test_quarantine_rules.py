"""The quarantine's plain-Python rules agree with Spark's, line for line."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession

from streamlab.ingest.quarantine import QuarantineConfig, classify
from streamlab.ingest.rules import classify_line
from streamlab.ingest.schemas import SCHEMAS

GOOD_TIMES = st.sampled_from(
    [
        "2026-01-01 09:00:00",
        "2026-01-01 09:04:59",
        "2026-01-01 12:00:00",
        "2026-01-02 09:00:00",
        "2025-12-31 23:59:59",
    ]
)
BAD_TIMES = st.sampled_from(
    [
        "2026-02-30 10:00:00",
        "2026-1-1 9:00:00",
        "2026-01-01T09:00:00",
        "2026-01-01 09:00:00.5",
        "2026-01-01 24:00:00",
        " 2026-01-01 09:00:00",
        "",
        "noon",
        "2026-13-01 00:00:00",
    ]
)
ODD = st.one_of(
    st.integers(-5, 5), st.booleans(), st.just([1, 2]), st.just({"a": 1}), st.text(max_size=5)
)


def field_value(name: str) -> st.SearchStrategy[Any]:
    if name.endswith("_time"):
        return st.one_of(GOOD_TIMES, GOOD_TIMES, BAD_TIMES, st.none(), st.integers(0, 10))
    if name == "value":
        return st.one_of(
            st.floats(allow_nan=False, allow_infinity=False, width=32),
            st.integers(0, 100),
            st.sampled_from(["NaN", "12.5", "abc"]),
            st.booleans(),
            st.none(),
        )
    return st.one_of(st.text(alphabet="ABCEVT0123", min_size=1, max_size=6), st.none(), ODD)


@st.composite
def lines(draw: st.DrawFn, source: str) -> str:
    shape = draw(st.sampled_from(["record"] * 6 + ["truncated", "array", "scalar"]))
    if shape == "array":
        return "[1, 2]"
    if shape == "scalar":
        return draw(st.sampled_from(['"text"', "42", "null", "true"]))
    record: dict[str, Any] = {}
    for field in SCHEMAS[source].fields:
        if draw(st.integers(0, 9)) > 0:  # mostly present
            record[field.name] = draw(field_value(field.name))
    text = json.dumps(record)
    if shape == "truncated" and len(text) > 2:
        text = text[: draw(st.integers(1, len(text) - 1))]
    return text


def spark_reasons(
    spark: SparkSession, source: str, raw: list[str], cfg: QuarantineConfig
) -> list[str | None]:
    rows = [(line, str(i), 0) for i, line in enumerate(raw)]
    frame = spark.createDataFrame(rows, "raw string, source_file string, batch int")
    found = {int(r["source_file"]): r["reason"] for r in classify(frame, source, cfg).collect()}
    return [found[i] for i in range(len(raw))]


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_python_and_spark_quarantine_the_same_lines(
    spark: SparkSession, data: st.DataObject
) -> None:
    for source in ("events", "clicks"):
        raw = data.draw(st.lists(lines(source), min_size=1, max_size=60), label=source)
        raw = [line for line in raw if line.strip()]
        for cfg in (QuarantineConfig(), QuarantineConfig(max_skew_ms=None)):
            expected = spark_reasons(spark, source, raw, cfg)
            assert [classify_line(source, line, cfg) for line in raw] == expected, raw

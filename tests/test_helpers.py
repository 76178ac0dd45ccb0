"""The guide's Step 5 helpers on real streams, checked against pandas over the same files."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from streamlab.errors import StreamlabError
from streamlab.ingest.helpers import (
    create_watermarked_stream,
    create_windowed_aggregation,
    monitor_watermark,
)
from streamlab.lab.paths import LabPaths
from streamlab.raw.landing import DATA_FILE


def landed(lab: LabPaths, source: str) -> pd.DataFrame:
    frames = []
    for batch in sorted(lab.source(source).glob("batch_*")):
        frame = pd.read_json(batch / DATA_FILE, lines=True, dtype=False)
        frame["batch"] = int(batch.name.split("_")[1])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def run(df, name: str, tmp_path: Path, mode: str = "append"):  # type: ignore[no-untyped-def]
    query = (
        df.writeStream.format("memory")
        .queryName(name)
        .outputMode(mode)
        .option("checkpointLocation", str(tmp_path / f"ckpt-{name}"))
        .trigger(availableNow=True)
        .start()
    )
    try:
        query.awaitTermination()
    finally:
        query.stop()
    return query


def test_watermarked_stream_reads_every_batch_folder(
    spark: SparkSession, guide_lab: LabPaths, tmp_path: Path
) -> None:
    stream = create_watermarked_stream(str(guide_lab.source("events")), "event_time", "10 minutes")
    assert stream.isStreaming
    query = run(stream, "raw_events", tmp_path)
    got = spark.table("raw_events")
    assert got.count() == len(landed(guide_lab, "events")) == 1050
    assert dict(got.dtypes)["event_time"] == "timestamp"
    assert [p["numInputRows"] for p in query.recentProgress if p["numInputRows"]] == [105] * 10


def test_windowed_aggregation_matches_pandas(
    spark: SparkSession, guide_lab: LabPaths, tmp_path: Path
) -> None:
    # A delay longer than the data's span: nothing is late, so every event counts.
    stream = create_watermarked_stream(str(guide_lab.source("events")), "event_time", "1 day")
    counts = create_windowed_aggregation(stream, "event_time", "5 minutes", ["event_type"])
    run(counts, "tumbling", tmp_path, mode="complete")
    got = {
        (r["window"]["start"], r["event_type"]): r["count"]
        for r in spark.table("tumbling").collect()
    }
    events = landed(guide_lab, "events")
    events["start"] = pd.to_datetime(events["event_time"]).dt.floor("5min")
    expected = {
        (k[0].to_pydatetime(), k[1]): v
        for k, v in events.groupby(["start", "event_type"]).size().items()
    }
    assert got == expected


def test_sliding_windows_count_each_event_twice(
    spark: SparkSession, guide_lab: LabPaths, tmp_path: Path
) -> None:
    stream = create_watermarked_stream(str(guide_lab.source("events")), "event_time", "1 day")
    sliding = create_windowed_aggregation(
        stream,
        "event_time",
        "10 minutes",
        slide_duration="5 minutes",
        agg_exprs=[F.count(F.lit(1)).alias("n")],
    )
    run(sliding, "sliding", tmp_path, mode="complete")
    assert spark.table("sliding").agg(F.sum("n")).first()[0] == 2 * 1050


def test_monitor_watermark_reports_each_change(
    spark: SparkSession, guide_lab: LabPaths, tmp_path: Path
) -> None:
    stream = create_watermarked_stream(str(guide_lab.source("events")), "event_time", "10 minutes")
    counts = create_windowed_aggregation(stream, "event_time", "5 minutes")
    query = (
        counts.writeStream.format("memory")
        .queryName("wm")
        .outputMode("append")
        .option("checkpointLocation", str(tmp_path / "ckpt-wm"))
        .trigger(availableNow=True)
        .start()
    )
    out = io.StringIO()
    try:
        seen = monitor_watermark(query, duration=120, out=out)
    finally:
        query.stop()
    events = landed(guide_lab, "events")
    # Independently: after batch b the watermark is max(event_time so far) - 10 minutes.
    highest = pd.to_datetime(events.groupby("batch")["event_time"].max()).cummax()
    expected = {(t - pd.Timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%S.000Z") for t in highest}
    assert set(seen) - {"1970-01-01T00:00:00.000Z"} <= expected
    assert len(seen) >= 5 and seen == sorted(seen)
    assert out.getvalue().count("watermark") == len(seen)


def test_a_bad_timestamp_does_not_kill_the_stream(spark: SparkSession, tmp_path: Path) -> None:
    folder = tmp_path / "events" / "batch_0000"
    folder.mkdir(parents=True)
    (folder / DATA_FILE).write_text(
        '{"event_id":"E1","event_time":"2026-01-01 09:00:00"}\n'
        '{"event_id":"E2","event_time":"not a time"}\n'
    )
    stream = create_watermarked_stream(str(tmp_path / "events"), "event_time", "10 minutes")
    run(stream, "bad_times", tmp_path)
    rows = {r["event_id"]: r["event_time"] for r in spark.table("bad_times").collect()}
    assert rows == {"E1": datetime(2026, 1, 1, 9), "E2": None}


def test_helpers_refuse_what_spark_would_fail_on(spark: SparkSession, tmp_path: Path) -> None:
    with pytest.raises(StreamlabError, match="needs one"):
        create_watermarked_stream(str(tmp_path / "unknown"), "t", "10m")
    with pytest.raises(StreamlabError, match="watermark delay"):
        create_watermarked_stream(str(tmp_path / "events"), "event_time", "soon")
    with pytest.raises(StreamlabError, match="not a column"):
        create_watermarked_stream(str(tmp_path / "events"), "click_time", "10m")

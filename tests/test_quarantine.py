"""Bad records are classified, never lost, reconciled exactly; the clock-skew guard works."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from streamlab.checks.verify import verify_lab
from streamlab.ingest.helpers import create_windowed_aggregation
from streamlab.ingest.quarantine import (
    QuarantineConfig,
    bad_records,
    classify,
    read_lines,
    valid_records,
)
from streamlab.lab.paths import LabPaths
from streamlab.raw.generator import GeneratorConfig
from streamlab.raw.landing import DATA_FILE
from streamlab.raw.provision import setup_lab
from tests.support.lab import BASE_TIME

CLICKS = [
    '{"click_id":"C1","impression_id":"I1","click_time":"2026-01-01 09:00:00"}',
    '{"click_id":"C2","impression_id":"I1"}',
    '{"click_id":"C3","click_time":"2026-01-01 09:00:00"}',
    '{"click_id":"C4","impression_id":"I1","click_time":"noon"}',
    '{"click_id":"C5","impression_id":"I1",',
    "",
    "   ",
    '{"click_id":"C6","impression_id":"I1","click_time":"2030-01-01 09:00:00"}',
]


def test_each_line_gets_a_record_or_one_reason(spark: SparkSession, lab: LabPaths) -> None:
    folder = lab.batch("clicks", 3)
    folder.mkdir(parents=True)
    (folder / DATA_FILE).write_text("\n".join(CLICKS) + "\n")
    classified = classify(read_lines(spark, lab, "clicks", streaming=False), "clicks")
    reasons = {r["raw"]: (r["reason"], r["batch"]) for r in classified.collect()}
    # Blank lines are not records; everything else is kept, with its batch.
    assert reasons == {
        CLICKS[0]: (None, 3),
        CLICKS[1]: ("missing_field", 3),
        CLICKS[2]: ("missing_field", 3),
        CLICKS[3]: ("bad_timestamp", 3),
        CLICKS[4]: ("malformed_json", 3),
        CLICKS[7]: (None, 3),  # clicks carry no processing time: no skew test for them
    }
    details = {r["raw"]: r["detail"] for r in bad_records(classified, "clicks").collect()}
    assert details[CLICKS[1]] == "missing click_time"
    assert details[CLICKS[3]] == "unparseable click_time='noon'"
    assert valid_records(classified, "clicks").columns[-2:] == ["source_file", "batch"]


def test_injected_bad_records_reconcile_exactly(spark: SparkSession, lab: LabPaths) -> None:
    cfg = GeneratorConfig(
        base_time=BASE_TIME,
        batches=3,
        malformed_share=0.03,
        missing_field_share=0.02,
        bad_time_share=0.02,
        future_share=0.01,
    )
    setup_lab(lab, cfg)
    report = verify_lab(spark, lab)
    assert report.quarantine == {
        "malformed_json": 9,
        "missing_field": 6,
        "bad_timestamp": 6,
        "clock_skew": 3,
    }
    assert report.ok, [c for c in report.checks if not c.ok]
    assert report.events["rows"] == 300, "bad records never count as events"


def test_verify_flags_a_quarantine_that_does_not_match(spark: SparkSession, lab: LabPaths) -> None:
    setup_lab(lab, GeneratorConfig(base_time=BASE_TIME, batches=1))
    data = lab.batch("events", 0) / DATA_FILE
    data.write_bytes(data.read_bytes() + b'{"event_id": broken\n')
    report = verify_lab(spark, lab)
    check = next(c for c in report.checks if c.name == "quarantine")
    assert not check.ok and "not injected but quarantined: batch 0 malformed_json" in check.detail


def counted_before(
    spark: SparkSession, lab: LabPaths, guard: QuarantineConfig, tmp_path: Path, name: str
) -> int:
    events = valid_records(classify(read_lines(spark, lab, "events"), "events", guard), "events")
    counts = create_windowed_aggregation(
        events.withWatermark("event_time", "10 minutes"), "event_time", "5 minutes"
    )
    query = (
        counts.writeStream.format("memory")
        .queryName(name)
        .outputMode("update")
        .option("checkpointLocation", str(tmp_path / name))
        .trigger(availableNow=True)
        .start()
    )
    try:
        query.awaitTermination()
    finally:
        query.stop()
    # The last update of each window holds its final count.
    latest = spark.table(name).groupBy("window").agg(F.max("count").alias("count"))
    cutoff = F.lit("2026-01-01 10:00:00").cast("timestamp")
    return int(latest.where(F.col("window.end") <= cutoff).agg(F.sum("count")).first()[0] or 0)


def test_clock_skew_guard_keeps_on_time_data_on_time(
    spark: SparkSession, lab: LabPaths, tmp_path: Path
) -> None:
    # Every batch is on time except one event per batch from a clock 1-24 hours ahead.
    setup_lab(
        lab,
        GeneratorConfig(
            base_time=BASE_TIME, batches=4, late_share=0, duplicate_share=0, future_share=0.01
        ),
    )
    guarded = counted_before(spark, lab, QuarantineConfig(), tmp_path, "guarded")
    unguarded = counted_before(spark, lab, QuarantineConfig(max_skew_ms=None), tmp_path, "open")
    assert guarded == 400, "with the guard every on-time event is counted"
    # Without it the future event moves the watermark hours ahead, and later batches' on-time
    # events fall behind it and are dropped.
    assert unguarded < 400


@pytest.mark.slow
def test_pipelines_quarantine_exactly_what_was_injected(spark: SparkSession, lab: LabPaths) -> None:
    from streamlab.run.runner import run_pipelines

    setup_lab(
        lab,
        GeneratorConfig(
            base_time=BASE_TIME,
            batches=3,
            malformed_share=0.02,
            missing_field_share=0.02,
            bad_time_share=0.02,
            future_share=0.01,
        ),
    )
    result = run_pipelines(spark, lab).to_dict()
    accounting = next(p["accounting"] for p in result["pipelines"] if p["accounting"])
    assert accounting["closes"] and accounting["quarantined"] == 3 * 7
    report = verify_lab(spark, lab)
    table = next(c for c in report.checks if c.name == "pipelines.bad_records")
    assert table.ok, table.detail
    assert table.detail.startswith("21 rows in streaming_bronze.bad_records, 21 bad records")
    assert report.ok, [c for c in report.checks if not c.ok]
    # The model reads the same files and leaves out the same lines.
    from streamlab.model.landed import load_source

    assert len(load_source(lab, "events")) == 3 * 105

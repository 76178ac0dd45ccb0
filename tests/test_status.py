"""``streamlab status``: last batch, watermark, state and table rows per pipeline."""

from __future__ import annotations

import json

from pyspark.sql import SparkSession
from typer.testing import CliRunner

from streamlab.cli import app
from streamlab.lab.catalog import table_ref
from streamlab.lab.paths import LabPaths
from streamlab.raw.generator import GeneratorConfig
from streamlab.raw.provision import setup_lab
from streamlab.run.checkpoint import committed_batches, read_offsets
from streamlab.run.runner import run_pipelines
from streamlab.run.status import lab_status
from tests.support.lab import BASE_TIME


def test_status_reads_checkpoints_state_and_tables(spark: SparkSession, lab: LabPaths) -> None:
    setup_lab(
        lab,
        GeneratorConfig(
            base_time=BASE_TIME,
            batches=3,
            events_per_batch=30,
            impressions_per_batch=10,
            clicks_per_batch=3,
        ),
    )
    run_pipelines(spark, lab, ["dedup", "late_data"])
    found = {p.pipeline: p for p in lab_status(spark, lab)}
    assert list(found) == ["watermark_test", "dedup", "windowed_agg", "stream_join", "late_data"]
    assert found["watermark_test"].queries[0].last_batch is None  # never run
    (dedup,) = found["dedup"].queries
    ckpt = lab.checkpoint("dedup")
    assert dedup.last_batch == committed_batches(ckpt)[-1]
    assert dedup.pending_batch is None
    assert dedup.table_rows == spark.read.parquet(str(table_ref(lab, dedup.table).path)).count() > 0
    assert [o.name for o in dedup.operators] == ["dedupeWithinWatermark"]
    expected_state = spark.read.format("statestore").load(str(ckpt)).count()
    assert dedup.state_rows == expected_state > 0
    assert dedup.watermark is not None and dedup.watermark.startswith("2026-01-01")
    ms = read_offsets(ckpt, committed_batches(ckpt)[-1]).watermark_ms
    assert dedup.watermark[11:16] == f"{ms // 3_600_000 % 24:02d}:{ms // 60_000 % 60:02d}"
    tumbling = found["windowed_agg"].queries[0]
    assert {o.name for o in tumbling.operators} == {"stateStoreSave", "dedupeWithinWatermark"}
    assert found["late_data"].late_batches == len(committed_batches(lab.checkpoint(tumbling.name)))

    result = CliRunner().invoke(app, ["status", "--root", str(lab.root), "--json"])
    assert result.exit_code == 0, result.output
    data = {p["pipeline"]: p for p in json.loads(result.output)}
    assert data["dedup"]["queries"][0]["state_rows"] == expected_state

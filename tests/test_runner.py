"""Running pipelines: options, restarts, and a run killed part way then started again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from streamlab.catalog import table_ref
from streamlab.errors import StreamlabError
from streamlab.generator import GeneratorConfig
from streamlab.paths import LabPaths
from streamlab.pipelines.checkpoint import committed_batches
from streamlab.pipelines.config import PipelineConfig, Trigger
from streamlab.pipelines.registry import QUERIES, select_pipelines
from streamlab.provision import setup_lab
from streamlab.runner import run_pipelines
from tests.conftest import BASE_TIME

SMALL = GeneratorConfig(
    base_time=BASE_TIME, batches=3, events_per_batch=40, impressions_per_batch=20,
    clicks_per_batch=5,
)


def test_options_are_validated_with_the_option_named() -> None:
    assert PipelineConfig() == PipelineConfig.from_options(
        watermark_delay="10 minutes", window="5m", sliding_window="10m", slide="5m"
    )
    with pytest.raises(StreamlabError, match="--slide"):
        PipelineConfig.from_options(sliding_window="5m", slide="10m")
    with pytest.raises(StreamlabError, match="--window must be longer than zero"):
        PipelineConfig.from_options(window="0s")
    with pytest.raises(StreamlabError, match="--watermark-delay"):
        PipelineConfig.from_options(watermark_delay="soon")
    assert Trigger.parse("available-now").spark_options() == {"availableNow": True}
    assert Trigger.parse("10s").spark_options() == {"processingTime": "10 seconds"}
    with pytest.raises(StreamlabError, match="--trigger"):
        Trigger.parse("sometimes")
    with pytest.raises(StreamlabError, match="unknown pipeline 'nope'"):
        select_pipelines(["nope"])
    assert select_pipelines(["late_data"]) == ["windowed_agg", "late_data"]
    assert select_pipelines(None)[0] == "watermark_test"


def test_a_second_run_processes_only_new_batches(spark: SparkSession, lab: LabPaths) -> None:
    setup_lab(lab, SMALL)
    first = run_pipelines(spark, lab, ["late_data"])
    tumbling = lab.checkpoint("windowed_agg/tumbling")
    assert committed_batches(tumbling) == [0, 1, 2, 3]
    setup_lab(lab, replace(SMALL, batches=5))  # two more batches land
    second = run_pipelines(spark, lab, ["late_data"])
    (query,) = [q for p in second.pipelines for q in p.queries if q.name.endswith("tumbling")]
    # The first run's closing no-data batch was 3; the new landed batches are 4 and 5.
    assert query.batches[:2] == [4, 5]
    rows_new = sum(
        len((lab.batch("events", b) / "part-00000.json").read_text().splitlines()) for b in (3, 4)
    )
    assert query.input_rows == rows_new
    for result in (first, second):
        (late,) = [p for p in result.pipelines if p.pipeline == "late_data"]
        assert late.accounting is not None and late.accounting["closes"], late.accounting
    # Nothing written twice: one late row per event and batch.
    late_rows = spark.read.parquet(str(table_ref(lab, "streaming_bronze.late_events").path))
    assert late_rows.count() == late_rows.select("event_id", "batch_id").distinct().count()


def test_a_checkpoint_refuses_other_settings(spark: SparkSession, lab: LabPaths) -> None:
    setup_lab(lab, replace(SMALL, batches=1))
    run_pipelines(spark, lab, ["dedup"])
    with pytest.raises(StreamlabError, match="--reset"):
        run_pipelines(spark, lab, ["dedup"], config=PipelineConfig.from_options(
            watermark_delay="1m"))
    again = run_pipelines(
        spark, lab, ["dedup"], config=PipelineConfig.from_options(watermark_delay="1m"),
        reset=True,
    )
    assert again.pipelines[0].queries[0].batches[0] == 0


def _tables(spark: SparkSession, paths: LabPaths) -> dict[str, pd.DataFrame]:
    out = {}
    names = [q.table for q in QUERIES] + ["streaming_bronze.late_events"]
    for name in names:
        folder = table_ref(paths, name).path
        df = spark.read.parquet(str(folder)).toPandas().drop(columns=["source_file"],
                                                             errors="ignore")
        out[name] = df.sort_values(list(df.columns)).reset_index(drop=True)
    return out


@pytest.mark.slow
def test_a_killed_run_restarted_equals_a_clean_run(
    spark: SparkSession, tmp_path: Path
) -> None:
    cfg = replace(SMALL, batches=8)
    clean = LabPaths.resolve(tmp_path / "clean")
    killed = LabPaths.resolve(tmp_path / "killed")
    setup_lab(clean, cfg)
    setup_lab(killed, cfg)
    code = (
        "from streamlab.paths import LabPaths; from streamlab.runner import run_pipelines; "
        "from streamlab.session import lab_session; "
        f"p = LabPaths.resolve({str(killed.root)!r}); run_pipelines(lab_session(p.root), p)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "STREAMLAB_ROOT": str(killed.root)},
    )
    commits = killed.checkpoint("windowed_agg/tumbling") / "commits"
    try:
        deadline = time.monotonic() + 300
        while not (commits / "2").exists():
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the Python driver and its JVM
        proc.wait()
    assert committed_batches(commits.parent)[-1] < 8  # killed part way
    restarted = run_pipelines(spark, killed, None)
    reference = run_pipelines(spark, clean, None)
    got, want = _tables(spark, killed), _tables(spark, clean)
    for name in want:
        assert len(want[name]) > 0 or name == "streaming_gold.ad_ctr"
        pd.testing.assert_frame_equal(got[name], want[name], check_like=True, obj=name)
    (late,) = [p for p in restarted.pipelines if p.pipeline == "late_data"]
    assert late.accounting is not None
    # A progress event the kill cut off leaves the duplicates unknown, never wrong.
    assert late.accounting["closes"] or late.accounting["duplicates_removed"] is None
    assert reference.ok


def test_lab_command_runs_every_pipeline_and_closes_the_accounting(
    spark: SparkSession, lab: LabPaths
) -> None:
    import json

    from typer.testing import CliRunner

    from streamlab.cli import app

    setup_lab(lab, SMALL)
    result = CliRunner().invoke(app, ["lab", "--root", str(lab.root), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ok"] and data["verify"]["ok"]
    run = data["run"]
    assert [p["pipeline"] for p in run["pipelines"]] == [
        "watermark_test", "dedup", "windowed_agg", "stream_join", "late_data"
    ]
    (late,) = [p for p in run["pipelines"] if p["pipeline"] == "late_data"]
    assert late["accounting"]["closes"]
    assert late["accounting"]["input_events"] == sum(
        len((lab.batch("events", b) / "part-00000.json").read_text().splitlines())
        for b in range(3)
    )
    out = {q["name"]: q["table_rows"] for p in run["pipelines"] for q in p["queries"]}
    for name in ("watermark_test", "dedup", "stream_join/clicks"):
        assert out[name] > 0
    # A second run finds nothing new: every query's batches are committed already.
    again = CliRunner().invoke(app, ["run", "--root", str(lab.root), "--json"])
    assert again.exit_code == 0, again.output
    rerun = json.loads(again.output)
    assert all(q["input_rows"] == 0 for p in rerun["pipelines"] for q in p["queries"])
    bad = CliRunner().invoke(app, ["run", "nope", "--root", str(lab.root)])
    assert bad.exit_code == 2
    assert "unknown pipeline 'nope'" in bad.output

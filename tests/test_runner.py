"""Running pipelines: options, restarts, resets and the lab command."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession

from streamlab.errors import StreamlabError
from streamlab.lab.catalog import table_ref
from streamlab.lab.paths import LabPaths
from streamlab.pipelines.config import PipelineConfig, Trigger
from streamlab.pipelines.registry import select_pipelines
from streamlab.raw.generator import GeneratorConfig
from streamlab.raw.provision import setup_lab
from streamlab.run.checkpoint import committed_batches
from streamlab.run.runner import run_pipelines
from tests.support.lab import BASE_TIME

SMALL = GeneratorConfig(
    base_time=BASE_TIME,
    batches=3,
    events_per_batch=40,
    impressions_per_batch=20,
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
        run_pipelines(
            spark, lab, ["dedup"], config=PipelineConfig.from_options(watermark_delay="1m")
        )
    again = run_pipelines(
        spark,
        lab,
        ["dedup"],
        config=PipelineConfig.from_options(watermark_delay="1m"),
        reset=True,
    )
    assert again.pipelines[0].queries[0].batches[0] == 0


@pytest.mark.slow
def test_lab_command_runs_every_pipeline_and_closes_the_accounting(
    spark: SparkSession, lab: LabPaths
) -> None:
    import json

    from typer.testing import CliRunner

    from streamlab.cli import app

    setup_lab(lab, SMALL)
    # A reset regenerates the lab with its own recorded settings, not the defaults.
    result = CliRunner().invoke(app, ["lab", "--reset", "--root", str(lab.root), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["ok"] and data["verify"]["ok"]
    assert data["setup"]["settings"] == {"source": "lab.json", "overridden": [], "note": ""}
    assert data["setup"]["generated"]["events"] == [0, 1, 2]
    run = data["run"]
    assert [p["pipeline"] for p in run["pipelines"]] == [
        "watermark_test",
        "dedup",
        "windowed_agg",
        "stream_join",
        "late_data",
    ]
    (late,) = [p for p in run["pipelines"] if p["pipeline"] == "late_data"]
    assert late["accounting"]["closes"]
    assert late["accounting"]["input_events"] == sum(
        len((lab.batch("events", b) / "part-00000.json").read_text().splitlines()) for b in range(3)
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
    # A clean lab gives doctor nothing to report (bad_records has no watermark by design).
    doctor = CliRunner().invoke(app, ["doctor", "--root", str(lab.root), "--json"])
    assert doctor.exit_code == 0, doctor.output
    assert json.loads(doctor.output) == []


def test_resetting_windows_resets_late_capture(spark: SparkSession, lab: LabPaths) -> None:
    setup_lab(lab, replace(SMALL, batches=3))
    first = run_pipelines(spark, lab, ["late_data"]).to_dict()
    late = next(p["late_captured"] for p in first["pipelines"] if p["pipeline"] == "late_data")
    again = run_pipelines(spark, lab, ["windowed_agg"], reset=True)
    assert again.pipelines[0].queries[0].batches[0] == 0
    assert lab.checkpoint("late_data").is_dir(), "the guide's folders stay"
    rerun = run_pipelines(spark, lab, ["late_data"]).to_dict()
    # The restarted tumbling query's batches were captured again, each once.
    assert (
        next(p["late_captured"] for p in rerun["pipelines"] if p["pipeline"] == "late_data") == late
    )


def test_reset_command_asks_first_and_keeps_the_guides_folders(
    spark: SparkSession, lab: LabPaths
) -> None:
    from typer.testing import CliRunner

    from streamlab.cli import app

    setup_lab(lab, replace(SMALL, batches=1))
    run_pipelines(spark, lab, ["dedup"])
    cli = CliRunner()
    asked = cli.invoke(app, ["reset", "dedup", "--root", str(lab.root)])
    assert asked.exit_code == 2 and "pass --yes to confirm" in asked.stderr
    assert (lab.checkpoint("dedup") / "commits").is_dir(), "nothing removed without --yes"
    done = cli.invoke(app, ["reset", "dedup", "--root", str(lab.root), "--yes", "--json"])
    assert done.exit_code == 0, done.output
    assert not (lab.checkpoint("dedup") / "commits").exists()
    assert lab.checkpoint("dedup").is_dir()
    unknown = cli.invoke(app, ["reset", "nothing", "--root", str(lab.root), "--yes"])
    assert unknown.exit_code == 2 and "unknown pipeline 'nothing'" in unknown.stderr


class _Query:
    """A running query as ``_watch`` sees it: a progress after its first batch, or none."""

    def __init__(self, log: list[str], name: str, batches_in: int) -> None:
        self.log, self.name, self.batches_in = log, name, batches_in
        self.lastProgress: dict[str, int] | None = None
        self.isActive = True

    def awaitTermination(self, timeout: float) -> bool:
        self.log.append(f"wait {self.name}")
        self.batches_in -= 1
        if self.batches_in <= 0:
            self.lastProgress = {"batchId": 0}
        return False

    def exception(self) -> None:
        return None


def test_queries_held_back_start_once_the_first_ones_have_finished_a_batch(
    tmp_path: Path,
) -> None:
    import threading
    import time

    from streamlab.run.runner import _watch

    log: list[str] = []
    queries: dict[str, Any] = {"first": _Query(log, "first", batches_in=3)}
    stop = threading.Event()

    def later() -> None:
        log.append("start the others")
        queries["other"] = _Query(log, "other", batches_in=1)
        stop.set()  # then end the run

    paths = LabPaths.resolve(tmp_path / "lab")
    started = time.monotonic()
    cfg = PipelineConfig()
    _watch(None, paths, queries, {}, started, None, ["dedup"], Trigger(), cfg, stop, later=later)
    # Three waits on the first query's first batch, then the others start, once.
    assert log == ["wait first"] * 3 + ["start the others"]

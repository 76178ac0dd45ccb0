"""What Spark did to the guide's lab, next to what the model expected of it.

One guide-sized lab is run once for the module (windowed_agg, late_data and dedup,
AvailableNow); the tests that change something put it back.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from streamlab.checks.groundtruth import COMPARISONS, compare_with_model
from streamlab.lab.catalog import table_ref
from streamlab.lab.paths import LabPaths
from streamlab.pipelines.registry import LATE_TABLE, QUERIES, TUMBLING
from streamlab.raw.generator import GeneratorConfig
from streamlab.raw.landing import landed_batches
from streamlab.raw.provision import setup_lab
from streamlab.run.checkpoint import planned_batches
from streamlab.run.progress import progress_log
from streamlab.run.runner import run_pipelines
from tests.support.lab import BASE_TIME, GuideRun
from tests.support.replay import replay

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ran_lab(guide_run: GuideRun) -> LabPaths:
    return guide_run.paths


def _checks(report: object) -> dict[str, tuple[bool, str]]:
    data = report.to_dict()  # type: ignore[attr-defined]
    return {c["name"]: (c["ok"], c["detail"]) for c in data["checks"]}


def test_spark_does_what_the_model_expects(spark: SparkSession, ran_lab: LabPaths) -> None:
    report = compare_with_model(spark, ran_lab)
    data = report.to_dict()
    json.dumps(data)  # JSON-ready
    assert report.ok, data["checks"]
    for name in COMPARISONS:
        entry = data[name]
        assert entry["ran"] and entry["ok"]
        assert entry["spark"] == entry["model"] > 0, (name, entry)
    models = data["models"]
    assert models["windowed_agg/tumbling"]["trigger"] == "available-now"
    assert models["windowed_agg/tumbling"]["settings"] == {
        "watermark_delay_ms": 600_000,
        "window_ms": 300_000,
    }
    assert models["dedup"]["landed_batches"] == 10
    assert models["dedup"]["spark_batches"] == 11  # and the closing no-data batch
    checks = _checks(report)
    assert set(checks) == {f"model.{n}" for n in COMPARISONS}
    assert "windows emitted by Spark" in checks["model.windows_emitted"][1]
    # The ctr query (a left outer join, then windows) is compared like the others.
    assert "CTR windows written by Spark" in checks["model.ctr_windows"][1]
    assert models["stream_join/ctr"]["plan"].startswith("trigger available-now")
    assert models["stream_join/ctr"]["settings"]["window_ms"] == 300_000
    assert all("not compared" not in detail for _, detail in checks.values())


def test_a_shorter_click_delay_in_the_model_names_the_first_ctr_window_that_differs(
    spark: SparkSession, ran_lab: LabPaths
) -> None:
    # With the global watermark (no held-back join output) the windows would come out early;
    # a different delay on the join's inputs shows in the batch watermarks and the windows.
    report = compare_with_model(
        spark, ran_lab, model_settings={"impressions_delay_ms": 60_000, "clicks_delay_ms": 60_000}
    )
    checks = _checks(report)
    for name in JOIN_COMPARISONS:
        ok, detail = checks[f"model.{name}"]
        assert not ok, (name, detail)
        assert "ran with watermark" in detail, detail
    for name in EVENT_COMPARISONS:
        assert checks[f"model.{name}"][0]


def test_a_different_window_in_the_model_names_the_first_window_that_differs(
    spark: SparkSession, ran_lab: LabPaths
) -> None:
    report = compare_with_model(spark, ran_lab, model_settings={"window_ms": 600_000})
    checks = _checks(report)
    ok, detail = checks["model.windows_emitted"]
    assert not ok
    # Spark's first 5-minute window is none of the model's 10-minute ones.
    found = re.search(
        r"first difference: window (\d\d):(\d\d)-(\d\d):(\d\d) \w+: Spark \d+, model not emitted",
        detail,
    )
    assert found is not None, detail
    h0, m0, h1, m1 = (int(g) for g in found.groups())
    assert (h1 * 60 + m1) - (h0 * 60 + m0) == 5, detail
    # The watermarks do not depend on the window: the late events still agree.
    assert checks["model.late_events"][0]
    assert checks["model.duplicates_removed"][0]
    assert not report.ok


EVENT_COMPARISONS = ("windows_emitted", "late_events", "duplicates_removed")
JOIN_COMPARISONS = ("join_pairs", "ctr_windows")


def test_a_different_delay_in_the_model_is_flagged_from_the_first_watermark(
    spark: SparkSession, ran_lab: LabPaths
) -> None:
    report = compare_with_model(spark, ran_lab, model_settings={"watermark_delay_ms": 60_000})
    checks = _checks(report)
    for name in EVENT_COMPARISONS:
        ok, detail = checks[f"model.{name}"]
        assert not ok, (name, detail)
        assert "ran with watermark" in detail, detail
    # The join queries have their own delays: the events' delay changes nothing there.
    for name in JOIN_COMPARISONS:
        assert checks[f"model.{name}"][0], checks[f"model.{name}"]
    ok, detail = checks["model.duplicates_removed"]
    assert "first difference: event " in detail, detail


def test_a_late_event_missing_from_the_table_is_named(
    spark: SparkSession, ran_lab: LabPaths, tmp_path: Path
) -> None:
    folder = table_ref(ran_lab, LATE_TABLE).path
    files = sorted(folder.glob("late-batch-*.parquet"))
    assert files
    victim = files[0]
    removed = spark.read.parquet(str(victim)).select("event_id").collect()
    saved = tmp_path / victim.name
    shutil.move(victim, saved)
    try:
        report = compare_with_model(spark, ran_lab)
    finally:
        shutil.move(saved, victim)
    ok, detail = _checks(report)["model.late_events"]
    assert not ok
    first = min(str(r[0]) for r in removed)
    assert f"first difference: event {first}: Spark 0, model 1" in detail, detail
    entry = report.to_dict()["late_events"]
    assert entry["model"] - entry["spark"] == len(removed)
    assert _checks(report)["model.windows_emitted"][0]


def test_batches_landed_after_the_run_are_not_modelled(spark: SparkSession, lab: LabPaths) -> None:
    small = GeneratorConfig(base_time=BASE_TIME, batches=3, events_per_batch=40)
    setup_lab(lab, small)
    run_pipelines(spark, lab, ["windowed_agg", "late_data", "dedup"])
    setup_lab(lab, replace(small, batches=5))
    assert landed_batches(lab, "events") == list(range(5))
    report = compare_with_model(spark, lab)
    assert report.ok, report.to_dict()["checks"]
    assert report.to_dict()["models"]["dedup"]["landed_batches"] == 3


def test_before_any_run_everything_is_not_run(spark: SparkSession, guide_lab: LabPaths) -> None:
    report = compare_with_model(spark, guide_lab)
    data = report.to_dict()
    assert report.ok
    for name in COMPARISONS:
        assert data[name] == {"spark": None, "model": None, "ok": True, "ran": False}
    for _, (ok, detail) in _checks(report).items():
        assert ok and detail.startswith("not run: ")
    assert data["models"] == {}


LONG_RUN = 25
"""Landed batches of the long lab: past the 20 batches Spark keeps offsets and commits of."""


def test_a_run_longer_than_spark_keeps_its_offsets_is_modelled_from_durable_state(
    spark: SparkSession, lab: LabPaths, tmp_path: Path
) -> None:
    setup_lab(lab, GeneratorConfig(base_time=BASE_TIME, batches=LONG_RUN, events_per_batch=20))
    run_pipelines(spark, lab, ["windowed_agg", "late_data", "dedup"])
    for name in (TUMBLING, "dedup"):
        (spec,) = [q for q in QUERIES if q.name == name]
        assert planned_batches(spec.checkpoint(lab))[0] > 0, "Spark kept every batch's offsets"
    want = replay(lab.root)
    assert want.data_batches == LONG_RUN and want.late > 0 and want.windows
    report = compare_with_model(spark, lab)
    data = report.to_dict()
    assert report.ok, data["checks"]
    events = ("windows_emitted", "late_events", "duplicates_removed")
    for name in COMPARISONS:
        ran = name in events  # the join queries did not run on this lab
        assert data[name]["ran"] is ran, name
        assert not ran or data[name]["spark"] == data[name]["model"], name
    # One micro-batch per landed batch, then the closing no-data batch.
    assert data["models"][TUMBLING]["spark_batches"] == LONG_RUN + 1
    assert data["models"]["dedup"]["spark_batches"] == LONG_RUN + 1
    assert "from the progress log" in data["models"][TUMBLING]["plan"]
    assert data["late_events"]["spark"] == want.late
    assert data["windows_emitted"]["spark"] == len(want.windows)

    # Without the progress log the kept offsets and the file source log still place every
    # batch; a wrong delay is still caught from the watermarks Spark kept.
    log = progress_log(lab)
    shutil.move(log, tmp_path / log.name)
    try:
        bare = compare_with_model(spark, lab)
        wrong = compare_with_model(spark, lab, model_settings={"watermark_delay_ms": 60_000})
    finally:
        shutil.move(tmp_path / log.name, log)
    assert bare.ok, bare.to_dict()["checks"]
    assert "progress log" not in bare.to_dict()["models"][TUMBLING]["plan"]
    assert not _checks(wrong)["model.windows_emitted"][0]

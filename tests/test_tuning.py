"""Settings chosen by the size of the work: read from the manifests, kept by the checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

from streamlab.lab.paths import LabPaths
from streamlab.raw.generator import GeneratorConfig
from streamlab.raw.provision import setup_lab
from streamlab.spark.tuning import (
    C1_ONLY,
    HDFS_PROVIDER,
    PROVIDER_KEY,
    ROCKSDB_PROVIDER,
    TuningPolicy,
    WorkSize,
    c1_only,
    checkpoint_provider,
    session_settings,
    state_store_provider,
    work_size,
)
from tests.support.lab import BASE_TIME


def test_the_size_of_the_work_is_read_from_the_manifests(lab: LabPaths) -> None:
    cfg = GeneratorConfig(
        base_time=BASE_TIME,
        batches=3,
        events_per_batch=40,
        impressions_per_batch=5,
        clicks_per_batch=2,
    )
    setup_lab(lab, cfg)
    # The largest source decides: events here (40 a batch and their re-sent copies).
    lines = [
        len((lab.batch("events", b) / "part-00000.json").read_text().splitlines()) for b in range(3)
    ]
    assert work_size(lab) == WorkSize(sum(lines), max(lines))


def test_small_work_compiles_with_c1_and_keeps_state_on_the_heap() -> None:
    policy = TuningPolicy(c1_only_below_rows=1000, rocksdb_from_state_rows=400)
    assert c1_only(WorkSize(999, 99), policy)
    assert not c1_only(WorkSize(1000, 99), policy)
    assert state_store_provider(WorkSize(999, 99), policy) == HDFS_PROVIDER
    assert state_store_provider(WorkSize(999, 100), policy) == ROCKSDB_PROVIDER


def test_session_settings_add_the_jit_flag_only_for_small_labs(lab: LabPaths) -> None:
    setup_lab(lab, GeneratorConfig(base_time=BASE_TIME, batches=2, events_per_batch=20))
    small = session_settings(lab, "-Dx=1")
    assert small["spark.driver.extraJavaOptions"] == f"-Dx=1 {C1_ONLY}"
    big = session_settings(lab, "-Dx=1", TuningPolicy(c1_only_below_rows=1))
    assert big["spark.driver.extraJavaOptions"] == "-Dx=1"
    assert PROVIDER_KEY not in small  # the session's state store stays unless asked
    assert session_settings(lab, "", choose_state_store=True)[PROVIDER_KEY] == HDFS_PROVIDER


def test_the_provider_a_checkpoint_started_with_is_read_back(tmp_path: Path) -> None:
    assert checkpoint_provider(tmp_path) is None
    offsets = tmp_path / "offsets"
    offsets.mkdir()
    meta = {"batchWatermarkMs": 0, "conf": {PROVIDER_KEY: ROCKSDB_PROVIDER}}
    (offsets / "3").write_text("v1\n" + json.dumps(meta) + '\n{"logOffset":0}\n')
    assert checkpoint_provider(tmp_path) == ROCKSDB_PROVIDER

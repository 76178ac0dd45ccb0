"""A checkpoint is checked before a restart: changed settings and damage get one line."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from streamlab.errors import StreamlabError
from streamlab.ingest.helpers import create_watermarked_stream, create_windowed_aggregation
from streamlab.lab.paths import LabPaths
from streamlab.raw.generator import GeneratorConfig
from streamlab.raw.provision import setup_lab
from streamlab.run.checkpoint import check_checkpoint, find_damage
from tests.support.lab import BASE_TIME

SETTINGS = {"window_ms": 300_000, "watermark_delay_ms": 600_000, "keys": ["event_type"]}


@pytest.fixture(scope="module")
def made(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real checkpoint of a stateful query that ran three batches."""
    lab = LabPaths.resolve(tmp_path_factory.mktemp("guard") / "lab")
    setup_lab(lab, GeneratorConfig(base_time=BASE_TIME, batches=3))
    checkpoint = lab.checkpoint("windowed_agg") / "tumbling"
    check_checkpoint(checkpoint, "windowed_agg", SETTINGS)
    stream = create_watermarked_stream(str(lab.source("events")), "event_time", "10 minutes")
    counts = create_windowed_aggregation(stream, "event_time", "5 minutes", ["event_type"])
    query = (
        counts.writeStream.format("memory")
        .queryName("guarded")
        .outputMode("append")
        .option("checkpointLocation", str(checkpoint))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    query.stop()
    return checkpoint


@pytest.fixture
def checkpoint(made: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "ckpt"
    shutil.copytree(made, copy)
    return copy


def test_a_sound_checkpoint_with_the_same_settings_passes(checkpoint: Path) -> None:
    assert find_damage(checkpoint) is None
    check_checkpoint(checkpoint, "windowed_agg", SETTINGS)


def test_changed_settings_are_named_with_the_fix(checkpoint: Path) -> None:
    changed = {**SETTINGS, "window_ms": 600_000}
    with pytest.raises(StreamlabError) as info:
        check_checkpoint(checkpoint, "windowed_agg", changed)
    message = str(info.value)
    assert "window_ms 300000 -> 600000" in message
    assert "streamlab reset windowed_agg" in message and "\n" not in message


def test_a_run_killed_mid_batch_is_not_damage(checkpoint: Path) -> None:
    last = max(int(p.name) for p in (checkpoint / "commits").iterdir() if p.name.isdigit())
    (checkpoint / "commits" / str(last)).unlink()  # planned, never committed: Spark redoes it
    assert find_damage(checkpoint) is None


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (
            lambda c: (c / "offsets" / "1").write_text('v1\n{"batchWatermarkMs":0,"batch'),
            "offsets/1 is truncated or damaged",
        ),
        (lambda c: (c / "offsets" / "2").write_text(""), "offsets/2 is empty or truncated"),
        (lambda c: (c / "commits" / "0").write_text("v1"), "commits/0 is truncated"),
        (lambda c: (c / "offsets" / "1").unlink(), "offsets/1 is missing"),
        (lambda c: (c / "metadata").write_text("{oops"), "metadata is missing or not JSON"),
    ],
)
def test_damage_is_found_before_spark_sees_it(checkpoint: Path, damage, expected: str) -> None:  # type: ignore[no-untyped-def]
    damage(checkpoint)
    with pytest.raises(StreamlabError, match="damaged") as info:
        check_checkpoint(checkpoint, "windowed_agg", SETTINGS)
    assert expected in str(info.value)
    assert "streamlab reset windowed_agg" in str(info.value)


def test_repair_rolls_back_what_a_kill_left_half_done(checkpoint: Path, tmp_path: Path) -> None:
    from streamlab.run.checkpoint import repair_after_kill

    planned = max(int(p.name) for p in (checkpoint / "offsets").iterdir() if p.name.isdigit())
    # A half-written offsets file, a source log entry planned by no batch, and a sink log entry
    # for the last batch, which has no commit.
    (checkpoint / "offsets" / f".{planned + 1}.0d1f.tmp").write_text("v1\n")
    source_log = checkpoint / "sources" / "0"
    last_read = max(int(p.name) for p in source_log.iterdir() if p.name.isdigit())
    (source_log / str(last_read + 1)).write_text('v1\n{"path":"file:///x","timestamp":1}\n')
    (checkpoint / "commits" / str(planned)).unlink()
    sink = tmp_path / "table"
    (sink / "_spark_metadata").mkdir(parents=True)
    written = sink / "part-0001.parquet"
    written.write_bytes(b"rows")
    kept = sink / "part-0000.parquet"
    kept.write_bytes(b"rows")
    (sink / "_spark_metadata" / str(planned - 1)).write_text(
        f'v1\n{{"path":"file://{kept}","size":4,"action":"add"}}\n'
    )
    (sink / "_spark_metadata" / str(planned)).write_text(
        f'v1\n{{"path":"file://{written}","size":4,"action":"add"}}\n'
    )

    removed = repair_after_kill(checkpoint, sink)
    assert f"offsets/.{planned + 1}.0d1f.tmp" in removed
    assert f"sources/0/{last_read + 1}" in removed
    assert f"table/_spark_metadata/{planned}" in removed
    assert not written.exists() and kept.exists(), "only the uncommitted batch's files go"
    assert (sink / "_spark_metadata" / str(planned - 1)).exists()
    assert repair_after_kill(checkpoint, sink) == [], "a sound checkpoint is left alone"
    assert find_damage(checkpoint) is None

"""The late capture reads several batches in one job, from plans saved as each batch commits.

Spark purges the offsets of all but the last ``minBatchesToRetain`` batches; a plan saved
when a batch commits (its files and late watermark) is all a later capture needs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
from pyspark.sql import SparkSession

from streamlab.lab.catalog import table_ref
from streamlab.pipelines.registry import TUMBLING
from streamlab.run.checkpoint import batch_files, committed_batches, late_watermark
from streamlab.run.late import capture_late, captured_batches, pending_plans
from tests.support.lab import GuideRun


def _late_rows(folder: Path) -> list[tuple[object, ...]]:
    rows: list[tuple[object, ...]] = []
    for file in sorted(folder.glob("late-batch-*.parquet")):
        table = pq.read_table(file).to_pydict()
        rows.extend(zip(table["event_id"], table["batch_id"], table["lateness_ms"], strict=True))
    return sorted(rows, key=repr)


def test_saved_plans_capture_the_same_rows_after_spark_purged_the_offsets(
    spark: SparkSession, guide_run: GuideRun, tmp_path: Path
) -> None:
    paths = guide_run.paths
    checkpoint = tmp_path / "tumbling"
    shutil.copytree(paths.checkpoint(TUMBLING), checkpoint)
    batches = committed_batches(checkpoint)
    want = {b: (late_watermark(checkpoint, b), batch_files(checkpoint, b)) for b in batches}
    state, table = tmp_path / "late_data", tmp_path / "late_events"

    # Fewer pending batches than asked for: nothing is read, but every plan is saved.
    assert capture_late(spark, checkpoint, table, state, min_batches=len(batches) + 1) == []
    assert not table.exists()
    assert sorted(int(p.stem) for p in (state / "plans").glob("*.json")) == batches
    shutil.rmtree(checkpoint / "offsets")  # what Spark's purge would take, and more
    assert pending_plans(checkpoint, state) == want

    captured = capture_late(spark, checkpoint, table, state, min_batches=len(batches))
    assert [c.batch_id for c in captured] == batches
    assert list((state / "plans").glob("*.json")) == []
    assert captured_batches(state) == captured_batches(paths.checkpoint("late_data"))
    expected = _late_rows(table_ref(paths, "streaming_bronze.late_events").path)
    assert _late_rows(table) == expected and expected
    # Captured batches are never read again.
    assert capture_late(spark, checkpoint, table, state) == []


def test_a_plan_left_by_a_kill_after_its_marker_is_dropped(
    guide_run: GuideRun, tmp_path: Path
) -> None:
    paths = guide_run.paths
    state = tmp_path / "late_data"
    shutil.copytree(paths.checkpoint("late_data"), state)
    (state / "plans").mkdir(exist_ok=True)
    stale = state / "plans" / "000000.json"
    stale.write_text('{"late_watermark_ms": 0, "files": []}')
    assert pending_plans(paths.checkpoint(TUMBLING), state) == {}
    assert not stale.exists()

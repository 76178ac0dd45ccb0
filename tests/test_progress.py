"""The progress log: one record per query and batch, with the numbers doctor and status use."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession

from streamlab.lab.catalog import table_ref
from streamlab.lab.paths import LabPaths
from streamlab.raw.generator import GeneratorConfig
from streamlab.raw.provision import setup_lab
from streamlab.run.checkpoint import committed_batches, read_offsets
from streamlab.run.progress import (
    ProgressRecorder,
    catch_up,
    latest_by_batch,
    parse_watermark,
    progress_log,
    progress_record,
    read_progress,
    read_progress_backwards,
)
from streamlab.run.runner import run_pipelines
from tests.support.lab import BASE_TIME

PROGRESS = {
    "id": "i",
    "runId": "r",
    "name": "dedup",
    "timestamp": "2026-01-01T00:00:00.000Z",
    "batchId": 3,
    "batchDuration": 120,
    "numInputRows": 7,
    "durationMs": {"addBatch": 80, "triggerExecution": 120},
    "eventTime": {"watermark": "2026-01-01T08:50:00.000Z", "max": "2026-01-01T09:00:00.000Z"},
    "stateOperators": [
        {
            "operatorName": "dedupeWithinWatermark",
            "numRowsTotal": 40,
            "numRowsUpdated": 7,
            "numRowsRemoved": 1,
            "memoryUsedBytes": 1000,
            "numRowsDroppedByWatermark": 2,
            "customMetrics": {"numDroppedDuplicateRows": 1},
        }
    ],
    "sink": {"numOutputRows": 4},
}


def test_a_record_flattens_a_progress_event() -> None:
    rec = progress_record(PROGRESS)
    assert rec["query"] == "dedup" and rec["batch"] == 3 and rec["input_rows"] == 7
    assert rec["state_rows"] == 40 and rec["state_memory_bytes"] == 1000
    assert rec["dropped_by_watermark"] == 2 and rec["output_rows"] == 4
    assert rec["state_operators"][0]["dropped_duplicates"] == 1
    assert rec["durations"]["addBatch"] == 80
    assert parse_watermark(rec["watermark"]).hour == 8  # type: ignore[union-attr]


def test_the_recorder_writes_each_batch_once_and_tells_observers(tmp_path: Path) -> None:
    seen: list[int] = []
    recorder = ProgressRecorder(tmp_path / "logs" / "p.jsonl", [lambda r: seen.append(r["batch"])])
    recorder.record(PROGRESS)
    recorder.record(PROGRESS)  # the same batch reported twice (listener and catch-up)
    recorder.record({**PROGRESS, "batchId": 4})
    assert seen == [3, 4]
    lines = (tmp_path / "logs" / "p.jsonl").read_text().splitlines()
    assert [json.loads(x)["batch"] for x in lines] == [3, 4]
    assert latest_by_batch([json.loads(x) for x in lines])["dedup"].keys() == {3, 4}


def test_a_run_logs_every_batch_of_every_query(spark: SparkSession, lab: LabPaths) -> None:
    setup_lab(lab, GeneratorConfig(base_time=BASE_TIME, batches=3, events_per_batch=30))
    run_pipelines(spark, lab, ["windowed_agg"])
    records = list(read_progress(progress_log(lab)))
    by_query = latest_by_batch(records)
    assert set(by_query) == {"windowed_agg/tumbling", "windowed_agg/sliding"}
    for name, batches in by_query.items():
        ckpt = lab.checkpoint(name)
        assert list(batches) == committed_batches(ckpt)
        for batch, rec in batches.items():
            # The watermark a batch reports is the one it ran with, as the offsets log says.
            ran_with = read_offsets(ckpt, batch).watermark_ms
            assert parse_watermark(rec["watermark"]).timestamp() * 1000 == ran_with  # type: ignore[union-attr]
            assert {op["operator"] for op in rec["state_operators"]} == {
                "dedupeWithinWatermark",
                "stateStoreSave",
            }
            for key in (
                "input_rows",
                "state_rows",
                "state_memory_bytes",
                "dropped_by_watermark",
                "durations",
                "duration_ms",
            ):
                assert key in rec
        # Rows written, per batch, add up to the table (an observed metric: the file sink
        # itself reports -1).
        table = spark.read.parquet(str(table_ref(lab, f"streaming_gold.events_{name[13:]}").path))
        assert sum(r["output_rows"] for r in batches.values()) == table.count()
        assert sum(r["input_rows"] for r in batches.values()) == sum(
            len((lab.batch("events", b) / "part-00000.json").read_text().splitlines())
            for b in range(3)
        )


def test_a_line_a_killed_writer_cut_off_does_not_swallow_the_next_record(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "p.jsonl"
    log.parent.mkdir()
    log.write_text(json.dumps(progress_record(PROGRESS)) + "\n" + '{"query": "dedup", "ba')
    ProgressRecorder(log).record({**PROGRESS, "runId": "r2", "batchId": 4})
    assert [r["batch"] for r in read_progress(log)] == [3, 4]


def test_catching_up_records_what_the_listener_has_not_delivered_at_once(
    tmp_path: Path,
) -> None:
    recorder = ProgressRecorder(tmp_path / "p.jsonl")
    recorder.record(PROGRESS)  # batch 3 came through the listener
    kept = [{**PROGRESS, "batchId": b} for b in range(2, 6)]  # what the stopped query kept
    assert catch_up(recorder, kept) == [2, 4, 5]
    assert sorted(r["batch"] for r in read_progress(recorder.log)) == [2, 3, 4, 5]
    assert catch_up(recorder, kept) == []


@settings(max_examples=60, deadline=None)
@given(
    records=st.lists(
        st.dictionaries(st.sampled_from("abc"), st.text(max_size=30), max_size=3), max_size=30
    ),
    damaged=st.lists(st.integers(0, 30), max_size=3),
    chunk=st.integers(1, 64),
    newline_at_end=st.booleans(),
)
def test_the_log_read_backwards_is_the_log_reversed(
    tmp_path_factory: object,
    records: list[dict[str, str]],
    damaged: list[int],
    chunk: int,
    newline_at_end: bool,
) -> None:
    lines = [json.dumps(r) for r in records]
    for at in sorted(damaged, reverse=True):
        lines.insert(min(at, len(lines)), '{"cut": ')  # a killed writer's line
    text = "\n".join(lines) + ("\n" if newline_at_end and lines else "")
    log = Path(tmp_path_factory.mktemp("log")) / "progress.jsonl"  # type: ignore[attr-defined]
    log.write_text(text)
    assert list(read_progress_backwards(log, chunk)) == list(reversed(list(read_progress(log))))

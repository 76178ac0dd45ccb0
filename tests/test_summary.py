"""A run's summary at scale: every figure agrees with an independent count of the files.

30 landed batches of 10,000 events (10,500 rows with the re-sent copies) run through the
windows and the late capture. The summary's batches, rows in, duplicates removed and late rows
must equal what a plain-Python replay of the landed files expects, and the emitted windows
what the tables hold (read with pyarrow). Before streamlab read its summary back from durable
state, a run like this one summarised 21 of its 31 batches: the listener events of the last
ten were still in flight when the queries stopped.

The replay follows Spark's rules for these queries (docs/semantics-proof.md): batch ``N``
drops as late the rows at or behind the watermark computed after batch ``N-2`` (the query has
two stateful operators, semantics T1); the watermark is the largest event time so far minus
the delay; a re-sent copy carries its original's event time, so the deduplication removes
every later copy of an ``event_id`` that is not late.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from streamlab.cli import app
from streamlab.lab.paths import LabPaths
from streamlab.raw.generator import GeneratorConfig
from streamlab.raw.provision import setup_lab
from streamlab.run.progress import latest_by_batch, progress_log, read_progress
from tests.support.lab import BASE_TIME
from tests.support.tables import read_table

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

BATCHES = 30
EVENTS = 10_000
DELAY_MS = 10 * 60_000
WINDOW_MS = 5 * 60_000


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def replay(root: Path) -> dict[str, Any]:
    """Count, from the landed files alone, what the tumbling query must have done."""
    files = sorted((root / "events").glob("batch_*/part-*.json"))
    rows_in = late = dups = 0
    after: list[int] = []  # the watermark after each batch
    seen: set[str] = set()
    kept: list[int] = []
    for batch, file in enumerate(files):
        lines = file.read_text().splitlines()
        rows_in += len(lines)
        records = [json.loads(line) for line in lines]
        late_wm = after[batch - 2] if batch >= 2 else 0
        for rec in records:
            event_ms = _ms(rec["event_time"])
            if event_ms <= late_wm:
                late += 1
            elif rec["event_id"] in seen:
                dups += 1
            else:
                seen.add(rec["event_id"])
                kept.append(event_ms)
        top = max(_ms(r["event_time"]) for r in records) - DELAY_MS
        after.append(max(after[-1] if after else 0, top))
    final_wm = after[-1]
    emitted = sum(1 for t in kept if t - t % WINDOW_MS + WINDOW_MS <= final_wm)
    return {
        "data_batches": len(files),
        "rows_in": rows_in,
        "late": late,
        "duplicates": dups,
        "kept": len(kept),
        "emitted": emitted,
    }


@pytest.fixture(scope="module")
def big_run(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> Any:
    root = tmp_path_factory.mktemp("summary") / "lab"
    paths = LabPaths.resolve(root)
    setup_lab(paths, GeneratorConfig(base_time=BASE_TIME, batches=BATCHES, events_per_batch=EVENTS))
    result = CliRunner().invoke(app, ["run", "late_data", "--root", str(root), "--json"])
    assert result.exit_code == 0, result.output
    return paths, json.loads(result.output)


def test_the_summary_counts_every_batch_row_duplicate_and_late_row(big_run: Any) -> None:
    paths, summary = big_run
    want = replay(paths.root)
    assert want["data_batches"] == BATCHES and want["rows_in"] == BATCHES * EVENTS * 21 // 20
    assert want["late"] > 0 and want["duplicates"] > 0
    queries = {q["name"]: q for p in summary["pipelines"] for q in p["queries"]}
    log = latest_by_batch(list(read_progress(progress_log(paths))))
    for name in ("windowed_agg/tumbling", "windowed_agg/sliding"):
        query = queries[name]
        # One micro-batch per landed batch, then the no-data batch that closes the windows.
        assert query["batches"] == list(range(BATCHES + 1)), name
        assert sorted(log[name]) == query["batches"], f"{name}: the progress log is incomplete"
        assert query["input_rows"] == want["rows_in"], name
        assert query["dropped_duplicates"] == want["duplicates"], name
    (late,) = [p for p in summary["pipelines"] if p["pipeline"] == "late_data"]
    late_table = read_table(paths.warehouse / "streaming_bronze.db" / "late_events", paths.root)
    assert late["late_captured"] == len(late_table) == want["late"]
    acct = late["accounting"]
    assert acct["closes"], acct
    assert acct["input_events"] == want["rows_in"]
    assert acct["late_captured"] == want["late"]
    assert acct["duplicates_removed"] == acct["duplicates_reported"] == want["duplicates"]
    assert acct["counted_emitted"] + acct["counted_open"] == want["kept"]


def test_the_emitted_windows_hold_every_kept_row_whose_window_closed(big_run: Any) -> None:
    paths, summary = big_run
    want = replay(paths.root)
    folder = paths.warehouse / "streaming_gold.db" / "events_tumbling"
    tumbling = read_table(folder, paths.root)
    assert int(tumbling["event_count"].sum()) == want["emitted"]
    # Every committed sink file is read; no file is left out of the commit log.
    on_disk = sum(pq.read_metadata(f).num_rows for f in folder.glob("part-*.parquet"))
    assert on_disk == len(tumbling)
    (late,) = [p for p in summary["pipelines"] if p["pipeline"] == "late_data"]
    assert late["accounting"]["counted_emitted"] == want["emitted"]

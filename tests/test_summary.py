"""A run's summary at scale: every figure agrees with an independent count of the files.

30 landed batches of 10,000 events (10,500 rows with the re-sent copies) run through the
windows and the late capture. The summary's batches, rows in, duplicates removed and late rows
must equal what a plain-Python replay of the landed files expects, and the emitted windows
what the tables hold (read with pyarrow). Before streamlab read its summary back from durable
state, a run like this one summarised 21 of its 31 batches: the listener events of the last
ten were still in flight when the queries stopped.

The replay (``tests/support/replay.py``) follows Spark's rules for these queries.
"""

from __future__ import annotations

import json
from dataclasses import asdict
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
from tests.support.replay import replay
from tests.support.tables import read_table

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

BATCHES = 30
EVENTS = 10_000


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
    want = asdict(replay(paths.root))
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
    want = asdict(replay(paths.root))
    folder = paths.warehouse / "streaming_gold.db" / "events_tumbling"
    tumbling = read_table(folder, paths.root)
    assert int(tumbling["event_count"].sum()) == want["emitted"]
    # Every committed sink file is read; no file is left out of the commit log.
    on_disk = sum(pq.read_metadata(f).num_rows for f in folder.glob("part-*.parquet"))
    assert on_disk == len(tumbling)
    (late,) = [p for p in summary["pipelines"] if p["pipeline"] == "late_data"]
    assert late["accounting"]["counted_emitted"] == want["emitted"]

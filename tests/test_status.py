"""``streamlab status``: last batch, watermark, state and table rows per pipeline."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
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


@pytest.fixture(scope="module")
def ran(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> LabPaths:
    """A small lab after dedup and late_data ran once; the tests only read it."""
    lab = LabPaths.resolve(tmp_path_factory.mktemp("status") / "lab")
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
    return lab


def test_status_reads_checkpoints_state_and_tables(spark: SparkSession, ran: LabPaths) -> None:
    lab = ran
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


_WATCHING: list[Counter[str]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event == "open" and _WATCHING and isinstance(args[0], str | Path):
        _WATCHING[-1][str(args[0])] += 1


sys.addaudithook(_audit)  # an audit hook stays for the process: it counts only when asked


def _opened(run: Any) -> Counter[str]:
    """Run ``run()`` and return the files it opened through Python, by path."""
    _WATCHING.append(Counter())
    try:
        run()
    finally:
        opened = _WATCHING.pop()
    return opened


def test_status_and_doctor_read_only_what_they_need(
    ran: LabPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing that grows with the data: no landed file, no source log, no state data, no
    commit, one offsets entry a query, the progress log from its end, no Spark."""
    import pyarrow.parquet as pq

    from streamlab.run import status as status_module
    from streamlab.run.doctor import diagnose_log
    from streamlab.run.progress import progress_log, read_progress_backwards

    lab = ran
    log = progress_log(lab)
    # Older records (another query) at the head of the log must not be read.
    newest = log.read_bytes()
    old = json.dumps(
        {"query": "other", "id": "other", "batch": 0, "input_rows": 0, "state_operators": []}
    )
    log.write_bytes((old + "\n").encode() * 20_000 + newest)
    yielded = Counter[str]()

    def counted(path: Path) -> Iterator[dict[str, Any]]:
        for record in read_progress_backwards(path):
            yielded[str(record.get("id"))] += 1
            yield record

    monkeypatch.setattr(status_module, "read_progress_backwards", counted)
    footers: list[Path] = []
    real_footer = pq.read_metadata

    def footer(file: Any, *args: Any, **kwargs: Any) -> Any:
        footers.append(Path(file))
        return real_footer(file, *args, **kwargs)

    monkeypatch.setattr(pq, "read_metadata", footer)

    def no_spark() -> Any:
        raise AssertionError("status started Spark though the progress log has every batch")

    found: list[Any] = []
    opened = _opened(lambda: found.extend(lab_status(None, lab, start_spark=no_spark)))
    (dedup,) = next(p for p in found if p.pipeline == "dedup").queries
    assert dedup.state_rows > 0 and [o.name for o in dedup.operators] == ["dedupeWithinWatermark"]
    assert yielded["other"] == 0, "status read the log's old records"
    root = str(lab.root)
    inside = {p[len(root) + 1 :]: n for p, n in opened.items() if p.startswith(root + "/")}
    for path in inside:
        assert not path.startswith(("events/", "impressions/", "clicks/")), path
        parts = path.split("/")
        assert "sources" not in parts and "commits" not in parts, path
        if "state" in parts:
            assert parts[-2:] == ["_metadata", "metadata"], path
        assert not path.startswith("checkpoints/late_data/batches/"), path
    per_query = Counter(p.rsplit("/offsets/", 1)[0] for p in inside if "/offsets/" in p)
    assert per_query and max(per_query.values()) == 1, per_query
    assert inside.get("logs/progress.jsonl") == 1
    # Parquet footers: one per committed file of the tables, nothing else.
    assert all("/warehouse/" in str(f) and f.suffix == ".parquet" for f in footers)

    doctor = _opened(lambda: diagnose_log(log))
    assert [p for p in doctor if p.startswith(root + "/")] == [str(log)]
    log.write_bytes(newest)

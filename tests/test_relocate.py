"""A lab copied with ``cp -r`` or moved with ``mv``: refused until ``streamlab relocate``, then
the same lab as the original, row for row, and the original untouched throughout.

The slow tests share one real ``streamlab lab`` (4 batches) and work on copies of it. The fast
ones use a lab whose logs are written here as Spark writes them, without running Spark.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from streamlab.cli import app
from streamlab.lab.catalog import attach_catalog
from streamlab.lab.home import HOME_FILE, LabMovedError, check_home, inferred_root, read_home
from streamlab.lab.paths import LabPaths
from streamlab.lab.relocate import rebase, recorded_path_files, relocate_lab
from streamlab.notebook.runner import NotebookRunner
from streamlab.pipelines.registry import PIPELINES
from streamlab.run.runner import claim_root
from streamlab.run.tables import row_count
from tests.support.lab import snapshot

runner = CliRunner()


def slow(test: Any) -> Any:
    """Mark a test that uses the real lab: slow, with room for the lab run on a busy machine."""
    return pytest.mark.timeout(1800)(pytest.mark.slow(test))


BATCHES = 4
SETUP = ["--base-time", "2026-01-01T09:00:00", "--batches", str(BATCHES)]
TABLES = (
    "streaming_bronze.events",
    "streaming_bronze.bad_records",
    "streaming_bronze.late_events",
    "streaming_silver.events_dedup",
    "streaming_silver.ad_clicks",
    "streaming_gold.events_tumbling",
    "streaming_gold.events_sliding",
    "streaming_gold.ad_ctr",
)


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args))


def cp_r(source: Path, target: Path) -> Path:
    """Copy as a user does (new modification times, unlike shutil.copytree)."""
    subprocess.run(["cp", "-r", str(source), str(target)], check=True)
    return target


def table_rows(spark: SparkSession, root: Path) -> dict[str, list[str]]:
    """Every committed row of every table of the lab at ``root``, read through its catalog."""
    attach_catalog(spark, LabPaths.resolve(root))
    return {t: sorted(repr(r) for r in spark.table(t).collect()) for t in TABLES}


def text_files_naming(root: Path, old: Path) -> list[str]:
    """The lab's files other than Parquet data that still hold ``old`` as a path."""
    needle = f"{old}/".encode()
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and p.suffix != ".parquet" and needle in p.read_bytes()
    )


@pytest.fixture(scope="module")
def original(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The lab every test copies: set up, run and verified once; its snapshot right after."""
    root = tmp_path_factory.mktemp("relocate") / "original"
    assert invoke("setup", "--root", str(root), *SETUP, "--json").exit_code == 0
    ran = invoke("lab", "--root", str(root), "--json")
    assert ran.exit_code == 0, ran.output
    before = snapshot(root)
    rows = table_rows(spark, root)
    assert rows["streaming_bronze.events"] and rows["streaming_gold.events_tumbling"]
    return {"root": root, "snapshot": before, "rows": rows}


@pytest.fixture(scope="module")
def copy(original: dict[str, Any]) -> Path:
    """``cp -r`` of the original, which the tests below relocate and run on, in order."""
    return cp_r(original["root"], original["root"].parent / "copy")


@slow
def test_the_lab_records_where_it_lives(original: dict[str, Any]) -> None:
    root = original["root"]
    home = read_home(LabPaths.resolve(root))
    assert home is not None and home.root == str(root) and not home.pending


@slow
def test_reading_the_copy_is_refused_never_empty(original: dict[str, Any], copy: Path) -> None:
    before = snapshot(copy)
    for args in (
        ["sql", "SELECT count(*) FROM streaming_gold.events_tumbling"],
        ["verify"],
        ["status"],
    ):
        result = invoke(*args, "--root", str(copy), "--json")
        assert result.exit_code == 2, (args, result.output)
        line = f"this lab was moved from {original['root']}; run `streamlab relocate`"
        assert line in result.stderr and len(result.stderr.strip().splitlines()) == 1
    # The model reads only the landed batches, whose paths are the root's own: right as is.
    assert invoke("explain", "--root", str(copy), "--json").exit_code == 0
    assert snapshot(copy) == before


@slow
def test_writing_to_the_copy_is_refused_and_writes_nothing(
    original: dict[str, Any], copy: Path
) -> None:
    before = snapshot(copy)
    expected = f"this lab was moved from {original['root']}; run `streamlab relocate`"
    for args in (
        ["run", "watermark_test"],
        ["run"],
        ["lab"],
        ["setup", "--batches", str(BATCHES + 1)],
        ["reset", "dedup", "--yes"],
    ):
        result = invoke(*args, "--root", str(copy))
        assert result.exit_code == 2, (args, result.output)
        assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "(or pass --reset to start over)" in invoke("run", "--root", str(copy)).stderr
    assert snapshot(copy) == before


@slow
def test_relocate_makes_the_copy_the_original_row_for_row(
    spark: SparkSession, original: dict[str, Any], copy: Path
) -> None:
    result = invoke("relocate", "--root", str(copy), "--json")
    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)
    assert done["moved_from"] == [str(original["root"])] and done["left"] == []
    assert done["rewritten"] > 0 and done["paths"] >= done["rewritten"]
    assert text_files_naming(copy, original["root"]) == []
    assert read_home(LabPaths.resolve(copy)) is not None
    assert table_rows(spark, copy) == original["rows"]
    again = json.loads(invoke("relocate", "--root", str(copy), "--json").stdout)
    assert again["moved_from"] == [] and again["rewritten"] == 0


@slow
def test_a_batch_landed_in_the_copy_is_processed_exactly_once(
    original: dict[str, Any], copy: Path
) -> None:
    grown = invoke("setup", "--root", str(copy), "--batches", str(BATCHES + 1), "--json")
    assert grown.exit_code == 0, grown.output
    landed = copy / "events" / f"batch_{BATCHES:04d}" / "part-00000.json"
    new_lines = sum(1 for line in landed.read_text().splitlines() if line.strip())
    bronze = LabPaths.resolve(copy).warehouse / "streaming_bronze.db" / "events"
    bronze_before = row_count(bronze)

    result = invoke("run", "--root", str(copy), "--json")
    assert result.exit_code == 0, result.output
    queries = {q["name"]: q for p in json.loads(result.stdout)["pipelines"] for q in p["queries"]}
    assert len(queries["watermark_test"]["batches"]) == 1
    for name in ("watermark_test", "dedup", "windowed_agg/tumbling", "windowed_agg/sliding"):
        assert queries[name]["input_rows"] == new_lines, name
    assert row_count(bronze) == bronze_before + new_lines
    assert bronze_before == len(original["rows"]["streaming_bronze.events"])

    again = invoke("run", "watermark_test", "--root", str(copy), "--json")
    assert again.exit_code == 0, again.output
    rerun = [q for p in json.loads(again.stdout)["pipelines"] for q in p["queries"]]
    assert [q["input_rows"] for q in rerun if q["name"] == "watermark_test"] == [0]


@slow
def test_verify_passes_on_the_copy(copy: Path) -> None:
    result = invoke("verify", "--root", str(copy), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["ok"] is True


_KILLER = """
import os, signal, sys
from streamlab.lab.paths import LabPaths
from streamlab.lab.relocate import relocate_lab
at = int(sys.argv[2])
def progress(done, total):
    if done == at:
        os.kill(os.getpid(), signal.SIGKILL)
relocate_lab(LabPaths.resolve(sys.argv[1]), progress=progress)
"""


@slow
def test_relocate_killed_halfway_finishes_when_run_again(
    spark: SparkSession,
    original: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    total = len(recorded_path_files(LabPaths.resolve(original["root"])))
    # Killed (SIGKILL) between two files, at the first, a middle and the last one.
    for at in (1, total // 2, total):
        lab = cp_r(original["root"], tmp_path / f"killed-{at}")
        proc = subprocess.run([sys.executable, "-c", _KILLER, str(lab), str(at)], check=False)
        assert proc.returncode == -9
        paths = LabPaths.resolve(lab)
        home = read_home(paths)
        assert home is not None and home.pending  # the journal names both roots
        refused = invoke("sql", "SELECT 1", "--root", str(lab))
        assert refused.exit_code == 2 and "was interrupted" in refused.stderr
        assert relocate_lab(paths).moved_from == [str(original["root"])]
        assert text_files_naming(lab, original["root"]) == []
        assert {t: row_count(paths.warehouse / t.replace(".", ".db/")) for t in TABLES} == {
            t: len(rows) for t, rows in original["rows"].items()
        }

    # Killed inside one file's rewrite: its .crc removed, its new text written, not yet renamed.
    lab = cp_r(original["root"], tmp_path / "killed-mid-file")
    import streamlab.lab.relocate as relocate_module

    calls = {"n": 0}
    real_replace = os.replace

    def dying_replace(src: Any, dst: Any) -> None:
        calls["n"] += 1
        if calls["n"] == total // 3:
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(relocate_module.os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        relocate_lab(LabPaths.resolve(lab))
    monkeypatch.setattr(relocate_module.os, "replace", real_replace)
    assert list(lab.rglob("*.relocate.tmp"))
    assert relocate_lab(LabPaths.resolve(lab)).moved_from
    assert not list(lab.rglob("*.relocate.tmp"))
    assert table_rows(spark, lab) == original["rows"]


@slow
def test_a_moved_lab_is_refused_until_relocated(
    spark: SparkSession, original: dict[str, Any], tmp_path: Path
) -> None:
    first = cp_r(original["root"], tmp_path / "first")
    relocate_lab(LabPaths.resolve(first))
    moved = tmp_path / "moved"
    subprocess.run(["mv", str(first), str(moved)], check=True)
    before = snapshot(moved)
    refused = invoke("run", "--root", str(moved))
    assert refused.exit_code == 2
    assert f"this lab was moved from {first}; run `streamlab relocate`" in refused.stderr
    assert snapshot(moved) == before
    assert relocate_lab(LabPaths.resolve(moved)).moved_from == [str(first)]
    assert (
        text_files_naming(moved, first) == [] and text_files_naming(moved, original["root"]) == []
    )
    assert table_rows(spark, moved) == original["rows"]


@slow
def test_reset_starts_a_moved_lab_over_where_it_is(
    original: dict[str, Any], tmp_path: Path
) -> None:
    # Every pipeline started over: checkpoints and tables go, the landed data stays.
    lab = LabPaths.resolve(cp_r(original["root"], tmp_path / "reset-runs"))
    claim_root(lab, list(PIPELINES), reset=True)
    assert read_home(lab) is not None and read_home(lab).root == str(lab.root)  # type: ignore[union-attr]
    assert text_files_naming(lab.root, original["root"]) == []
    assert len(list((lab.root / "events").glob("batch_*"))) == BATCHES
    # The whole lab started over.
    again = tmp_path / "reset-all"
    cp_r(original["root"], again)
    result = invoke("setup", "--root", str(again), *SETUP, "--reset", "--json")
    assert result.exit_code == 0, result.output
    assert read_home(LabPaths.resolve(again)).root == str(again)  # type: ignore[union-attr]
    assert text_files_naming(again, original["root"]) == []


def test_the_same_folder_under_another_name_is_noticed(made: LabPaths, tmp_path: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(made.root)
    result = invoke("sql", "SELECT 1", "--root", str(alias))
    assert result.exit_code == 2
    assert f"this lab lives at {made.root} and is seen here as {alias}" in result.stderr


def test_a_lab_from_before_the_record_is_placed_by_its_logs(made: LabPaths, tmp_path: Path) -> None:
    lab = LabPaths.resolve(cp_r(made.root, tmp_path / "old-style"))
    (lab.root / HOME_FILE).unlink()
    assert inferred_root(lab) == str(made.root)
    with pytest.raises(LabMovedError, match=f"was moved from {made.root}"):
        check_home(lab, writing=True)
    assert relocate_lab(lab).moved_from == [str(made.root)]
    check_home(lab, writing=True)
    # With no log naming any root, there is nothing to go wrong: the next writer records it.
    fresh = LabPaths.resolve(tmp_path / "fresh")
    assert invoke("setup", "--root", str(fresh.root), *SETUP[:2], "--batches", "1").exit_code == 0
    (fresh.root / HOME_FILE).unlink()
    cp_r(fresh.root, tmp_path / "fresh-copy")
    check_home(LabPaths.resolve(tmp_path / "fresh-copy"), writing=True)


@slow
def test_the_notebook_runner_and_dbfs_see_one_root(
    spark: SparkSession, original: dict[str, Any], tmp_path: Path
) -> None:
    notebook = tmp_path / "probe.py"
    notebook.write_text("# Databricks notebook source\nprint('ran')\n")
    lab = cp_r(original["root"], tmp_path / "notebook-copy")
    before = snapshot(lab)
    with pytest.raises(LabMovedError, match=f"was moved from {original['root']}"):
        NotebookRunner(spark, lab).run(notebook)
    assert snapshot(lab) == before
    # dbfs: names the same root as the plain path, on Databricks (/dbfs) and off it alike.
    check_home(LabPaths.resolve(f"dbfs:{original['root']}"), writing=True)
    assert NotebookRunner(spark, original["root"]).paths.root == original["root"]


def _spark_logs(lab: LabPaths) -> dict[str, str]:
    """Source and sink logs, late records and a plan naming ``lab``'s root, as runs leave them."""
    source = "checkpoints/watermark_test/sources/0"
    sink = "warehouse/streaming_bronze.db/events"
    logs = {}
    for batch in range(2):
        read = f"file://{lab.batch('events', batch)}/part-00000.json"
        entry = {"path": read, "timestamp": 1, "batchId": batch}
        logs[f"{source}/{batch}"] = "v1\n" + json.dumps(entry, separators=(",", ":"))
        wrote = {"path": f"file://{lab.root}/{sink}/part-{batch}.parquet", "action": "add"}
        logs[f"{sink}/_spark_metadata/{batch}"] = "v1\n" + json.dumps(wrote, separators=(",", ":"))
        late = {"batch_id": batch, "late_rows": 0, "files": [read]}
        logs[f"checkpoints/late_data/batches/{batch:06d}.json"] = json.dumps(late)
    # A batch a killed run had not captured yet: its plan names its files too.
    plan = {"late_watermark_ms": 0, "files": [f"file://{lab.batch('events', 1)}/part-00000.json"]}
    logs["checkpoints/late_data/plans/000002.json"] = json.dumps(plan)
    return logs


@pytest.fixture
def made(tmp_path: Path) -> LabPaths:
    lab = LabPaths.resolve(tmp_path / "made")
    assert invoke("setup", "--root", str(lab.root), *SETUP[:2], "--batches", "2").exit_code == 0
    for name, text in _spark_logs(lab).items():
        (lab.root / name).parent.mkdir(parents=True, exist_ok=True)
        (lab.root / name).write_text(text)
        (lab.root / name).with_name(f".{Path(name).name}.crc").write_bytes(b"crc of this text")
    return lab


def test_a_copy_is_refused_before_spark_starts_and_relocated_exactly(
    made: LabPaths, tmp_path: Path
) -> None:
    copy = cp_r(made.root, tmp_path / "copied")
    before = snapshot(copy)
    for args in (["sql", "SELECT 1"], ["run"], ["setup"], ["status"], ["lab"]):
        result = invoke(*args, "--root", str(copy))
        assert result.exit_code == 2, (args, result.output)
        assert f"this lab was moved from {made.root}; run `streamlab relocate`" in result.stderr
    assert snapshot(copy) == before

    done = relocate_lab(LabPaths.resolve(copy))
    assert (done.moved_from, done.files, done.rewritten, done.paths) == ([str(made.root)], 7, 7, 7)
    # Each log now reads as a run at the copy's root would have written it; stale .crc gone.
    for name, text in _spark_logs(LabPaths.resolve(copy)).items():
        assert (copy / name).read_text() == text
        assert not (copy / name).with_name(f".{Path(name).name}.crc").exists()
    assert json.loads((copy / HOME_FILE).read_text()) == {"root": str(copy)}
    # Again: nothing to do, nothing changed.
    relocated = snapshot(copy)
    assert relocate_lab(LabPaths.resolve(copy)).moved_from == []
    assert snapshot(copy) == relocated
    check_home(LabPaths.resolve(copy), writing=True)
    check_home(made, writing=True)  # the original lives where it always did


@pytest.mark.parametrize(
    ("recorded", "expected"),
    [
        ("file:///tmp/streaming/events/b_0/p.json", "file:///new/lab/events/b_0/p.json"),
        (
            "file:/tmp/streaming/warehouse/t/p%20q.parquet",
            "file:/new/lab/warehouse/t/p%20q.parquet",
        ),
        ("/tmp/streaming/x", "/new/lab/x"),
        ("file:///tmp/streaming-other/x", None),  # another root that only starts alike
        ("file:///new/lab/x", None),  # moved already: rewriting twice changes nothing
    ],
)
def test_rebase_keeps_the_form_spark_recorded(recorded: str, expected: str | None) -> None:
    assert rebase(recorded, ["/tmp/streaming"], "/new/lab") == expected


def test_rebase_quotes_the_new_root_as_hadoop_does() -> None:
    moved = rebase("file:///a/lab/events/f.json", ["/a/lab"], "/b/my lab")
    assert moved == "file:///b/my%20lab/events/f.json"


@slow
def test_the_original_is_untouched_by_everything_run_on_its_copies(
    original: dict[str, Any],
) -> None:
    assert snapshot(original["root"]) == original["snapshot"]

"""``streamlab setup``, ``verify`` and ``sql`` as a user runs them, and every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from streamlab.cli import app
from tests.support.lab import snapshot

runner = CliRunner()
GUIDE = ["--base-time", "2026-01-01T09:00:00"]


def invoke(*args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, list(args))


def test_setup_then_verify_reports_the_guides_numbers(spark: SparkSession, tmp_path: Path) -> None:
    root = str(tmp_path / "lab")
    first = invoke("setup", "--root", root, *GUIDE, "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["generated"]["events"] == list(range(10))
    result = invoke("verify", "--root", root, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True
    assert report["events"]["rows"] == 1000 and report["events"]["duplicates"] == 50
    assert report["events"]["late"] == 100
    assert report["impressions"]["rows"] == 500 and report["clicks"]["rows"] == 100
    assert report["clicks"]["orphans"] == 10
    assert 0 <= report["clicks"]["delay_min_s"] <= report["clicks"]["delay_max_s"] <= 600
    assert set(report["databases"]) == {"streaming_bronze", "streaming_silver", "streaming_gold"}
    assert all(report["checkpoints"].values()) and len(report["checkpoints"]) == 5
    assert len(report["samples"]["events"]) == 5

    again = invoke("setup", "--root", root)
    assert again.exit_code == 0 and "set up already" in again.stdout
    human = invoke("verify", "--root", root)
    assert "Setup Complete" in human.stdout


def test_verify_fails_with_status_1_when_data_is_missing(
    spark: SparkSession, tmp_path: Path
) -> None:
    root = tmp_path / "lab"
    assert invoke("setup", "--root", str(root), *GUIDE, "--batches", "2").exit_code == 0
    (root / "clicks" / "batch_0001" / "part-00000.json").unlink()
    result = invoke("verify", "--root", str(root), "--json")
    assert result.exit_code == 1
    failed = {c["name"] for c in json.loads(result.stdout)["checks"] if not c["ok"]}
    assert {"clicks.rows", "clicks.orphans"} & failed


def test_sql_prints_row_objects(spark: SparkSession, tmp_path: Path) -> None:
    root = str(tmp_path / "lab")
    invoke("setup", "--root", root, *GUIDE, "--batches", "1")
    result = invoke("sql", "SHOW DATABASES", "--root", root, "--json")
    assert result.exit_code == 0, result.output
    names = {row["namespace"] for row in json.loads(result.stdout)}
    assert {"streaming_bronze", "streaming_silver", "streaming_gold"} <= names
    bad = invoke("sql", "SELECT * FROM streaming_gold.nothing", "--root", root)
    assert bad.exit_code == 2 and "TABLE_OR_VIEW_NOT_FOUND" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--events-per-batch", "0"], "--events-per-batch must be a positive number"),
        (["--batches", "-3"], "--batches must be a positive number"),
        (["--late-share", "1.5"], "--late-share must be a share between 0 and 1"),
        (["--duplicate-share", "-0.2"], "--duplicate-share must be a share"),
        (["--lateness-min", "30m", "--lateness-max", "5m"], "lateness range is upside down"),
        (["--base-time", "tomorrow-ish"], "--base-time 'tomorrow-ish' is not a date"),
        (["--lateness-min", "soon"], "--lateness-min 'soon' is not a duration"),
        (["--seed", "3"], "other settings (seed)"),
        (["--frobnicate"], "No such option: --frobnicate"),
        (["--batches", "many"], "Invalid value for '--batches'"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_nothing_touched(
    tmp_path: Path, args: list[str], message: str
) -> None:
    root = tmp_path / "lab"
    assert invoke("setup", "--root", str(root), *GUIDE, "--batches", "2").exit_code == 0
    before = snapshot(root)
    result = invoke("setup", "--root", str(root), *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert snapshot(root) == before


def test_unwritable_root_and_debug_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = invoke("setup", "--root", str(blocker / "lab"))
    assert result.exit_code == 2 and "cannot write to the lab root" in result.stderr
    assert "Traceback" not in result.stderr
    debug = invoke("setup", "--root", str(blocker / "lab"), "--debug")
    assert debug.exit_code == 2 and "Traceback" in debug.stderr


def test_verify_without_a_lab_says_what_to_do(tmp_path: Path) -> None:
    result = invoke("verify", "--root", str(tmp_path / "empty"))
    assert result.exit_code == 2 and "run 'streamlab setup' first" in result.stderr

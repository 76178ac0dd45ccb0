"""``setup --reset`` and ``lab --reset``: inside the root's lock, with the lab's own settings."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from typer.testing import CliRunner

from streamlab.cli import app
from streamlab.lab.paths import LabPaths
from streamlab.raw.generator import GeneratorConfig
from streamlab.raw.landing import read_lab
from streamlab.raw.provision import setup_lab
from tests.support.lab import BASE_TIME, snapshot
from tests.support.lock import start_holder

runner = CliRunner()
OWN = GeneratorConfig(
    seed=5,
    base_time=BASE_TIME,
    batches=2,
    events_per_batch=20,
    impressions_per_batch=8,
    clicks_per_batch=4,
    late_share=0.2,
)
"""A lab whose every recorded setting differs from the defaults."""


def plant_tables(lab: LabPaths) -> None:
    """Stand-ins for a running pipeline's table and checkpoint files."""
    table = lab.warehouse / "streaming_bronze.db" / "events"
    (table / "_spark_metadata").mkdir(parents=True)
    (table / "part-00000.parquet").write_bytes(b"PAR1 rows PAR1")
    (table / "_spark_metadata" / "0").write_text('v1\n{"path": "part-00000.parquet"}\n')
    (lab.checkpoint("watermark_test") / "commits").mkdir(parents=True)
    (lab.checkpoint("watermark_test") / "commits" / "0").write_text("v1\n{}\n")


@pytest.mark.parametrize("command", ["setup", "lab"])
def test_a_reset_while_a_run_holds_the_root_is_refused_and_touches_nothing(
    lab: LabPaths, command: str
) -> None:
    setup_lab(lab, OWN)
    plant_tables(lab)
    proc = start_holder(lab)  # holds the root exactly as 'streamlab run' does
    try:
        before = snapshot(lab.root)
        result = runner.invoke(app, [command, "--reset", "--root", str(lab.root), "--json"])
        assert result.exit_code == 2, result.output
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert f"in use by 'streamlab run' (pid {proc.pid}" in lines[0]
        assert snapshot(lab.root) == before, "a refused reset removed or changed files"
    finally:
        proc.kill()
        proc.wait()


def test_a_reset_regenerates_with_the_labs_own_settings_unless_told(lab: LabPaths) -> None:
    setup_lab(lab, OWN)
    plant_tables(lab)
    data = lab.batch("events", 0) / "part-00000.json"
    original = data.read_bytes()
    data.write_text("edited by hand\n")

    reset = runner.invoke(app, ["setup", "--reset", "--root", str(lab.root), "--json"])
    assert reset.exit_code == 0, reset.output
    out = json.loads(reset.stdout)
    assert out["reset"] is True
    assert out["settings"] == {"source": "lab.json", "overridden": [], "note": ""}
    assert read_lab(lab) == OWN
    assert data.read_bytes() == original, "the same settings give the same bytes"
    assert not (lab.warehouse / "streaming_bronze.db" / "events").exists()
    assert not (lab.checkpoint("watermark_test") / "commits").exists()

    # An option overrides one setting; the others stay the lab's.
    other = runner.invoke(app, ["setup", "--reset", "--seed", "6", "--root", str(lab.root)])
    assert other.exit_code == 0, other.output
    assert "regenerated with its own recorded settings (lab.json), except --seed" in other.stdout
    assert read_lab(lab) == replace(OWN, seed=6)


def test_a_reset_of_a_damaged_lab_says_it_used_the_defaults(lab: LabPaths) -> None:
    setup_lab(lab, OWN)
    lab.lab_file.write_text("{not json")
    # Without --reset the damage is named with the fix; with it, the defaults apply.
    refused = runner.invoke(app, ["setup", "--root", str(lab.root)])
    assert refused.exit_code == 2 and "setup --reset" in refused.stderr
    args = ["setup", "--reset", "--root", str(lab.root), "--batches", "1", "--json"]
    reset = runner.invoke(app, [*args, "--base-time", "2026-01-01T09:00:00"])
    assert reset.exit_code == 0, reset.output
    settings = json.loads(reset.stdout)["settings"]
    assert settings["source"] == "defaults" and "lab.json was damaged" in settings["note"]
    assert settings["overridden"] == ["--base-time", "--batches"]
    assert read_lab(lab) == GeneratorConfig(base_time=BASE_TIME, batches=1)

"""Sweeps, window comparisons and the report, on hand-made rows and on a generated lab."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from streamlab.analysis.experiments import compare_windows, sweep
from streamlab.cli import app
from streamlab.lab.paths import LabPaths
from streamlab.model import ModelConfig, Rows
from streamlab.raw.generator import GeneratorConfig
from streamlab.raw.provision import setup_lab
from tests.support.lab import BASE_TIME

MIN = 60_000
runner = CliRunner()


def test_a_late_event_counts_only_with_a_long_enough_delay() -> None:
    # Batch 2's rows are filtered with the watermark after batch 0 (no empty batches between
    # AvailableNow data batches): max 20m - delay. The 2m event is behind it up to an 18m
    # delay (at 18m it sits exactly on the watermark, which is late too: `<=`); the 19m event
    # is behind it only with no delay at all.
    rows = Rows.from_batches(
        [
            [("a", 20 * MIN, "x")],
            [("b", 21 * MIN, "x")],
            [("late", 2 * MIN, "x"), ("edge", 19 * MIN, "x")],
        ]
    )
    times = [20 * MIN, 25 * MIN, 30 * MIN]
    points = sweep(rows, [0, 10 * MIN, 18 * MIN, 19 * MIN], ModelConfig(), times)
    assert [p.counted for p in points] == [2, 3, 3, 4]
    assert [p.late_dropped for p in points] == [2, 1, 1, 0]
    # a and b share [20m, 25m), still open: the final watermark (21m) never reaches 25m.
    assert (points[0].emitted_windows, points[0].open_windows) == (0, 1)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 60), max_size=6), min_size=1, max_size=6),
    st.lists(st.integers(0, 40), min_size=2, max_size=4, unique=True),
)
def test_completeness_never_falls_as_the_delay_grows(
    batches: list[list[int]], delays: list[int]
) -> None:
    rows = Rows.from_batches(
        [
            [(f"e{b}-{i}", t * MIN, "x") for i, t in enumerate(batch)]
            for b, batch in enumerate(batches)
        ]
    )
    times = [b * 5 * MIN for b in range(len(batches))]
    points = sweep(rows, sorted(d * MIN for d in delays), ModelConfig(), times)
    completeness = [p.completeness for p in points]
    assert completeness == sorted(completeness)
    assert all(p.counted + p.late_dropped == p.events for p in points)


def test_sliding_windows_count_each_event_in_every_window_that_holds_it() -> None:
    rows = Rows.from_batches([[(f"e{i}", (i + 1) * MIN, "x") for i in range(30)]])
    both = compare_windows(rows, 10 * MIN, 5 * MIN, ModelConfig(delay_ms=60 * MIN), [0])
    tumbling = both["tumbling"][1].aggregate
    sliding = both["sliding"][1].aggregate
    assert tumbling is not None and sliding is not None
    assert sum(w.count for w in tumbling.windows) == 30
    assert sum(w.count for w in sliding.windows) == 60  # 10m windows every 5m: two each


def test_report_draws_every_chart_with_its_series(tmp_path: Path) -> None:
    lab = LabPaths.resolve(tmp_path / "lab")
    setup_lab(lab, GeneratorConfig(base_time=BASE_TIME, batches=4))
    result = runner.invoke(app, ["report", "--root", str(lab.root), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert Path(data["page"]).read_text().count("<img ") == 5
    charts = data["charts"]
    timeline = charts["watermark_timeline"]["series"]
    assert timeline["counted"] + timeline["late"] + timeline["duplicate"] == 4 * 105
    assert timeline["late watermark"] > 0 and timeline["eviction watermark"] > 0
    assert set(charts["window_counts"]["series"]) == {
        "add_to_cart",
        "click",
        "page_view",
        "purchase",
        "search",
    }
    assert charts["sweep"]["series"]["completeness"] == 5
    assert (
        charts["compare_windows"]["series"]["sliding"]
        > charts["compare_windows"]["series"]["tumbling"]
    )
    for chart in charts.values():
        pixels = mpimg.imread(lab.root / "report" / chart["file"])
        assert pixels.shape[0] > 300 and pixels.shape[1] > 800
        assert float(np.std(pixels)) > 0.05, f"{chart['file']} is blank"


def test_sweep_and_compare_commands(tmp_path: Path) -> None:
    lab = LabPaths.resolve(tmp_path / "lab")
    setup_lab(lab, GeneratorConfig(base_time=BASE_TIME, batches=3))
    result = runner.invoke(app, ["sweep", "--root", str(lab.root), "--delays", "0s,10m", "--json"])
    assert result.exit_code == 0, result.output
    points = json.loads(result.stdout)["points"]
    assert [p["delay_ms"] for p in points] == [0, 600_000]
    # The same delays on the join's two inputs: what they cost the join and the CTR.
    join = json.loads(result.stdout)["join"]
    assert [c["delay_ms"] for c in join] == [0, 600_000]
    assert join[0]["late_clicks"] >= join[1]["late_clicks"]
    assert all(c["pairs"] <= c["pairs_possible"] for c in join)
    compared = runner.invoke(app, ["compare-windows", "--root", str(lab.root), "--json"])
    assert set(json.loads(compared.stdout)) == {"tumbling", "sliding"}
    for bad, words in (
        (["sweep", "--delays", "soon"], "--delays 'soon' is not a duration"),
        (["compare-windows", "--slide", "10m"], "--slide must be shorter"),
        (["report", "--root", str(tmp_path / "none")], "streamlab setup"),
    ):
        failed = runner.invoke(app, [*bad, "--root", str(lab.root)] if bad[0] != "report" else bad)
        assert failed.exit_code == 2 and words in failed.stderr, failed.stderr


def test_sweep_confirms_a_delay_with_a_real_spark_run(spark, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lab = LabPaths.resolve(tmp_path / "lab")
    setup_lab(lab, GeneratorConfig(base_time=BASE_TIME, batches=4))
    result = runner.invoke(
        app, ["sweep", "--root", str(lab.root), "--delays", "0s,10m", "--confirm", "0s", "--json"]
    )
    assert result.exit_code == 0, result.output
    (confirmed,) = json.loads(result.stdout)["confirmed"]
    assert confirmed["matches"] and confirmed["spark_windows"] == confirmed["model_windows"] > 0
    assert not (lab.root / ".confirm").exists() or not any((lab.root / ".confirm").iterdir())
    refused = runner.invoke(
        app, ["sweep", "--root", str(lab.root), "--slide", "1m", "--confirm", "10m"]
    )
    assert refused.exit_code == 2 and "--confirm runs the lab's tumbling query" in refused.stderr

"""The model of chained operators and of every join type, without Spark: consistency with the
proven join model, the lab's ctr query, and what explain, verify and sweep show of it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from streamlab.analysis.experiments import join_sweep
from streamlab.model import JoinCondition, ModelConfig, Policy, Rows, WindowSpec, simulate
from streamlab.model.chain import (
    click_through,
    dedup_then_join,
    downstream,
    join_output_watermark,
)
from streamlab.model.explain import report
from streamlab.model.join import join
from streamlab.model.joins import JoinType, join_typed
from streamlab.model.watermark import InputWatermark, batch_maxima, plan_batches
from tests.support.model_harness import _pad, click_rows, impression_rows
from tests.support.strategies import JoinScenario, join_scenarios

AD_CTR_COLUMNS = [
    "window_start",
    "window_end",
    "ad_id",
    "impressions",
    "clicked_impressions",
    "clicks",
    "ctr",
    "emitted_batch",
]


def _inputs(sc: JoinScenario) -> tuple[Rows, Rows, Any]:
    n = max(len(sc.impressions), len(sc.clicks))
    imps = impression_rows(_pad(sc.impressions, n))
    clicks = click_rows(_pad(sc.clicks, n))
    plan = plan_batches(
        [InputWatermark("i", sc.imp_delay_ms), InputWatermark("c", sc.click_delay_ms)],
        [batch_maxima(r.batch, r.time_ms, r.valid, n) for r in (imps, clicks)],
        data_batches=n,
        trigger=sc.trigger,
    )
    return imps, clicks, plan


@settings(max_examples=150, deadline=None, database=None)
@given(join_scenarios())
def test_every_join_type_agrees_with_the_lab_join_model(sc: JoinScenario) -> None:
    imps, clicks, plan = _inputs(sc)
    cond = JoinCondition(0, sc.upper_ms)
    for how, outer in ((JoinType.INNER, False), (JoinType.LEFT_OUTER, True)):
        old = join(imps, clicks, plan, replace(cond, outer=outer))
        new = join_typed(imps, clicks, plan, cond, how)
        assert sorted(new.pairs) == sorted(old.pairs)
        assert sorted(new.left_nulls) == sorted(old.null_rows)
        assert new.right_nulls == [] and new.semi == []
        assert new.state_rows.tolist() == old.state_rows.tolist()
    inner = join_typed(imps, clicks, plan, cond, JoinType.INNER)
    full = join_typed(imps, clicks, plan, cond, JoinType.FULL_OUTER)
    right = join_typed(imps, clicks, plan, cond, JoinType.RIGHT_OUTER)
    semi = join_typed(imps, clicks, plan, cond, JoinType.LEFT_SEMI)
    # Outer joins add NULL rows to the inner join's pairs, never change them.
    assert sorted(full.pairs) == sorted(right.pairs) == sorted(inner.pairs)
    assert sorted(full.right_nulls) == sorted(right.right_nulls)
    # Left semi: each left row at most once, only left rows the inner join matched, never before
    # the inner join's first pair of that row. (It can miss or delay one: a left row matched in
    # its own batch only by a right row already past the right bound, which was never stored.)
    semi_rows = [i for i, _ in semi.semi]
    assert len(semi_rows) == len(set(semi_rows))
    first_pair: dict[int, int] = {}
    for i, _, b in inner.pairs:
        first_pair[i] = min(b, first_pair.get(i, b))
    assert all(first_pair[i] <= b for i, b in semi.semi)
    # A row never matched is NULL-padded on its outer side once it leaves state.
    matched_right = {j for _, j, _ in inner.pairs}
    assert not {j for j, _ in right.right_nulls} & matched_right


@settings(max_examples=100, deadline=None, database=None)
@given(join_scenarios(), st.sampled_from([2_000, 5_000, 10_000]))
def test_ctr_counts_every_joined_row_once_in_its_window(sc: JoinScenario, size: int) -> None:
    imps, clicks, plan = _inputs(sc)
    cond = JoinCondition(0, sc.upper_ms, True)
    chain = click_through(imps, clicks, plan, cond, WindowSpec(size, size))
    # The aggregation sees the join's output watermark: never ahead of the global one.
    for b, a in zip(plan, chain.batches, strict=True):
        assert a.eviction_watermark <= b.eviction_watermark
        assert a.late_watermark <= b.late_watermark
    # No joined row reaches the aggregation late: the join's output watermark guarantees it.
    assert not chain.aggregate.contributions.dropped.any()
    assert sum(w.impressions for w in chain.windows) <= len(imps)
    n_rows = len(chain.joined)
    assert n_rows == len(chain.join.pairs) + len(chain.join.null_rows)
    assert sum(w.clicks for w in chain.windows) == len(chain.join.pairs)
    assert downstream(plan, [join_output_watermark(cond)]) == chain.batches


def _lab_like() -> dict[str, Rows]:
    imps = Rows.from_batches(
        [
            [("i1", 60_000, "ad1"), ("i2", 70_000, "ad2"), ("i3", 80_000, "ad1")],
            [("i4", 700_000, "ad1")],
            [("i5", 2_000_000, "ad2")],
        ]
    )
    clicks = Rows.from_batches(
        [
            [("i1", 65_000, "c1")],
            [("i3", 90_000, "c3"), ("i3", 95_000, "c3b")],
            [("x", 2_000_000, "cx")],
        ]
    )
    return {"impressions": imps, "clicks": clicks}


def test_explain_report_lists_ctr_windows_with_the_ad_ctr_columns() -> None:
    cfg = ModelConfig(
        pipeline="stream_join",
        delay_ms=60_000,
        join=JoinCondition(0, 600_000),
        window=WindowSpec(300_000, 300_000),
    )
    data = report(simulate(_lab_like(), cfg))
    windows = data["ctr_windows"]
    assert windows and all(list(w) == AD_CTR_COLUMNS for w in windows)
    first = windows[0]
    assert (first["window_start"], first["ad_id"]) == ("1970-01-01T00:00:00.000Z", "ad1")
    # i1 (clicked once) and i3 (clicked twice) in [0, 5 min) for ad1.
    assert (first["impressions"], first["clicked_impressions"], first["clicks"]) == (2, 2, 3)
    assert first["ctr"] == 1.0
    assert first["emitted_batch"] is not None


def test_without_multiple_stateful_operators_there_is_no_ctr_model() -> None:
    cfg = ModelConfig(pipeline="stream_join", allow_multiple=False)
    assert simulate(_lab_like(), cfg).ctr is None


def test_join_sweep_longer_delays_lose_fewer_clicks_and_hold_more_state() -> None:
    base = ModelConfig(pipeline="stream_join", window=WindowSpec(300_000, 300_000))
    costs = join_sweep(_lab_like(), [0, 60_000, 3_600_000], base, [0, 300_000, 600_000])
    late = [c.late_clicks for c in costs]
    assert late == sorted(late, reverse=True)
    assert [c.delay_ms for c in costs] == [0, 60_000, 3_600_000]
    assert all(c.pairs <= c.pairs_possible for c in costs)
    assert costs[-1].ctr_windows_emitted <= costs[0].ctr_windows_emitted


def test_policy_max_moves_the_ctr_windows_out_earlier_or_together() -> None:
    inputs = _lab_like()
    base = ModelConfig(pipeline="stream_join", delay_ms=0, window=WindowSpec(300_000, 300_000))
    low = simulate(inputs, base).ctr
    high = simulate(inputs, replace(base, policy=Policy.MAX)).ctr
    assert low is not None and high is not None
    first_low = {(w.window_start, w.ad_id): w.emitted_batch for w in low.windows}
    for w in high.windows:
        before = first_low.get((w.window_start, w.ad_id))
        if before is not None and w.emitted_batch is not None:
            assert w.emitted_batch <= before


def test_explain_stream_join_json_has_ctr_windows(tmp_path: Any) -> None:
    import json

    from typer.testing import CliRunner

    from streamlab.cli import app
    from streamlab.lab.paths import LabPaths
    from streamlab.raw.generator import GeneratorConfig
    from streamlab.raw.provision import setup_lab
    from tests.support.lab import BASE_TIME

    lab = LabPaths.resolve(tmp_path / "lab")
    setup_lab(lab, GeneratorConfig(base_time=BASE_TIME, batches=4))
    # 4 batches of 5 minutes: with 10-minute delays no window would close yet.
    fast = ["--watermark-delay", "1m", "--click-window", "2m"]
    result = CliRunner().invoke(
        app, ["explain", "stream_join", "--root", str(lab.root), *fast, "--json"]
    )
    assert result.exit_code == 0, result.output
    windows = json.loads(result.stdout)["ctr_windows"]
    assert windows and all(list(w) == AD_CTR_COLUMNS for w in windows)
    assert all(w["ad_id"].startswith("AD") for w in windows)
    assert any(w["emitted_batch"] is not None for w in windows)
    text = CliRunner().invoke(app, ["explain", "stream_join", "--root", str(lab.root), *fast])
    assert "stream_join/ctr (5m windows per ad)" in text.stdout


@settings(max_examples=100, deadline=None, database=None)
@given(join_scenarios())
def test_simulate_runs_the_lab_join_once_for_both_join_queries(sc: JoinScenario) -> None:
    imps, clicks, _ = _inputs(sc)
    for outer in (False, True):
        cfg = ModelConfig(
            pipeline="stream_join",
            delays_ms={"impressions": sc.imp_delay_ms, "clicks": sc.click_delay_ms},
            join=JoinCondition(0, sc.upper_ms, outer),
            trigger=sc.trigger,
        )
        result = simulate({"impressions": imps, "clicks": clicks}, cfg)
        direct = join(imps, clicks, result.batches, cfg.join)
        assert result.join is not None
        assert result.join.pairs == direct.pairs
        assert result.join.null_rows == direct.null_rows
        assert result.join.left_outcome.tolist() == direct.left_outcome.tolist()
        assert result.join.right_outcome.tolist() == direct.right_outcome.tolist()
        assert result.join.state_rows.tolist() == direct.state_rows.tolist()


@settings(max_examples=40, deadline=None, database=None)
@given(join_scenarios())
def test_dedup_then_join_joins_only_first_clicks(sc: JoinScenario) -> None:
    imps, clicks, plan = _inputs(sc)
    cond = JoinCondition(0, sc.upper_ms)
    plain = join_typed(imps, clicks, plan, cond, JoinType.INNER)
    same = dedup_then_join(imps, clicks, plan, cond, JoinType.INNER)
    assert sorted(same.join.pairs) == sorted(plain.pairs)
    # Keep the first click of each impression within the clicks' delay: every pair is a pair
    # of the plain join, with a click the deduplication kept, in the same batch.
    first = dedup_then_join(
        imps, clicks, plan, cond, JoinType.INNER, right_delay_ms=sc.click_delay_ms
    )
    assert first.right_dedup is not None
    mapped = {
        (int(first.left_rows[i]), int(first.right_rows[j]), b) for i, j, b in first.join.pairs
    }
    assert mapped <= set(plain.pairs)
    kept = set(np.flatnonzero(first.right_dedup.outcome == 0).tolist())
    assert {j for _, j, _ in mapped} <= kept

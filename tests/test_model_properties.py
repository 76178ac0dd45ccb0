"""Properties of the model that hold for any input (hypothesis, no Spark)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from streamlab.model import Fate, JoinCondition, ModelConfig, Policy, Trigger, WindowSpec
from tests.support.model_harness import click_rows, events_rows, impression_rows, model_facts
from tests.support.strategies import AggScenario, JoinScenario, agg_scenarios, join_scenarios

MANY = settings(max_examples=100, deadline=None)


def agg_config(sc: AggScenario) -> ModelConfig:
    return ModelConfig(
        delay_ms=sc.delay_ms,
        window=WindowSpec(sc.size_ms, sc.slide_ms),
        deduplicate=sc.dedup,
        trigger=sc.trigger,
    )


@MANY
@given(agg_scenarios())
def test_watermarks_never_decrease_and_late_lags_eviction(sc: AggScenario) -> None:
    _, result = model_facts({"events": sc.batches}, agg_config(sc))
    evict = [b.eviction_watermark for b in result.batches]
    assert evict == sorted(evict)
    for prev, cur in zip(result.batches, result.batches[1:], strict=False):
        assert cur.late_watermark == prev.eviction_watermark


@MANY
@given(agg_scenarios())
def test_window_counts_are_the_counted_contributions(sc: AggScenario) -> None:
    _, result = model_facts({"events": sc.batches}, agg_config(sc))
    agg = result.aggregate
    assert agg is not None
    c = agg.contributions
    counted = Counter(c.window[~c.dropped].tolist())
    assert [counted[i] for i in range(len(agg.windows))] == [w.count for w in agg.windows]
    for w in agg.windows:
        if w.emitted_batch is not None:
            assert result.batches[w.emitted_batch].eviction_watermark >= w.end
            assert w.emitted_batch >= w.first_batch


@MANY
@given(agg_scenarios(), st.booleans())
def test_every_fate_is_a_fate_member_shared_by_its_rows(sc: AggScenario, dedup_only: bool) -> None:
    # One object per kind of fate, not a copy of its text per row (0.6 GiB at 10M events), and
    # each a Fate, so its properties (lost_to_lateness, counted) answer for any row.
    cfg = agg_config(sc)
    if dedup_only:
        cfg = replace(cfg, pipeline="dedup")
    _, result = model_facts({"events": sc.batches}, cfg)
    fates = result.fates.tolist()
    assert all(type(f) is Fate for f in fates)
    assert len({id(f) for f in fates}) == len(set(fates))


@MANY
@given(agg_scenarios())
def test_delay_covering_all_lateness_drops_nothing(sc: AggScenario) -> None:
    # G1: data less late than the delay is never dropped. With a delay above the whole time
    # span, no row or window can be behind the watermark.
    cfg = ModelConfig(
        delay_ms=10**7, window=WindowSpec(sc.size_ms, sc.slide_ms), trigger=sc.trigger
    )
    _, result = model_facts({"events": sc.batches}, cfg)
    assert result.aggregate is not None
    assert not result.aggregate.contributions.dropped.any()


@MANY
@given(join_scenarios())
def test_inner_join_is_every_in_range_pair_of_on_time_rows(sc: JoinScenario) -> None:
    # Eviction never loses an inner pair: only lateness decides.
    sources = {"impressions": sc.impressions, "clicks": sc.clicks}
    for policy in Policy:
        cfg = ModelConfig(
            pipeline="stream_join",
            delays_ms={"impressions": sc.imp_delay_ms, "clicks": sc.click_delay_ms},
            join=JoinCondition(0, sc.upper_ms, False),
            trigger=sc.trigger,
            policy=policy,
        )
        _, result = model_facts(sources, cfg)
        assert result.join is not None
        n = len(result.batches)
        imps, clicks = result.inputs["impressions"], result.inputs["clicks"]
        late_of = {
            b.data_batch: b.late_watermark for b in result.batches if b.data_batch is not None
        }
        expected = set()
        for i in range(len(imps)):
            if imps.time_ms[i] <= late_of[int(imps.batch[i])]:
                continue
            for j in range(len(clicks)):
                if clicks.time_ms[j] <= late_of[int(clicks.batch[j])]:
                    continue
                ok = clicks.key[j] == imps.key[i]
                ok = ok and imps.time_ms[i] <= clicks.time_ms[j] <= imps.time_ms[i] + sc.upper_ms
                if ok:
                    expected.add((i, j))
        assert {(i, j) for i, j, _ in result.join.pairs} == expected
        assert all(0 <= b < n for _, _, b in result.join.pairs)


def test_rows_helpers_keep_order() -> None:
    rows = events_rows([[{"event_id": "a", "event_type": "x", "t": 5}], []])
    assert rows.data_batches == 2
    assert impression_rows([[{"impression_id": "i", "t": 1}]]).key.tolist() == ["i"]
    assert click_rows([[{"click_id": "c", "impression_id": "i", "t": 1}]]).group.tolist() == ["c"]
    assert Trigger("available-now") is Trigger.AVAILABLE_NOW

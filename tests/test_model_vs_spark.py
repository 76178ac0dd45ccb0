"""Differential tests: the model and real Spark must agree on every batch of every scenario.

For each scenario both sides report the eviction watermark of every micro-batch (so also how
many batches ran, no-data ones included), the rows emitted by every batch (windows and counts,
dedup survivors, joined pairs and NULL rows) and ``numRowsDroppedByWatermark`` of every
stateful operator. Hypothesis draws the scenarios; each example runs ``PARALLEL`` of them as
concurrent streaming queries (each query has its own watermark), which is several times faster
than one at a time on two cores. By default (scale 2): 72 windowed-aggregation, 48 dedup and
48 join scenarios (24 per watermark policy), 20 hand-written edge cases and the lab's own
tumbling, sliding and join queries on a generated lab; ``STREAMLAB_DIFF_SCALE=5`` draws more
scenarios for a longer hunt.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from streamlab.model import JoinCondition, ModelConfig, Policy, Trigger, WindowSpec
from tests.support.model_harness import (
    HDFS,
    Batches,
    dedup_pipeline,
    join_pipeline,
    model_facts,
    policy_conf,
    run_spark,
    windowed_agg,
)
from tests.support.strategies import (
    AggScenario,
    JoinScenario,
    S,
    agg_scenarios,
    join_scenarios,
)

pytestmark = pytest.mark.slow

PARALLEL = 6
"""Scenarios per hypothesis example, run as concurrent queries."""
SCALE = float(os.environ.get("STREAMLAB_DIFF_SCALE", "2"))
"""Multiplies the hypothesis examples of every test; raise it for a longer hunt."""


def examples(n: int) -> int:
    return max(1, round(n * SCALE))


AGG_OPS = ("stateStoreSave", "dedupeWithinWatermark")
_counter = itertools.count()


@pytest.fixture(scope="module")
def fast_state(spark: Any) -> Iterator[None]:
    """Small-state settings for the differential queries (set before each query starts)."""
    keys = {
        "spark.sql.streaming.stateStore.providerClass": HDFS,
        "spark.sql.shuffle.partitions": "1",
    }
    old = {k: spark.conf.get(k, None) for k in keys}
    for k, v in keys.items():
        spark.conf.set(k, v)
    yield
    for k, v in old.items():
        if v is None:
            spark.conf.unset(k)
        else:
            spark.conf.set(k, v)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("diff")


# --- scenarios -------------------------------------------------------------------------------


# --- running ---------------------------------------------------------------------------------


def check_agg(spark: Any, workdir: Path, sc: AggScenario) -> None:
    sources: dict[str, Batches] = {"events": sc.batches}
    got = run_spark(
        spark,
        workdir / f"s{next(_counter)}",
        sources,
        windowed_agg(sc.delay_ms, sc.size_ms, sc.slide_ms, sc.dedup),
        tuple,
        trigger=sc.trigger,
        operators=AGG_OPS if sc.dedup else AGG_OPS[:1],
    )
    config = ModelConfig(
        pipeline="windowed_agg",
        delay_ms=sc.delay_ms,
        window=WindowSpec(sc.size_ms, sc.slide_ms),
        deduplicate=sc.dedup,
        trigger=sc.trigger,
    )
    want, _ = model_facts(sources, config)
    assert got == want, sc


def check_dedup(spark: Any, workdir: Path, sc: AggScenario) -> None:
    sources: dict[str, Batches] = {"events": sc.batches}
    got = run_spark(
        spark,
        workdir / f"s{next(_counter)}",
        sources,
        dedup_pipeline(sc.delay_ms),
        tuple,
        trigger=sc.trigger,
        operators=AGG_OPS[1:],
    )
    want, _ = model_facts(
        sources, ModelConfig(pipeline="dedup", delay_ms=sc.delay_ms, trigger=sc.trigger)
    )
    assert got == want, sc


def check_join(spark: Any, workdir: Path, sc: JoinScenario, policy: Policy) -> None:
    sources: dict[str, Batches] = {"impressions": sc.impressions, "clicks": sc.clicks}
    got = run_spark(
        spark,
        workdir / f"s{next(_counter)}",
        sources,
        join_pipeline(sc.imp_delay_ms, sc.click_delay_ms, sc.upper_ms, sc.outer),
        tuple,
        trigger=sc.trigger,
        operators=("symmetricHashJoin",),
    )
    config = ModelConfig(
        pipeline="stream_join",
        delays_ms={"impressions": sc.imp_delay_ms, "clicks": sc.click_delay_ms},
        join=JoinCondition(0, sc.upper_ms, sc.outer),
        trigger=sc.trigger,
        policy=policy,
    )
    want, _ = model_facts(sources, config)
    assert got == want, sc


def run_all(fn: Any, spark: Any, workdir: Path, scenarios: list[Any], *extra: Any) -> None:
    with ThreadPoolExecutor(len(scenarios)) as pool:
        futures = [pool.submit(fn, spark, workdir, sc, *extra) for sc in scenarios]
        errors = [f.exception() for f in futures]
    for e in errors:
        if e is not None:
            raise e


def diff(n: int) -> settings:
    return settings(
        max_examples=examples(n),
        deadline=None,
        database=None,
        # A Spark run takes seconds: report the failing scenarios as drawn, without shrinking.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


@diff(3)
@given(st.lists(agg_scenarios(), min_size=PARALLEL, max_size=PARALLEL))
def test_windowed_agg_matches_spark(
    spark: Any, fast_state: None, workdir: Path, scenarios: list[AggScenario]
) -> None:
    run_all(check_agg, spark, workdir, scenarios)


@diff(3)
@given(st.lists(agg_scenarios(), min_size=PARALLEL, max_size=PARALLEL))
def test_dedup_matches_spark(
    spark: Any, fast_state: None, workdir: Path, scenarios: list[AggScenario]
) -> None:
    run_all(check_dedup, spark, workdir, scenarios)


@pytest.mark.parametrize("policy", list(Policy))
@diff(2)
@given(st.lists(join_scenarios(), min_size=PARALLEL, max_size=PARALLEL))
def test_stream_join_matches_spark(
    spark: Any,
    fast_state: None,
    workdir: Path,
    policy: Policy,
    scenarios: list[JoinScenario],
) -> None:
    for k, v in policy_conf(policy).items():
        spark.conf.set(k, v)
    try:
        run_all(check_join, spark, workdir, scenarios, policy)
    finally:
        spark.conf.unset("spark.sql.streaming.multipleWatermarkPolicy")


# --- hand-written edge cases -----------------------------------------------------------------


def e(i: str, t: int, kind: str = "a") -> dict[str, Any]:
    return {"event_id": i, "event_type": kind, "t": t}


def imp(i: str, t: int) -> dict[str, Any]:
    return {"impression_id": i, "t": t}


def click(c: str, i: str, t: int) -> dict[str, Any]:
    return {"click_id": c, "impression_id": i, "t": t}


AGG_EDGES = [
    # Watermark 20 s from batch 1 on; batch 2 filters with it: 20 s is at the watermark (late),
    # 20.001 s is just after it (kept). The 5 s window [15 s, 20 s) of 19.999 s ends at the
    # watermark, so its contribution is dropped; [20 s, 25 s) stays open.
    AggScenario(
        [
            [e("w", 30 * S)],
            [e("x", 25 * S)],
            [e("eq", 20 * S), e("after", 20 * S + 1)],
            [e("edge", 20 * S - 1)],
        ],
        10 * S,
        5 * S,
        5 * S,
        Trigger.AVAILABLE_NOW,
    ),
    # The guide's example: [10..15], [25], [10]. AvailableNow keeps the late 10 s in [10, 15)
    # (batch 2 still filters with the watermark of batch 0) ...
    AggScenario(
        [[e(f"s{i}", (10 + i) * S) for i in range(6)], [e("x", 25 * S)], [e("late", 10 * S)]],
        10 * S,
        5 * S,
        5 * S,
        Trigger.AVAILABLE_NOW,
    ),
    # ... a live trigger runs a no-data batch after batch 1 and drops it.
    AggScenario(
        [[e(f"s{i}", (10 + i) * S) for i in range(6)], [e("x", 25 * S)], [e("late", 10 * S)]],
        10 * S,
        5 * S,
        5 * S,
        Trigger.PROCESSING_TIME,
    ),
    # Size 7 s, slide 3 s (not a multiple), no dedup. The watermark is 14 s from batch 1 on;
    # batch 1 still filters with 0, so 8 s counts in [3, 10) and [6, 13), both emitted there.
    # In batch 2, 12 s falls in [6, 13), [9, 16) and [12, 19): [6, 13) ended at or before the
    # late watermark 14 s and misses it; [9, 16) and [12, 19) count it (one row, partly late).
    AggScenario(
        [[e("a1", 19 * S)], [e("a2", 13 * S), e("a3", 8 * S)], [e("a4", 12 * S, "b")], []],
        5 * S,
        7 * S,
        3 * S,
        Trigger.AVAILABLE_NOW,
        dedup=False,
    ),
    # The same with dedup: 12 s is at or before 14 s, so the dedup drops the row before any window.
    AggScenario(
        [[e("a1", 19 * S)], [e("a2", 13 * S), e("a3", 8 * S)], [e("a4", 12 * S, "b")], []],
        5 * S,
        7 * S,
        3 * S,
        Trigger.AVAILABLE_NOW,
    ),
    # Empty landed batches between data batches, live trigger.
    AggScenario(
        [[e("a", 10 * S)], [], [e("b", 30 * S)], [], [e("c", 12 * S), e("a", 10 * S)]],
        5 * S,
        10 * S,
        5 * S,
        Trigger.PROCESSING_TIME,
    ),
    # Same id with a later time passes again once its key expired (10 s + 5 s <= 25 s).
    AggScenario(
        [[e("k", 10 * S)], [e("z", 30 * S)], [e("y", 31 * S)], [e("k", 40 * S)]],
        5 * S,
        10 * S,
        10 * S,
        Trigger.AVAILABLE_NOW,
    ),
]

JOIN_EDGES = [
    # Clicks never arrive (an idle input): with min the watermark stays 0, no NULL rows;
    # with max the impressions' watermark alone moves it and NULL rows appear.
    JoinScenario(
        [[imp("i1", 10 * S)], [imp("i2", 40 * S)], [imp("i3", 60 * S)]],
        [],
        5 * S,
        5 * S,
        10 * S,
        True,
        Trigger.AVAILABLE_NOW,
    ),
    JoinScenario(
        [[imp("i1", 10 * S)], [imp("i2", 40 * S)], [imp("i3", 60 * S)]],
        [],
        5 * S,
        5 * S,
        10 * S,
        True,
        Trigger.PROCESSING_TIME,
    ),
    # A click exactly at impression + range (matches), one 1 ms later (does not), and an
    # impression already past the state bound when it arrives (joined or NULL in that batch).
    JoinScenario(
        [[imp("i1", 10 * S), imp("i9", 50 * S)], [imp("i2", 4 * S)], []],
        [
            [click("c1", "i1", 20 * S), click("c2", "i1", 20 * S + 1), click("z", "x", 50 * S)],
            [click("c3", "i2", 6 * S)],
            [click("c4", "i9", 55 * S)],
        ],
        2 * S,
        2 * S,
        10 * S,
        True,
        Trigger.AVAILABLE_NOW,
    ),
]


@pytest.mark.parametrize("kind", ["agg", "dedup"])
def test_edge_cases_windows_and_dedup(
    spark: Any, fast_state: None, workdir: Path, kind: str
) -> None:
    run_all(check_agg if kind == "agg" else check_dedup, spark, workdir, AGG_EDGES)


@pytest.mark.parametrize("policy", list(Policy))
def test_edge_cases_join(spark: Any, fast_state: None, workdir: Path, policy: Policy) -> None:
    for k, v in policy_conf(policy).items():
        spark.conf.set(k, v)
    try:
        run_all(check_join, spark, workdir, JOIN_EDGES, policy)
    finally:
        spark.conf.unset("spark.sql.streaming.multipleWatermarkPolicy")


# --- the lab's own queries on a generated lab -------------------------------------------------


def _run_lab_query(
    df: Any, checkpoint: Path, to_row: Any
) -> tuple[dict[int, list[Any]], list[int]]:
    outputs: dict[int, list[Any]] = {}

    def sink(batch: Any, batch_id: int) -> None:
        rows = sorted(to_row(r) for r in batch.collect())
        if rows:
            outputs[batch_id] = rows

    query = (
        df.writeStream.outputMode("append")
        .foreachBatch(sink)
        .option("checkpointLocation", str(checkpoint))
        .trigger(availableNow=True)
        .start()
    )
    try:
        query.awaitTermination()
    finally:
        query.stop()
    ran = [p for p in query.recentProgress if "addBatch" in (p.durationMs or {})]
    progress = sorted(ran, key=lambda p: p.batchId)
    marks = [_iso_ms(p.eventTime.get("watermark")) for p in progress]
    return outputs, marks


def _iso_ms(text: str | None) -> int:
    from datetime import datetime

    if not text:
        return 0
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.mark.parametrize("sliding", [False, True])
def test_lab_windowed_agg_matches_the_model(
    spark: Any, fast_state: None, guide_lab: Any, tmp_path: Path, sliding: bool
) -> None:
    from streamlab.ingest.sources import read_source
    from streamlab.model.explain import explain_lab
    from streamlab.pipelines import PipelineConfig, sliding_windows, tumbling_windows

    # A 2-minute watermark on the guide's data: late events are dropped and windows close.
    cfg = PipelineConfig.from_options(watermark_delay="2m")
    build = sliding_windows if sliding else tumbling_windows
    df = build(read_source(spark, guide_lab, "events"), cfg)
    got, marks = _run_lab_query(
        df,
        tmp_path / "cp",
        lambda r: (int(r.window_start.timestamp() * 1000), r.event_type, r.event_count),
    )
    size, slide = (cfg.sliding_window_ms, cfg.slide_ms) if sliding else (cfg.window_ms, None)
    result = explain_lab(
        guide_lab,
        ModelConfig(
            delay_ms=cfg.watermark_delay_ms,
            window=WindowSpec.of(size / 1000, (slide or size) / 1000),
        ),
    )
    want: dict[int, list[Any]] = {}
    assert result.aggregate is not None
    for w in result.aggregate.windows:
        if w.emitted_batch is not None:
            want.setdefault(w.emitted_batch, []).append((w.start, w.group, w.count))
    assert marks == [b.eviction_watermark for b in result.batches]
    assert got == {b: sorted(rows) for b, rows in want.items()}


def test_lab_stream_join_matches_the_model(
    spark: Any, fast_state: None, guide_lab: Any, tmp_path: Path
) -> None:
    from streamlab.ingest.sources import read_source
    from streamlab.model.explain import explain_lab
    from streamlab.pipelines import PipelineConfig, ad_clicks

    cfg = PipelineConfig.from_options(impressions_delay="1m", clicks_delay="1m", click_window="2m")
    df = ad_clicks(
        read_source(spark, guide_lab, "impressions"), read_source(spark, guide_lab, "clicks"), cfg
    )
    got, marks = _run_lab_query(df, tmp_path / "cp", lambda r: (r.impression_id, r.click_id))
    result = explain_lab(
        guide_lab,
        ModelConfig(
            pipeline="stream_join",
            delay_ms=60_000,
            join=JoinCondition(0, cfg.click_window_ms, False),
        ),
    )
    assert result.join is not None
    imps, clicks = result.inputs["impressions"], result.inputs["clicks"]
    want: dict[int, list[Any]] = {}
    for i, j, b in result.join.pairs:
        want.setdefault(b, []).append((imps.key[i], clicks.group[j]))
    assert marks == [b.eviction_watermark for b in result.batches]
    assert got == {b: sorted(rows) for b, rows in want.items()}

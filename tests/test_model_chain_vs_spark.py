"""Differential tests for chained stateful operators: a join, then a windowed aggregation.

The query is the lab's own ``stream_join/ctr`` (``streamlab.pipelines.ad_ctr``: a left outer
join of impressions and clicks within a time range, then per ad and impression-time window
the distinct impressions, the clicked ones and the clicks, in append mode). Its aggregation
works with the join's output watermark, not the global one (Spark 4's
``WatermarkPropagator``). For every scenario Spark and the model must report the same
watermark per batch, the same windows in the same batches, and the same
``numRowsDroppedByWatermark`` for the join and the aggregation.

Hypothesis draws the scenarios, ``PARALLEL`` per example as concurrent queries, one watermark
policy per example: 30 scenarios by default (scale 2); ``STREAMLAB_DIFF_SCALE`` draws more.
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

from streamlab.model import Policy
from tests.support.chain_harness import CTR_OPS, ctr_model_facts, ctr_pipeline, ctr_settings
from tests.support.chain_strategies import CtrScenario, ctr_scenarios
from tests.support.model_harness import HDFS, Batches, policy_conf, run_spark

pytestmark = pytest.mark.slow

PARALLEL = 6
SCALE = float(os.environ.get("STREAMLAB_DIFF_SCALE", "2"))
_counter = itertools.count()


@pytest.fixture(scope="module")
def fast_state(spark: Any) -> Iterator[None]:
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
    return tmp_path_factory.mktemp("chain")


def check_ctr(spark: Any, workdir: Path, sc: CtrScenario, policy: Policy) -> None:
    j = sc.join
    sources: dict[str, Batches] = {"impressions": j.impressions, "clicks": j.clicks}
    cfg = ctr_settings(j.imp_delay_ms, j.click_delay_ms, j.upper_ms, sc.window_ms)
    got = run_spark(
        spark,
        workdir / f"s{next(_counter)}",
        sources,
        ctr_pipeline(cfg),
        tuple,
        trigger=j.trigger,
        operators=CTR_OPS,
    )
    want = ctr_model_facts(sources, cfg, j.trigger, policy)
    assert got == want, sc


def run_all(spark: Any, workdir: Path, scenarios: list[CtrScenario], policy: Policy) -> None:
    for k, v in policy_conf(policy).items():
        spark.conf.set(k, v)
    try:
        with ThreadPoolExecutor(len(scenarios)) as pool:
            futures = [pool.submit(check_ctr, spark, workdir, sc, policy) for sc in scenarios]
            errors = [f.exception() for f in futures]
    finally:
        spark.conf.unset("spark.sql.streaming.multipleWatermarkPolicy")
    for e in errors:
        if e is not None:
            raise e


@settings(
    max_examples=max(1, round(2.5 * SCALE)),
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(ctr_scenarios(), min_size=PARALLEL, max_size=PARALLEL),
    st.sampled_from(list(Policy)),
)
def test_join_then_aggregation_matches_spark(
    spark: Any, fast_state: None, workdir: Path, scenarios: list[CtrScenario], policy: Policy
) -> None:
    run_all(spark, workdir, scenarios, policy)

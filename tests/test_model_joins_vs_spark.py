"""Differential tests for the join types the lab's queries do not use: right outer, full outer
and left semi stream-stream joins within a time range, each side with its watermark.

For every scenario Spark and :func:`streamlab.model.joins.join_typed` must report the same
watermark per batch, the same rows in the same batches (pairs, NULL-padded rows of either
side, left semi rows) and the same ``numRowsDroppedByWatermark``. Hypothesis draws the
scenarios, ``PARALLEL`` per example as concurrent queries, one outer join type and one
watermark policy per example: 30 scenarios per outer join type by default (scale 2). Each query
also runs, next to the outer join, one more shape on the same inputs: with right outer, the left
semi join; with full outer, a chain of two stateful operators, the first click of each
impression (``dropDuplicatesWithinWatermark``) joined to its impression (inner). One query, the
union of both joins' rows, tagged: left semi and the deduplication before a join get 30
scenarios each without a Spark run of their own.
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
from streamlab.model.joins import JoinType
from tests.support.joins_harness import (
    tagged_joins_model_facts,
    tagged_joins_pipeline,
    windowed_join_model_facts,
    windowed_join_pipeline,
)
from tests.support.model_harness import HDFS, Batches, policy_conf, run_spark
from tests.support.strategies import JoinScenario, join_scenarios

pytestmark = pytest.mark.slow

PARALLEL = 6
SCALE = float(os.environ.get("STREAMLAB_DIFF_SCALE", "2"))
_counter = itertools.count()
NEW_TYPES = [JoinType.RIGHT_OUTER, JoinType.FULL_OUTER]
"""The outer join types drawn; each query adds the left semi join of the same inputs."""


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
    return tmp_path_factory.mktemp("joins")


def check(spark: Any, workdir: Path, sc: JoinScenario, how: JoinType, policy: Policy) -> None:
    sources: dict[str, Batches] = {"impressions": sc.impressions, "clicks": sc.clicks}
    # Each outer type carries one more shape, so each shape gets the outer type's scenarios.
    hows = (how, JoinType.LEFT_SEMI) if how is JoinType.RIGHT_OUTER else (how,)
    dedup_inner = how is JoinType.FULL_OUTER
    got = run_spark(
        spark,
        workdir / f"s{next(_counter)}",
        sources,
        tagged_joins_pipeline(
            sc.imp_delay_ms, sc.click_delay_ms, sc.upper_ms, hows, dedup_inner=dedup_inner
        ),
        tuple,
        trigger=sc.trigger,
        operators=("symmetricHashJoin",),
    )
    want = tagged_joins_model_facts(
        sources,
        sc.imp_delay_ms,
        sc.click_delay_ms,
        sc.upper_ms,
        hows,
        sc.trigger,
        policy,
        dedup_inner=dedup_inner,
    )
    assert got == want, (how, sc)


@pytest.mark.parametrize("how", NEW_TYPES, ids=str)
@settings(
    max_examples=max(1, round(2.5 * SCALE)),
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(join_scenarios(), min_size=PARALLEL, max_size=PARALLEL),
    st.sampled_from(list(Policy)),
)
def test_join_type_matches_spark(
    spark: Any,
    fast_state: None,
    workdir: Path,
    how: JoinType,
    scenarios: list[JoinScenario],
    policy: Policy,
) -> None:
    for k, v in policy_conf(policy).items():
        spark.conf.set(k, v)
    try:
        with ThreadPoolExecutor(len(scenarios)) as pool:
            futures = [pool.submit(check, spark, workdir, sc, how, policy) for sc in scenarios]
            errors = [f.exception() for f in futures]
    finally:
        spark.conf.unset("spark.sql.streaming.multipleWatermarkPolicy")
    for e in errors:
        if e is not None:
            raise e


WINDOWED_TYPES = [JoinType.INNER, JoinType.LEFT_OUTER, JoinType.RIGHT_OUTER, JoinType.FULL_OUTER]


def check_windowed(
    spark: Any, workdir: Path, sc: JoinScenario, how: JoinType, policy: Policy, size: int
) -> None:
    sources: dict[str, Batches] = {"impressions": sc.impressions, "clicks": sc.clicks}
    got = run_spark(
        spark,
        workdir / f"w{next(_counter)}",
        sources,
        windowed_join_pipeline(sc.imp_delay_ms, sc.click_delay_ms, size, how),
        tuple,
        trigger=sc.trigger,
        operators=("symmetricHashJoin",),
    )
    want = windowed_join_model_facts(
        sources, sc.imp_delay_ms, sc.click_delay_ms, size, how, sc.trigger, policy
    )
    assert got == want, (how, size, sc)


# Joins on equal windows (rule J6): one join type per example, 6 scenarios each.
@settings(
    max_examples=max(1, round(2.5 * SCALE)),
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(join_scenarios(), min_size=PARALLEL, max_size=PARALLEL),
    st.sampled_from(list(Policy)),
    st.sampled_from(WINDOWED_TYPES),
    st.sampled_from([2_000, 5_000, 10_000]),
)
def test_windowed_join_matches_spark(
    spark: Any,
    fast_state: None,
    workdir: Path,
    scenarios: list[JoinScenario],
    policy: Policy,
    how: JoinType,
    size: int,
) -> None:
    for k, v in policy_conf(policy).items():
        spark.conf.set(k, v)
    try:
        with ThreadPoolExecutor(len(scenarios)) as pool:
            futures = [
                pool.submit(check_windowed, spark, workdir, sc, how, policy, size)
                for sc in scenarios
            ]
            errors = [f.exception() for f in futures]
    finally:
        spark.conf.unset("spark.sql.streaming.multipleWatermarkPolicy")
    for e in errors:
        if e is not None:
            raise e

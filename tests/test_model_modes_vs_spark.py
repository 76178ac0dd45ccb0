"""Differential tests of output modes, session windows, keys without a window, grouping by the
event time and plain ``dropDuplicates``: the model and real Spark agree on every batch.

Each hypothesis example is one streaming query per shape, carrying ``SCENARIOS`` independent
scenarios (their own rows, their own id in the grouping keys) that share the query's watermark,
delay, window or gap, output mode and trigger (``tests/support/modes_harness.py``). Both sides
report, per micro-batch, the watermark, the rows emitted, ``numRowsDroppedByWatermark`` and
``numRowsTotal``. Aggregates: count, sum, min, max, avg and ``size(collect_set(v))``, with
null values. By default 2 queries per shape, so 32 drawn scenarios per shape each run;
``STREAMLAB_DIFF_SCALE`` multiplies the queries.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from streamlab.model import Trigger, WindowSpec
from streamlab.model.modes import OutputMode
from tests.support.model_harness import HDFS
from tests.support.modes_harness import Query, run_many

pytestmark = pytest.mark.slow

SCENARIOS = 16
"""Scenarios per query."""
SCALE = float(os.environ.get("STREAMLAB_DIFF_SCALE", "2"))
S = 1000

SHAPES: list[tuple[str, OutputMode]] = [
    ("window", OutputMode.UPDATE),
    ("window", OutputMode.COMPLETE),
    ("window", OutputMode.APPEND),
    ("keys", OutputMode.UPDATE),
    ("keys", OutputMode.COMPLETE),
    ("time", OutputMode.APPEND),
    ("time", OutputMode.UPDATE),
    ("session", OutputMode.APPEND),
    ("session", OutputMode.COMPLETE),
    ("dedup_time", OutputMode.APPEND),
    ("dedup_key", OutputMode.APPEND),
]


def scenario(rnd: random.Random, clocks: list[int]) -> list[list[dict[str, Any]]]:
    """One scenario's batches: rows near each batch's clock, some far behind it, some nulls."""
    out: list[list[dict[str, Any]]] = []
    for clock in clocks:
        rows = []
        for _ in range(rnd.randint(0, 3)):
            lag = rnd.choice([0, 1, 2, 3, 5, 8, 12, 20, 40]) * S
            jitter = rnd.choice([0, 0, 0, 1, -1])
            v = rnd.choice([None, 0, 1, 2, 3, 4])
            rows.append({"k": rnd.choice("ab"), "t": max(0, clock - lag + jitter), "v": v})
        out.append(rows)
    return out


@st.composite
def queries(draw: st.DrawFn, shape: str, mode: OutputMode) -> Query:
    # The rows come from a generator seeded afresh each time: hypothesis runs its simplest
    # example first, whose scenarios would otherwise be empty or alike. A failure prints them.
    rnd = random.Random(random.SystemRandom().getrandbits(64))
    n = draw(st.integers(3, 5))
    steps = [draw(st.sampled_from([5, 0, 2, 10, 15])) * S for _ in range(n)]
    clocks = [50 * S + sum(steps[: i + 1]) for i in range(n)]
    window = None
    if shape == "window":
        size = draw(st.sampled_from([10, 4, 5])) * S
        slide = draw(st.sampled_from([size // 2 if size % 2 == 0 else size, size]))
        window = WindowSpec(size, slide, draw(st.sampled_from([S, 0, 0])) % slide)
    return Query(
        shape=shape,
        mode=mode,
        delay_ms=draw(st.sampled_from([3, 0, 5, 10])) * S,
        trigger=draw(st.sampled_from([Trigger.PROCESSING_TIME, Trigger.AVAILABLE_NOW])),
        window=window,
        gap_ms=draw(st.sampled_from([3, 5, 8])) * S,
        scenarios=[scenario(rnd, clocks) for _ in range(SCENARIOS)],
    )


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
    return tmp_path_factory.mktemp("modes")


@settings(
    max_examples=max(1, round(SCALE)),
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.tuples(*(queries(shape, mode) for shape, mode in SHAPES)))
def test_modes_match_spark(
    spark: Any, fast_state: None, workdir: Path, drawn: tuple[Query, ...]
) -> None:
    # One query per shape per example, four at a time.
    qs = list(drawn)
    facts = []
    for i in range(0, len(qs), 4):
        facts += run_many(spark, workdir, qs[i : i + 4])
    # Not a vacuous agreement: Spark emitted rows and ran several batches.
    assert sum(len(rows) for f in facts for rows in f.outputs.values()) > 0
    assert max(len(f.watermarks) for f in facts) > 1

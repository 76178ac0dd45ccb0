"""Helpers, no tests: the lab's ``stream_join/ctr`` query over the harness's columns, and the
model's answer for it, reduced to the same :class:`~tests.support.model_harness.Facts`.

Spark runs ``streamlab.pipelines.ad_ctr`` itself (the lab's own query: a left outer join, then
counts per ad and impression-time window); the harness only renames ``t`` to each source's time
column. The model runs :func:`streamlab.model.simulate` and reads ``Result.ctr``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from streamlab.model import JoinCondition, ModelConfig, Policy, Rows, Trigger, WindowSpec, simulate
from streamlab.model.join import LATE as JOIN_LATE
from streamlab.pipelines import PipelineConfig
from streamlab.pipelines.join import ad_ctr
from tests.support.model_harness import Batches, Facts, _pad, _sort_key

CTR_OPS = ("symmetricHashJoin", "stateStoreSave")
"""The ctr query's stateful operators, as the progress names them."""


def ctr_settings(imp_delay_ms: int, click_delay_ms: int, upper_ms: int, window_ms: int) -> Any:
    """Return the pipelines' settings for one scenario."""
    return PipelineConfig(
        impressions_delay_ms=imp_delay_ms,
        clicks_delay_ms=click_delay_ms,
        click_window_ms=upper_ms,
        window_ms=window_ms,
    )


def ctr_pipeline(cfg: Any) -> Callable[[dict[str, DataFrame]], DataFrame]:
    """Return the lab's ctr query over the harness's frames."""

    def build(frames: dict[str, DataFrame]) -> DataFrame:
        imps = frames["impressions"].withColumnRenamed("t", "impression_time")
        clicks = frames["clicks"].withColumnRenamed("t", "click_time")
        return ad_ctr(imps, clicks, cfg).select(
            F.unix_millis("window_start").alias("start"),
            F.unix_millis("window_end").alias("end"),
            "ad_id",
            "impressions",
            "clicked_impressions",
            "clicks",
        )

    return build


def ctr_model_facts(
    sources: dict[str, Batches], cfg: Any, trigger: Trigger, policy: Policy
) -> Facts:
    """Run the model of the ctr query and reduce it like ``run_spark`` reduces Spark's run."""
    n = max(len(b) for b in sources.values())
    imps = Rows.from_batches(
        [
            [(r["impression_id"], r["t"], r.get("ad_id")) for r in rows]
            for rows in _pad(sources["impressions"], n)
        ]
    )
    clicks = Rows.from_batches(
        [
            [(r["impression_id"], r["t"], r["click_id"]) for r in rows]
            for rows in _pad(sources["clicks"], n)
        ]
    )
    config = ModelConfig(
        pipeline="stream_join",
        delays_ms={"impressions": cfg.impressions_delay_ms, "clicks": cfg.clicks_delay_ms},
        join=JoinCondition(0, cfg.click_window_ms, True),
        window=WindowSpec(cfg.window_ms, cfg.window_ms),
        trigger=trigger,
        policy=policy,
    )
    result = simulate({"impressions": imps, "clicks": clicks}, config)
    chain = result.ctr
    assert chain is not None
    facts = Facts(watermarks=[b.eviction_watermark for b in result.batches])
    out: dict[int, list[tuple[Any, ...]]] = {}
    for w in chain.windows:
        if w.emitted_batch is not None:
            row = (w.window_start, w.window_end, w.ad_id, w.impressions)
            out.setdefault(w.emitted_batch, []).append((*row, w.clicked_impressions, w.clicks))
    facts.outputs = {b: sorted(rows, key=_sort_key) for b, rows in out.items()}
    spark_of = {b.data_batch: b.batch for b in result.batches if b.data_batch is not None}
    late = [0] * len(result.batches)
    for rows, outcome in ((imps, chain.join.left_outcome), (clicks, chain.join.right_outcome)):
        for i in np.flatnonzero(outcome == JOIN_LATE).tolist():
            late[spark_of[int(rows.batch[i])]] += 1
    facts.dropped["symmetricHashJoin"] = late
    dropped: list[set[tuple[int, object]]] = [set() for _ in result.batches]
    c = chain.aggregate.contributions
    for row, start, gone in zip(c.row.tolist(), c.start.tolist(), c.dropped.tolist(), strict=True):
        if gone:
            dropped[int(chain.joined.batch[row])].add((start, chain.joined.group[row]))
    facts.dropped["stateStoreSave"] = [len(s) for s in dropped]
    return facts

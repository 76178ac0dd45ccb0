"""Helpers, no tests: stream-stream joins of every type over the harness's columns, and the
model's answer for them (:func:`streamlab.model.joins.join_typed`), reduced to the same
:class:`~tests.support.model_harness.Facts`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from streamlab.model import JoinCondition, Policy, Trigger
from streamlab.model.chain import dedup_then_join
from streamlab.model.join import LATE
from streamlab.model.joins import JoinType, join_typed
from streamlab.model.watermark import InputWatermark, batch_maxima, plan_batches
from tests.support.model_harness import Batches, Facts, _pad, _sort_key, click_rows, impression_rows

SPARK_HOW = {
    JoinType.INNER: "inner",
    JoinType.LEFT_OUTER: "left_outer",
    JoinType.RIGHT_OUTER: "right_outer",
    JoinType.FULL_OUTER: "full_outer",
    JoinType.LEFT_SEMI: "left_semi",
}


def typed_join_pipeline(
    imp_delay_ms: int,
    click_delay_ms: int,
    upper_ms: int,
    how: JoinType,
    *,
    first_clicks: bool = False,
) -> Callable[[dict[str, DataFrame]], DataFrame]:
    """Impressions joined with clicks, click 0 to ``upper_ms`` after, with join type ``how``;
    with ``first_clicks``, only the first click of each impression
    (``dropDuplicatesWithinWatermark``) is joined."""

    def build(frames: dict[str, DataFrame]) -> DataFrame:
        imps = (
            frames["impressions"]
            .withColumnRenamed("t", "impression_time")
            .withWatermark("impression_time", f"{imp_delay_ms} milliseconds")
        )
        clicks = (
            frames["clicks"]
            .withColumnRenamed("impression_id", "click_impression_id")
            .withColumnRenamed("t", "click_time")
            .withWatermark("click_time", f"{click_delay_ms} milliseconds")
        )
        if first_clicks:
            clicks = clicks.dropDuplicatesWithinWatermark(["click_impression_id"])
        cond = (
            (F.col("impression_id") == F.col("click_impression_id"))
            & (F.col("click_time") >= F.col("impression_time"))
            & (
                F.col("click_time")
                <= F.col("impression_time") + F.expr(f"interval {upper_ms} milliseconds")
            )
        )
        joined = imps.join(clicks, cond, SPARK_HOW[how])
        if how is JoinType.LEFT_SEMI:
            return joined.select("impression_id")
        return joined.select("impression_id", "click_id")

    return build


def typed_join_model_facts(
    sources: dict[str, Batches],
    imp_delay_ms: int,
    click_delay_ms: int,
    upper_ms: int,
    how: JoinType,
    trigger: Trigger,
    policy: Policy,
) -> Facts:
    """Run :func:`join_typed` and reduce it like ``run_spark`` reduces Spark's run."""
    n = max(len(b) for b in sources.values())
    imps = impression_rows(_pad(sources["impressions"], n))
    clicks = click_rows(_pad(sources["clicks"], n))
    maxima = [batch_maxima(r.batch, r.time_ms, r.valid, n) for r in (imps, clicks)]
    plan = plan_batches(
        [InputWatermark("impressions", imp_delay_ms), InputWatermark("clicks", click_delay_ms)],
        maxima,
        data_batches=n,
        policy=policy,
        trigger=trigger,
    )
    jo = join_typed(imps, clicks, plan, JoinCondition(0, upper_ms), how)
    facts = Facts(watermarks=[b.eviction_watermark for b in plan])
    out: dict[int, list[tuple[Any, ...]]] = {}
    for i, j, b in jo.pairs:
        out.setdefault(b, []).append((imps.key[i], clicks.group[j]))
    for i, b in jo.left_nulls:
        out.setdefault(b, []).append((imps.key[i], None))
    for j, b in jo.right_nulls:
        out.setdefault(b, []).append((None, clicks.group[j]))
    for i, b in jo.semi:
        out.setdefault(b, []).append((imps.key[i],))
    facts.outputs = {b: sorted(rows, key=_sort_key) for b, rows in out.items()}
    spark_of = {b.data_batch: b.batch for b in plan if b.data_batch is not None}
    late = [0] * len(plan)
    for rows, outcome in ((imps, jo.left_outcome), (clicks, jo.right_outcome)):
        for i in np.flatnonzero(outcome == LATE).tolist():
            late[spark_of[int(rows.batch[i])]] += 1
    facts.dropped["symmetricHashJoin"] = late
    return facts


DEDUP_INNER = "dedup_inner"
"""The tag of the chained case: clicks deduplicated per impression, then an inner join."""


def tagged_joins_pipeline(
    imp_delay_ms: int,
    click_delay_ms: int,
    upper_ms: int,
    hows: tuple[JoinType, ...],
    *,
    dedup_inner: bool = False,
) -> Callable[[dict[str, DataFrame]], DataFrame]:
    """Several join types of the same inputs in one query: the union of their rows, each row
    tagged with its join type, ``(how, impression_id, click_id)``.

    The joins share the inputs, so they run with the same watermarks as each would alone, and
    one streaming query proves them all. With ``dedup_inner`` one more branch keeps the first
    click of each impression (``dropDuplicatesWithinWatermark``) and joins it (inner), tagged
    ``dedup_inner``.
    """

    def build(frames: dict[str, DataFrame]) -> DataFrame:
        parts = []
        for how in hows:
            joined = typed_join_pipeline(imp_delay_ms, click_delay_ms, upper_ms, how)(frames)
            if how is JoinType.LEFT_SEMI:
                joined = joined.withColumn("click_id", F.lit(None).cast("string"))
            parts.append(joined.select(F.lit(str(how)).alias("how"), "impression_id", "click_id"))
        if dedup_inner:
            joined = typed_join_pipeline(
                imp_delay_ms, click_delay_ms, upper_ms, JoinType.INNER, first_clicks=True
            )(frames)
            parts.append(
                joined.select(F.lit(DEDUP_INNER).alias("how"), "impression_id", "click_id")
            )
        out = parts[0]
        for part in parts[1:]:
            out = out.unionByName(part)
        return out

    return build


def tagged_joins_model_facts(
    sources: dict[str, Batches],
    imp_delay_ms: int,
    click_delay_ms: int,
    upper_ms: int,
    hows: tuple[JoinType, ...],
    trigger: Trigger,
    policy: Policy,
    *,
    dedup_inner: bool = False,
) -> Facts:
    """The model's facts for :func:`tagged_joins_pipeline`: each type's rows, tagged, and the
    late rows every join drops (each join drops the same rows: they share the watermarks)."""
    merged = Facts()
    out: dict[int, list[tuple[Any, ...]]] = {}
    for how in hows:
        facts = typed_join_model_facts(
            sources, imp_delay_ms, click_delay_ms, upper_ms, how, trigger, policy
        )
        merged.watermarks = facts.watermarks
        for b, rows in facts.outputs.items():
            pad = (None,) if how is JoinType.LEFT_SEMI else ()
            out.setdefault(b, []).extend((str(how), *r, *pad) for r in rows)
        late = facts.dropped["symmetricHashJoin"]
        total = merged.dropped.get("symmetricHashJoin", [0] * len(late))
        merged.dropped["symmetricHashJoin"] = [a + c for a, c in zip(total, late, strict=True)]
    if dedup_inner:
        late = _dedup_inner(sources, imp_delay_ms, click_delay_ms, upper_ms, trigger, policy, out)
        total = merged.dropped["symmetricHashJoin"]
        merged.dropped["symmetricHashJoin"] = [a + c for a, c in zip(total, late, strict=True)]
    merged.outputs = {b: sorted(rows, key=_sort_key) for b, rows in out.items()}
    return merged


def _dedup_inner(
    sources: dict[str, Batches],
    imp_delay_ms: int,
    click_delay_ms: int,
    upper_ms: int,
    trigger: Trigger,
    policy: Policy,
    out: dict[int, list[tuple[Any, ...]]],
) -> list[int]:
    """Add :func:`dedup_then_join`'s rows to ``out``; return the join's late rows per batch."""
    n = max(len(b) for b in sources.values())
    imps = impression_rows(_pad(sources["impressions"], n))
    clicks = click_rows(_pad(sources["clicks"], n))  # key: the impression a click is for
    maxima = [batch_maxima(r.batch, r.time_ms, r.valid, n) for r in (imps, clicks)]
    plan = plan_batches(
        [InputWatermark("impressions", imp_delay_ms), InputWatermark("clicks", click_delay_ms)],
        maxima,
        data_batches=n,
        policy=policy,
        trigger=trigger,
    )
    dj = dedup_then_join(
        imps,
        clicks,
        plan,
        JoinCondition(0, upper_ms),
        JoinType.INNER,
        right_delay_ms=click_delay_ms,
    )
    for i, j, b in dj.join.pairs:
        row = (DEDUP_INNER, imps.key[dj.left_rows[i]], clicks.group[dj.right_rows[j]])
        out.setdefault(b, []).append(row)
    spark_of = {b.data_batch: b.batch for b in plan if b.data_batch is not None}
    late = [0] * len(plan)
    for rows, seen, outcome in (
        (imps, dj.left_rows, dj.join.left_outcome),
        (clicks, dj.right_rows, dj.join.right_outcome),
    ):
        for k in np.flatnonzero(outcome == LATE).tolist():
            late[spark_of[int(rows.batch[seen[k]])]] += 1
    return late


def windowed_join_pipeline(
    imp_delay_ms: int, click_delay_ms: int, window_ms: int, how: JoinType
) -> Callable[[dict[str, DataFrame]], DataFrame]:
    """Impressions and clicks joined on the impression and equal tumbling windows of their times
    (StreamingJoinSuite's ``setupWindowedJoin``: only the window is kept of each time)."""

    def build(frames: dict[str, DataFrame]) -> DataFrame:
        size = f"{window_ms} milliseconds"
        imps = (
            frames["impressions"]
            .withWatermark("t", f"{imp_delay_ms} milliseconds")
            .select("impression_id", F.window("t", size).alias("lw"))
        )
        clicks = (
            frames["clicks"]
            .withWatermark("t", f"{click_delay_ms} milliseconds")
            .select(
                "click_id",
                F.col("impression_id").alias("click_impression_id"),
                F.window("t", size).alias("rw"),
            )
        )
        cond = (F.col("impression_id") == F.col("click_impression_id")) & (
            F.col("lw") == F.col("rw")
        )
        return imps.join(clicks, cond, SPARK_HOW[how]).select("impression_id", "click_id")

    return build


def windowed_join_model_facts(
    sources: dict[str, Batches],
    imp_delay_ms: int,
    click_delay_ms: int,
    window_ms: int,
    how: JoinType,
    trigger: Trigger,
    policy: Policy,
) -> Facts:
    """Run :func:`join_typed` with a window and reduce it like ``run_spark`` does."""
    from streamlab.model import WindowSpec

    n = max(len(b) for b in sources.values())
    imps = impression_rows(_pad(sources["impressions"], n))
    clicks = click_rows(_pad(sources["clicks"], n))
    maxima = [batch_maxima(r.batch, r.time_ms, r.valid, n) for r in (imps, clicks)]
    plan = plan_batches(
        [InputWatermark("impressions", imp_delay_ms), InputWatermark("clicks", click_delay_ms)],
        maxima,
        data_batches=n,
        policy=policy,
        trigger=trigger,
    )
    jo = join_typed(
        imps, clicks, plan, JoinCondition(0, 0), how, window=WindowSpec(window_ms, window_ms)
    )
    facts = Facts(watermarks=[b.eviction_watermark for b in plan])
    out: dict[int, list[tuple[Any, ...]]] = {}
    for i, j, b in jo.pairs:
        out.setdefault(b, []).append((imps.key[i], clicks.group[j]))
    for i, b in jo.left_nulls:
        out.setdefault(b, []).append((imps.key[i], None))
    for j, b in jo.right_nulls:
        out.setdefault(b, []).append((None, clicks.group[j]))
    facts.outputs = {b: sorted(rows, key=_sort_key) for b, rows in out.items()}
    spark_of = {b.data_batch: b.batch for b in plan if b.data_batch is not None}
    late = [0] * len(plan)
    for rows, outcome in ((imps, jo.left_outcome), (clicks, jo.right_outcome)):
        for i in np.flatnonzero(outcome == LATE).tolist():
            late[spark_of[int(rows.batch[i])]] += 1
    facts.dropped["symmetricHashJoin"] = late
    return facts

"""Helpers, no tests: many scenarios in one streaming query, through Spark and the model.

A *query* fixes what Spark can only have once per query (the watermark delay, the window or
session gap, the output mode, the trigger); its *scenarios* are independent groups of rows,
each with its own id ``sc`` in the grouping keys. All scenarios of a query land in the same
batches and share its one watermark, so a Spark run costs one query however many scenarios it
carries. Both sides are reduced alike: per batch, the rows emitted (scenario id first), the
watermark, ``numRowsDroppedByWatermark`` and ``numRowsTotal`` of the stateful operator.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import LongType, StringType, StructField, StructType

from streamlab.model import Rows, Trigger, WindowSpec
from streamlab.model.distinct import drop_duplicates
from streamlab.model.modes import AggFunc, OutputMode, SessionSpec, aggregate_modes
from streamlab.model.watermark import InputWatermark, batch_maxima, plan_batches
from tests.support.model_harness import _ms, _wait_for_offset, land_all, land_one

SCHEMA = StructType(
    [
        StructField("sc", StringType()),
        StructField("k", StringType()),
        StructField("t", LongType()),
        StructField("v", LongType()),
    ]
)
_runs = itertools.count()
AGGS = (
    AggFunc("count"),
    AggFunc("sum", "v"),
    AggFunc("min", "v"),
    AggFunc("max", "v"),
    AggFunc("avg", "v"),
    AggFunc("distinct", "v"),
)


@dataclass(frozen=True)
class Query:
    """What one Spark query fixes for all its scenarios."""

    shape: str
    """``window``, ``session``, ``keys`` (no window), ``time`` (grouped by the event time),
    ``dedup_time`` (dropDuplicates with the event time in the key) or ``dedup_key``."""
    mode: OutputMode
    delay_ms: int
    trigger: Trigger
    window: WindowSpec | None = None
    gap_ms: int = 0
    scenarios: list[list[list[dict[str, Any]]]] = field(default_factory=list)
    """Per scenario, per data batch, its rows (``k``, ``t`` in ms, ``v`` or None)."""

    @property
    def batches(self) -> list[list[dict[str, Any]]]:
        """Every scenario's rows of each data batch, tagged with the scenario id."""
        n = max(len(s) for s in self.scenarios)
        out: list[list[dict[str, Any]]] = [[] for _ in range(n)]
        for i, sc in enumerate(self.scenarios):
            for b, rows in enumerate(sc):
                out[b].extend({"sc": f"s{i:02d}", **r} for r in rows)
        return out


@dataclass
class Facts:
    """One run, reduced."""

    watermarks: list[int] = field(default_factory=list)
    outputs: dict[int, list[tuple[Any, ...]]] = field(default_factory=dict)
    dropped: list[int] = field(default_factory=list)
    state: list[int] = field(default_factory=list)

    def scenario(self, sc: str) -> dict[int, list[tuple[Any, ...]]]:
        """The rows of one scenario, per batch."""
        out: dict[int, list[tuple[Any, ...]]] = {}
        for b, rows in self.outputs.items():
            mine = [r for r in rows if r[0] == sc]
            if mine:
                out[b] = mine
        return out


def build(q: Query, df: DataFrame) -> DataFrame:
    """The query of ``q`` over the raw input."""
    df = df.withColumn("t", F.timestamp_millis("t")).withWatermark(
        "t", f"{q.delay_ms} milliseconds"
    )
    if q.shape.startswith("dedup"):
        keys = ["sc", "k", "t"] if q.shape == "dedup_time" else ["sc", "k"]
        return df.dropDuplicates(keys).select("sc", "k", F.unix_millis("t").alias("t"), "v")
    aggs = [
        F.count("*").alias("c"),
        F.sum("v").alias("s"),
        F.min("v").alias("lo"),
        F.max("v").alias("hi"),
        F.avg("v").alias("a"),
        F.size(F.collect_set("v")).alias("n"),
    ]
    if q.shape == "keys":
        return (
            df.groupBy("sc", "k")
            .agg(*aggs)
            .select(
                "sc",
                "k",
                F.lit(0).cast("long").alias("start"),
                F.lit(0).cast("long").alias("end"),
                "c",
                "s",
                "lo",
                "hi",
                "a",
                "n",
            )
        )
    if q.shape == "time":
        return (
            df.groupBy("sc", "k", "t")
            .agg(*aggs)
            .select(
                "sc",
                "k",
                F.unix_millis("t").alias("start"),
                F.unix_millis("t").alias("end"),
                "c",
                "s",
                "lo",
                "hi",
                "a",
                "n",
            )
        )
    if q.shape == "session":
        grp = F.session_window("t", f"{q.gap_ms} milliseconds")
    else:
        assert q.window is not None
        w = q.window
        grp = F.window(
            "t",
            f"{w.size_ms} milliseconds",
            f"{w.slide_ms} milliseconds",
            f"{w.start_ms} milliseconds",
        )
    return (
        df.groupBy(grp.alias("w"), "sc", "k")
        .agg(*aggs)
        .select(
            "sc",
            "k",
            F.unix_millis("w.start").alias("start"),
            F.unix_millis("w.end").alias("end"),
            "c",
            "s",
            "lo",
            "hi",
            "a",
            "n",
        )
    )


def _row(r: Any) -> tuple[Any, ...]:
    values = tuple(r)
    if len(values) == 10:  # an aggregate: round the average as the model's is rounded
        a = values[8]
        return (*values[:8], None if a is None else round(float(a), 9), values[9])
    return values


def _key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((v is None, v) for v in row)


def run_spark(spark: SparkSession, tmp: Path, q: Query) -> Facts:
    """Run ``q`` in Spark: a live trigger lands one batch at a time; AvailableNow all at once."""
    facts = Facts()
    root = tmp / "input"
    batches = q.batches
    folder = root / "in"
    if q.trigger is Trigger.AVAILABLE_NOW:
        land_all(root, "in", batches)
    else:
        folder.mkdir(parents=True, exist_ok=True)
    df = (
        spark.readStream.schema(SCHEMA)
        .option("maxFilesPerTrigger", 1)
        .json(str(folder / "batch_*" / "part-*.json"))
    )

    def sink(out: DataFrame, batch_id: int) -> None:
        rows = sorted((_row(r) for r in out.collect()), key=_key)
        if rows:
            facts.outputs[batch_id] = rows

    writer = (
        build(q, df)
        .writeStream.outputMode(q.mode.value)
        .foreachBatch(sink)
        .option("checkpointLocation", str(tmp / "checkpoint"))
    )
    if q.trigger is Trigger.AVAILABLE_NOW:
        query = writer.trigger(availableNow=True).start()
        try:
            query.awaitTermination()
        finally:
            query.stop()
    else:
        query = writer.start()
        try:
            for b, rows in enumerate(batches):
                land_one(folder, b, rows)
                _wait_for_offset(query, b)
                query.processAllAvailable()
        finally:
            query.stop()
    if query.exception() is not None:  # pragma: no cover - reported by the assertion
        raise AssertionError(str(query.exception()))
    ran = sorted(
        (p for p in query.recentProgress if "addBatch" in (p.durationMs or {})),
        key=lambda p: p.batchId,
    )
    assert [p.batchId for p in ran] == list(range(len(ran)))
    facts.watermarks = [_ms(p.eventTime.get("watermark")) for p in ran]
    facts.dropped = [sum(o.numRowsDroppedByWatermark for o in p.stateOperators) for p in ran]
    facts.state = [sum(o.numRowsTotal for o in p.stateOperators) for p in ran]
    return facts


def model_facts(q: Query) -> Facts:
    """Run the model over ``q`` and reduce its answer like :func:`run_spark`."""
    batches = q.batches
    flat = [(b, r) for b, rows in enumerate(batches) for r in rows]
    n = len(batches)
    time_ms = np.array([r["t"] for _, r in flat], dtype=np.int64)
    batch = np.array([b for b, _ in flat], dtype=np.int64)
    if q.shape == "dedup_time":
        key = [repr((r["sc"], r["k"], r["t"])) for _, r in flat]
    else:
        key = [repr((r["sc"], r["k"])) for _, r in flat]
    group = np.empty(len(flat), dtype=object)
    group[:] = [f"{r['sc']}|{r['k']}" for _, r in flat]
    rows = Rows.from_arrays(batch, time_ms, np.array(key, dtype=object), group, data_batches=n)
    maxima = batch_maxima(rows.batch, rows.time_ms, rows.valid, n)
    plan = plan_batches(
        [InputWatermark("in", q.delay_ms)],
        [maxima],
        data_batches=n,
        trigger=q.trigger,
        no_data_batches=q.mode is not OutputMode.COMPLETE,
    )
    facts = Facts(watermarks=[b.eviction_watermark for b in plan])
    spark_of = {b.data_batch: b.batch for b in plan if b.data_batch is not None}
    out: dict[int, list[tuple[Any, ...]]] = {}
    if q.shape.startswith("dedup"):
        dd = drop_duplicates(rows, plan, time_in_key=q.shape == "dedup_time")
        dropped = [0] * len(plan)
        for i, (b, r) in enumerate(flat):
            if dd.outcome[i] == 0:
                out.setdefault(spark_of[b], []).append((r["sc"], r["k"], r["t"], r["v"]))
            elif dd.outcome[i] == 1:
                dropped[spark_of[b]] += 1
        facts.dropped = dropped
        facts.state = dd.state_rows.tolist()
    else:
        v = np.array([np.nan if r["v"] is None else r["v"] for _, r in flat], dtype=np.float64)
        grouping: Any = (
            SessionSpec(q.gap_ms)
            if q.shape == "session"
            else (q.window if q.shape == "window" else None)
        )
        res = aggregate_modes(
            rows,
            rows.valid,
            plan,
            grouping,
            q.mode,
            aggs=AGGS,
            values={"v": v},
            time_key=q.shape == "time",
        )
        vals = [res.values[k] for k in ("count", "sum(v)", "min(v)", "max(v)", "avg(v)")]
        distinct = res.values["distinct(v)"]
        for i in range(len(res.emit_batch)):
            sc, k = str(res.emit_group[i]).split("|")
            c, s, lo, hi, a = (float(x[i]) for x in vals)
            out.setdefault(int(res.emit_batch[i]), []).append(
                (
                    sc,
                    k,
                    int(res.emit_start[i]),
                    int(res.emit_end[i]),
                    int(c),
                    _int(s),
                    _int(lo),
                    _int(hi),
                    None if np.isnan(a) else round(a, 9),
                    int(distinct[i]),
                )
            )
        facts.dropped = res.dropped.tolist()
        facts.state = res.state_rows.tolist()
    facts.outputs = {b: sorted(r, key=_key) for b, r in out.items()}
    return facts


def _int(x: float) -> int | None:
    return None if np.isnan(x) else int(x)


def compare(got: Facts, want: Facts, q: Query) -> None:
    """Assert both runs agree, naming the first scenario that differs."""
    where = (
        f"{q.shape} {q.mode.value} delay={q.delay_ms} {q.trigger.value} {q.window} gap={q.gap_ms}"
    )
    assert got.watermarks == want.watermarks, f"watermarks differ ({where})"
    for i in range(len(q.scenarios)):
        sc = f"s{i:02d}"
        g, w = got.scenario(sc), want.scenario(sc)
        assert g == w, f"scenario {sc} differs ({where}): {q.scenarios[i]}\nspark {g}\nmodel {w}"
    assert got.dropped == want.dropped, f"dropped rows differ ({where})"
    assert got.state == want.state, f"state rows differ ({where})"


def run_many(spark: SparkSession, workdir: Path, queries: Sequence[Query]) -> list[Facts]:
    """Run queries concurrently, compare each with the model, return Spark's facts."""
    from concurrent.futures import ThreadPoolExecutor

    def one(q: Query) -> Facts:
        got = run_spark(spark, workdir / f"q{next(_runs)}", q)
        compare(got, model_facts(q), q)
        return got

    with ThreadPoolExecutor(len(queries)) as pool:
        futures = [pool.submit(one, q) for q in queries]
        errors = [f.exception() for f in futures]
    for e in errors:
        if e is not None:
            raise e
    return [f.result() for f in futures]

"""One million events through the model and through Spark, side by side, as a ratio.

Generates a lab of 10 batches x 100,000 events (plus re-sent copies), then times:

* the model: reading every landed batch, then ``simulate`` of ``windowed_agg`` (dedup, then
  5-minute tumbling counts per event type) and every event's fate, per-window counts and
  emission batches (the per-event JSON details of ``explain --json`` are timed apart, built a
  chunk at a time as ``explain --json`` builds them);
* Spark: the lab's own tumbling query (``streamlab.pipelines.tumbling_windows``) over the same
  batches, one per micro-batch, AvailableNow, into the ``noop`` sink.

With ``--join`` the shape is the lab's ``stream_join/ctr`` instead: impressions and clicks
(``--events-per-batch`` impressions per batch, a fifth as many clicks) through the model's
left outer join and the CTR windows after it (``simulate`` of ``stream_join``, which also runs
the inner join of ``stream_join/clicks``), and through ``streamlab.pipelines.ad_ctr`` in Spark.

With ``--shapes``, each further shape is timed the same way, model against Spark, over the same
events (watermark on ``event_time``, 2 minutes): update and complete mode over 5-minute windows
per event type, update mode per event type without a window, session windows (1-minute gap)
per event type in append and complete mode, grouping by the event time in append mode, and
``dropDuplicates`` on (``event_id``, ``event_time``).

The model runs in a fresh process, so its peak memory (goal: within 2 GiB) is its own. Its
first read of the batches parses them and fills the lab's cache of their columns
(``<root>/cache/model``), in a process of its own before it; the model's time and peak are
taken with the cached read that every later ``explain`` and ``sweep`` makes, and the first
read's time and peak are reported beside them. The shapes of
``--shapes`` read from the cache. The last line is the JSON of both sides and the ratios.

Usage: ``.venv/bin/python benchmarks/bench_model.py [--events-per-batch N] [--no-spark]
[--join | --shapes all|NAME,...]``.
The machines are shared and noisy: read the ratio, not the absolute times.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamlab.lab.paths import LabPaths
from streamlab.model import ModelConfig, simulate
from streamlab.model.events import Rows, objects
from streamlab.model.explain import ctr_windows, event_chunks, fate_array
from streamlab.model.landed import load_inputs
from streamlab.raw.generator import GeneratorConfig, parse_base_time
from streamlab.raw.provision import setup_lab
from streamlab.settings import PipelineConfig

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


def first_read(paths: LabPaths, sources: tuple[str, ...]) -> dict[str, float]:
    """Read the landed batches once, parsing them and filling the lab's cache."""
    t0 = time.perf_counter()
    load_inputs(paths, sources)
    return {"first_load": time.perf_counter() - t0, "peak_mib": _peak_mib()}


def timed_load(paths: LabPaths, sources: tuple[str, ...]) -> tuple[dict[str, Rows], float]:
    """Read the landed batches from the lab's cache: the rows and the seconds."""
    t0 = time.perf_counter()
    inputs = load_inputs(paths, sources)
    return inputs, time.perf_counter() - t0


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timings(load: float, run: float, details: float) -> dict[str, float]:
    """The model's seconds (the cached read and the run, the details), and its peak."""
    return {
        "load": load,
        "simulate": run,
        "total": load + run,
        "details": details,
        "peak_mib": _peak_mib(),
    }


def time_model(paths: LabPaths) -> dict[str, float]:
    inputs, load = timed_load(paths, ("events",))
    t1 = time.perf_counter()
    result = simulate(inputs, ModelConfig())
    fates = fate_array(result)
    t2 = time.perf_counter()
    assert len(fates) == len(inputs["events"])
    details = sum(len(chunk) for chunk in event_chunks(result))
    t3 = time.perf_counter()
    assert details == len(fates)
    return timings(load, t2 - t1, t3 - t2)


def in_child(fn: Any, *args: Any) -> dict[str, float]:
    """Run ``fn(*args)`` in a fresh process, so that the peak memory it reports is its own."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return dict(pool.submit(fn, *args).result())


def time_join_model(paths: LabPaths) -> dict[str, float]:
    inputs, load = timed_load(paths, ("impressions", "clicks"))
    t1 = time.perf_counter()
    result = simulate(inputs, ModelConfig.from_settings(PipelineConfig(), "stream_join"))
    assert result.ctr is not None
    t2 = time.perf_counter()
    windows = ctr_windows(result)
    t3 = time.perf_counter()
    assert len(windows) == len(result.ctr.windows)
    return timings(load, t2 - t1, t3 - t2)


def time_spark(paths: LabPaths, root: Path, *, join: bool = False) -> float:
    from streamlab.ingest.sources import read_source
    from streamlab.pipelines import PipelineConfig, ad_ctr, tumbling_windows
    from streamlab.spark.session import lab_session

    spark = lab_session(paths.root, attach=False)
    try:
        if join:
            imps = read_source(spark, paths, "impressions")
            df = ad_ctr(imps, read_source(spark, paths, "clicks"), PipelineConfig())
        else:
            df = tumbling_windows(read_source(spark, paths, "events"), PipelineConfig())
        t0 = time.perf_counter()
        query = (
            df.writeStream.format("noop")
            .outputMode("append")
            .option("checkpointLocation", str(root / "bench-checkpoint"))
            .trigger(availableNow=True)
            .start()
        )
        try:
            query.awaitTermination()
        finally:
            query.stop()
        return time.perf_counter() - t0
    finally:
        spark.stop()


SHAPES = (
    "window_update",
    "window_complete",
    "keys_update",
    "session_append",
    "session_complete",
    "time_append",
    "dedup_time",
)
"""The shapes ``--shapes`` times, besides the lab's tumbling query."""
DELAY_MS = 120_000


def time_model_shape(paths: LabPaths, shape: str) -> tuple[float, float]:
    """Time the model of one shape: (reading the landed batches, planning and aggregating)."""
    from streamlab.model.distinct import drop_duplicates
    from streamlab.model.modes import OutputMode, SessionSpec, aggregate_modes
    from streamlab.model.watermark import InputWatermark, Trigger, batch_maxima, plan_batches
    from streamlab.model.windows import WindowSpec

    t0 = time.perf_counter()
    rows = load_inputs(paths, ("events",))["events"]
    t1 = time.perf_counter()
    mode = OutputMode(shape.split("_")[1]) if not shape.startswith("dedup") else None
    maxima = batch_maxima(rows.batch, rows.time_ms, rows.valid, rows.data_batches)
    plan = plan_batches(
        [InputWatermark("events", DELAY_MS)],
        [maxima],
        data_batches=rows.data_batches,
        trigger=Trigger.AVAILABLE_NOW,
        no_data_batches=mode is not OutputMode.COMPLETE,
    )
    if shape == "dedup_time":
        # The key is the pair (event_id, event_time), as dropDuplicates keys on both columns.
        pairs = zip(rows.key.tolist(), rows.time_ms.tolist(), strict=True)
        keyed = replace(rows, key=objects(list(pairs)))
        drop_duplicates(keyed, plan, time_in_key=True)
    else:
        assert mode is not None
        grouping: WindowSpec | SessionSpec | None = None
        if shape.startswith("window"):
            grouping = WindowSpec(300_000, 300_000)
        elif shape.startswith("session"):
            grouping = SessionSpec(60_000)
        aggregate_modes(rows, rows.valid, plan, grouping, mode, time_key=shape == "time_append")
    return t1 - t0, time.perf_counter() - t1


def spark_shape(df: DataFrame, shape: str) -> tuple[DataFrame, str]:
    """Return the Spark query of ``shape`` over the events, and its output mode."""
    from pyspark.sql import functions as F

    w = df.withWatermark("event_time", f"{DELAY_MS // 1000} seconds")
    if shape == "dedup_time":
        return w.dropDuplicates(["event_id", "event_time"]), "append"
    kind, mode = shape.split("_")
    if kind == "window":
        grouped = w.groupBy(F.window("event_time", "5 minutes"), "event_type")
    elif kind == "session":
        grouped = w.groupBy(F.session_window("event_time", "1 minute"), "event_type")
    elif kind == "time":
        grouped = w.groupBy("event_time", "event_type")
    else:
        grouped = w.groupBy("event_type")
    return grouped.count(), mode


def time_spark_shape(paths: LabPaths, root: Path, shape: str) -> float:
    from streamlab.ingest.sources import read_source
    from streamlab.spark.session import lab_session

    spark = lab_session(paths.root, attach=False)
    try:
        df, mode = spark_shape(read_source(spark, paths, "events"), shape)
        t0 = time.perf_counter()
        query = (
            df.writeStream.format("noop")
            .outputMode(mode)
            .option("checkpointLocation", str(root / f"bench-{shape}"))
            .trigger(availableNow=True)
            .start()
        )
        try:
            query.awaitTermination()
        finally:
            query.stop()
        return time.perf_counter() - t0
    finally:
        spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events-per-batch", type=int, default=100_000)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--no-spark", action="store_true", help="time the model only")
    parser.add_argument("--join", action="store_true", help="time stream_join/ctr instead")
    parser.add_argument(
        "--shapes",
        default="",
        help=f"also time these shapes: 'all' or a comma list of {', '.join(SHAPES)}",
    )
    args = parser.parse_args()
    shapes = list(SHAPES) if args.shapes == "all" else [x for x in args.shapes.split(",") if x]
    unknown = sorted(set(shapes) - set(SHAPES))
    if unknown:
        parser.error(f"unknown shape {unknown[0]!r}: choose from {', '.join(SHAPES)}")
    if args.join and shapes:
        parser.error("--shapes times the events' shapes: run it without --join")
    with tempfile.TemporaryDirectory(prefix="bench-model-") as tmp:
        root = Path(tmp)
        paths = LabPaths.resolve(root / "lab")
        per = args.events_per_batch
        cfg = GeneratorConfig(
            base_time=parse_base_time("2026-01-01T09:00:00"),
            batches=args.batches,
            events_per_batch=1 if args.join else per,
            impressions_per_batch=per if args.join else 1,
            clicks_per_batch=per // 5 if args.join else 0,
        )
        setup_lab(paths, cfg)
        sources = ("impressions", "clicks") if args.join else ("events",)
        first = in_child(first_read, paths, sources)
        if args.join:
            n = args.batches * (per + per // 5)
            model = in_child(time_join_model, paths)
            print(f"impressions and clicks: {n:,}")
        else:
            n = args.batches * round(args.events_per_batch * (1 + cfg.duplicate_share))
            model = in_child(time_model, paths)
            print(f"events: {n:,}")
        model["first_load"] = first["first_load"]
        model["first_total"] = first["first_load"] + model["simulate"]
        print(
            "model: {total:.2f}s (load {load:.2f}s from the cache, simulate and fates "
            "{simulate:.2f}s); JSON details, a chunk at a time, another {details:.2f}s; "
            "peak memory {peak_mib:,.0f} MiB (goal: within 2,048)".format(**model)
        )
        print(
            f"the first read, which parses the files and fills the cache: "
            f"{first['first_load']:.2f}s, peak memory {first['peak_mib']:,.0f} MiB"
        )
        report: dict[str, Any] = {
            "rows": n,
            "shape": "stream_join/ctr" if args.join else "windowed_agg/tumbling",
            "model_s": round(model["total"], 3),
            "model_first_s": round(model["first_total"], 3),
            "model_details_s": round(model["details"], 3),
            "model_peak_mib": round(model["peak_mib"]),
            "first_read_peak_mib": round(first["peak_mib"]),
        }
        if not args.no_spark:
            spark_s = time_spark(paths, root, join=args.join)
            print(f"spark: {spark_s:.2f}s (AvailableNow, one landed batch per micro-batch)")
            print(
                f"ratio model/spark: {model['total'] / spark_s:.3f} (goal: below 0.1); "
                f"with the first read: {model['first_total'] / spark_s:.3f}"
            )
            report |= {
                "spark_s": round(spark_s, 3),
                "ratio": round(model["total"] / spark_s, 4),
                "first_ratio": round(model["first_total"] / spark_s, 4),
            }
        for shape in shapes:
            load, run = time_model_shape(paths, shape)
            m = load + run
            line = f"{shape}: model {m:.2f}s (load {load:.2f}s, model {run:.2f}s)"
            report.setdefault("shapes", {})[shape] = {"model_s": round(m, 3)}
            if args.no_spark:
                print(line)
                continue
            sp = time_spark_shape(paths, root, shape)
            print(f"{line}, spark {sp:.2f}s, ratio {m / sp:.3f} (goal: below 0.1)")
            report["shapes"][shape] |= {"spark_s": round(sp, 3), "ratio": round(m / sp, 4)}
        print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()

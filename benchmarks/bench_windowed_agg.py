"""``streamlab run windowed_agg`` against the same work written by hand in plain PySpark.

One lab (``--batches`` x ``--events-per-batch``, default 10 x 10,000), four sides, each in a
fresh process so that no JIT or cache carries over, each timed from its first query's start
to its last query's end (Spark's start-up is left out of every side):

* ``streamlab``: ``streamlab run windowed_agg`` (tumbling and sliding, each deduplicated,
  quarantine and all), the session streamlab's CLI starts;
* ``hand``: the two queries as an expert writes them: ``readStream.json`` with the schema,
  one file per micro-batch, ``dropDuplicatesWithinWatermark``, the same windows and
  aggregates, Parquet sinks, 2 shuffle partitions, Spark's default state store, started
  together, AvailableNow;
* ``defaults``: ``hand`` with Spark's default 200 shuffle partitions, run on the first
  ``--sample`` batches only and extrapolated to all of them (said so in the output);
* ``batch``: Spark's batch job for the same result: read every file once, drop duplicate
  ``event_id``s, both window aggregations, written as Parquet.

With ``--repeat N`` the sides run interleaved, N rounds (streamlab, hand, batch, defaults,
streamlab, ...), so that every side sees the same load. Prints one JSON line: each side's median
seconds and runs, rows per second, the load average after each round, and the ratios of the
medians to streamlab.

    .venv/bin/python benchmarks/bench_windowed_agg.py [--batches 10] [--events-per-batch 10000]

The machines are shared and noisy: compare the ratios of one run, not absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SCHEMA = (
    "event_id STRING, user_id STRING, event_type STRING, value DOUBLE, "
    "event_time STRING, processing_time STRING"
)


def _hand_queries(spark: Any, root: Path, out: Path, files: str) -> list[Any]:
    from pyspark.sql import functions as F

    def stream() -> Any:
        return (
            spark.readStream.schema(SCHEMA)
            .option("maxFilesPerTrigger", 1)
            .json(files)
            .withColumn("event_time", F.to_timestamp("event_time"))
            .withWatermark("event_time", "10 minutes")
            .dropDuplicatesWithinWatermark(["event_id"])
        )

    queries = []
    for name, window in (
        ("tumbling", F.window("event_time", "5 minutes")),
        ("sliding", F.window("event_time", "10 minutes", "5 minutes")),
    ):
        agg = (
            stream()
            .groupBy(window.alias("window"), "event_type")
            .agg(
                F.count(F.lit(1)).alias("event_count"),
                F.sum("value").alias("value_sum"),
                F.avg("value").alias("value_avg"),
                F.size(F.collect_set("user_id")).alias("distinct_users"),
            )
        )
        queries.append(
            agg.writeStream.format("parquet")
            .option("path", str(out / name))
            .option("checkpointLocation", str(out / f"ckpt-{name}"))
            .outputMode("append")
            .trigger(availableNow=True)
            .start()
        )
    return queries


def _session(partitions: int) -> Any:
    from pyspark.sql import SparkSession

    from streamlab.spark.java import ensure_java

    ensure_java()
    return (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )


def side_hand(root: Path, partitions: int, sample: int | None) -> dict[str, Any]:
    """Run the hand-written queries; with ``sample``, over the first batches only."""
    spark = _session(partitions)
    spark.sparkContext.setLogLevel("ERROR")
    out = Path(tempfile.mkdtemp(prefix="bench-hand-"))
    if sample:
        src = out / "events"
        for batch in sorted((root / "events").glob("batch_*"))[:sample]:
            shutil.copytree(batch, src / batch.name)
        files = str(src / "batch_*" / "part-*.json")
    else:
        files = str(root / "events" / "batch_*" / "part-*.json")
    started = time.monotonic()
    for query in _hand_queries(spark, root, out, files):
        query.awaitTermination()
    seconds = time.monotonic() - started
    spark.stop()
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": seconds}


def side_batch(root: Path) -> dict[str, Any]:
    """Spark's batch job for the same tables."""
    from pyspark.sql import functions as F

    spark = _session(2)
    spark.sparkContext.setLogLevel("ERROR")
    out = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    started = time.monotonic()
    events = (
        spark.read.schema(SCHEMA)
        .json(str(root / "events" / "batch_*" / "part-*.json"))
        .withColumn("event_time", F.to_timestamp("event_time"))
        .dropDuplicates(["event_id"])
        .cache()
    )
    for name, window in (
        ("tumbling", F.window("event_time", "5 minutes")),
        ("sliding", F.window("event_time", "10 minutes", "5 minutes")),
    ):
        events.groupBy(window.alias("window"), "event_type").agg(
            F.count(F.lit(1)).alias("event_count"),
            F.sum("value").alias("value_sum"),
            F.avg("value").alias("value_avg"),
            F.size(F.collect_set("user_id")).alias("distinct_users"),
        ).write.parquet(str(out / name))
    seconds = time.monotonic() - started
    spark.stop()
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": seconds}


def side_streamlab(root: Path, again: bool = False) -> dict[str, Any]:
    """``streamlab run windowed_agg``, as a user runs it; its own timing of the queries.

    ``again``: start the pipeline over (``--reset``), for a second round on the same lab.
    """
    wall = time.monotonic()
    command = [sys.executable, "-m", "streamlab", "run", "windowed_agg", "--root", str(root)]
    done = subprocess.run(
        [*command, "--json", *(["--reset"] if again else [])],
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stdout)
    return {"seconds": report["seconds"], "wall_seconds": time.monotonic() - wall}


def _child(side: str, root: Path, sample: int | None) -> dict[str, Any]:
    args = [sys.executable, __file__, "--side", side, "--root", str(root)]
    if sample:
        args += ["--sample", str(sample)]
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--events-per-batch", type=int, default=10_000)
    parser.add_argument(
        "--sample", type=int, default=None, help="batches the defaults side runs (default 3)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds of all sides (medians)")
    parser.add_argument("--side", choices=["hand", "defaults", "batch"], help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        if args.side == "batch":
            print(json.dumps(side_batch(args.root)))
        else:
            # Only the defaults side samples: the hand side reads every batch.
            hand = args.side == "hand"
            sample = None if hand else args.sample
            print(json.dumps(side_hand(args.root, 2 if hand else 200, sample)))
        return

    from streamlab.lab.paths import LabPaths
    from streamlab.raw.generator import GeneratorConfig, parse_base_time
    from streamlab.raw.provision import setup_lab

    root = Path(tempfile.mkdtemp(prefix="bench-windowed-")) / "lab"
    cfg = GeneratorConfig(
        base_time=parse_base_time("2026-01-01T09:00:00"),
        batches=args.batches,
        events_per_batch=args.events_per_batch,
    )
    setup_lab(LabPaths.resolve(root), cfg)
    rows = sum(f.read_bytes().count(b"\n") for f in (root / "events").glob("batch_*/part-*.json"))
    sample = min(args.sample or 3, args.batches)
    runs: dict[str, list[float]] = {"streamlab": [], "hand": [], "batch": [], "defaults": []}
    walls: list[float] = []
    load = [round(os.getloadavg()[0], 1)]
    for round_ in range(args.repeat):  # the sides interleaved, so each round sees one load
        ours = side_streamlab(root, again=round_ > 0)
        runs["streamlab"].append(ours["seconds"])
        walls.append(ours["wall_seconds"])
        runs["hand"].append(_child("hand", root, None)["seconds"])
        runs["batch"].append(_child("batch", root, None)["seconds"])
        sampled = _child("defaults", root, sample)["seconds"]
        runs["defaults"].append(sampled * args.batches / sample)
        load.append(round(os.getloadavg()[0], 1))
    result: dict[str, Any] = {
        "bench": "windowed_agg",
        "batches": args.batches,
        "events_per_batch": args.events_per_batch,
        "rows": rows,
        "repeat": args.repeat,
        "cpus": os.cpu_count(),
        "load_average": load,
    }
    medians = {name: statistics.median(values) for name, values in runs.items()}
    for name, values in runs.items():
        seconds = medians[name]
        result[name] = {
            "seconds": round(seconds, 2),
            "rows_per_s": round(rows / seconds) if seconds else None,
            "runs_s": [round(v, 2) for v in values],
        }
    result["streamlab"]["wall_seconds"] = round(statistics.median(walls), 2)
    result["defaults"]["sampled_batches"] = sample
    result["defaults"]["note"] = f"run on {sample} of {args.batches} batches, extrapolated"
    ours = medians["streamlab"]
    result["speedup_vs_hand"] = round(medians["hand"] / ours, 2)
    result["speedup_vs_defaults"] = round(medians["defaults"] / ours, 2)
    result["slowdown_vs_batch"] = round(ours / medians["batch"], 2)
    print(json.dumps(result))
    shutil.rmtree(root.parent, ignore_errors=True)


if __name__ == "__main__":
    main()

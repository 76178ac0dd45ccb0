"""``streamlab setup`` at scale against Spark reading the files it lands, once.

The claim: a lab of 10M events is generated in one command, in less time than Spark takes to
read it. Two sides, interleaved (setup, read, setup, read, ...) so that both see the same load:

* ``setup``: ``streamlab setup --batches B --events-per-batch E`` into a fresh root, as a user
  runs it, timed from the command's start to its end (Python's start-up included);
* ``read``: in a fresh process, Spark reads every landed events file of that lab once with the
  events schema and computes the row count and the latest ``event_time``, so that every line is
  parsed; timed from the read's start to its end (Spark's start-up is left out).

Prints one JSON line: each side's median seconds, events per second, the runs, the CPU
seconds (setup: the command's process; read: the JVM and the driver during the read), the load
average, ``ratio`` = read seconds / setup seconds (above 1: setup is faster) and
``cpu_ratio``, the same for CPU seconds, which a loaded machine disturbs less.

    .venv/bin/python benchmarks/bench_setup.py [--batches 1000] [--events-per-batch 10000]

The machines are shared and noisy: compare the ratio of one run, not absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

SCHEMA = (
    "event_id STRING, user_id STRING, event_type STRING, value DOUBLE, "
    "event_time STRING, processing_time STRING"
)


def side_setup(root: Path, batches: int, per_batch: int) -> tuple[float, float]:
    """Return the wall seconds and the CPU seconds of ``streamlab setup``."""
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "streamlab",
            "setup",
            "--root",
            str(root),
            "--batches",
            str(batches),
            "--events-per-batch",
            str(per_batch),
            "--base-time",
            "2026-01-01T09:00:00",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    wall = time.monotonic() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - cpu.ru_utime - cpu.ru_stime


def side_read(root: Path) -> dict[str, Any]:
    """In this process: Spark reads every landed events file once."""
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    from streamlab.spark.java import ensure_java

    ensure_java()
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    jvm = psutil.Process(spark.sparkContext._gateway.proc.pid)  # type: ignore[union-attr]
    me = psutil.Process()

    def cpu() -> float:
        return sum(sum(p.cpu_times()[:2]) for p in (jvm, me))

    cpu_before = cpu()
    started = time.monotonic()
    row = (
        spark.read.schema(SCHEMA)
        .json(str(root / "events" / "batch_*" / "part-*.json"))
        .agg(F.count(F.lit(1)).alias("rows"), F.max(F.to_timestamp("event_time")).alias("last"))
        .collect()[0]
    )
    seconds = time.monotonic() - started
    cpu_seconds = cpu() - cpu_before
    spark.stop()
    return {"seconds": seconds, "cpu_seconds": cpu_seconds, "rows": int(row["rows"])}


def _read_child(root: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--side", "read", "--root", str(root)],
        capture_output=True,
        text=True,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=1000)
    parser.add_argument("--events-per-batch", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=1, help="pairs of runs (default 1)")
    parser.add_argument("--side", choices=["read"], help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(side_read(args.root)))
        return
    work = Path(tempfile.mkdtemp(prefix="bench-setup-"))
    setup_s: list[float] = []
    read_s: list[float] = []
    setup_cpu: list[float] = []
    read_cpu: list[float] = []
    rows = 0
    load = [os.getloadavg()[0]]
    try:
        for i in range(args.repeat):
            root = work / f"lab-{i}"
            wall, cpu = side_setup(root, args.batches, args.events_per_batch)
            setup_s.append(wall)
            setup_cpu.append(cpu)
            load.append(os.getloadavg()[0])
            read = _read_child(root)
            read_s.append(read["seconds"])
            read_cpu.append(read["cpu_seconds"])
            rows = read["rows"]
            load.append(os.getloadavg()[0])
            shutil.rmtree(root, ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    setup, read_median = statistics.median(setup_s), statistics.median(read_s)
    events = args.batches * args.events_per_batch
    print(
        json.dumps(
            {
                "bench": "setup",
                "batches": args.batches,
                "events_per_batch": args.events_per_batch,
                "events": events,
                "rows": rows,
                "repeat": args.repeat,
                "setup": {
                    "seconds": round(setup, 2),
                    "events_per_s": round(events / setup),
                    "runs_s": [round(x, 2) for x in setup_s],
                    "cpu_s": round(statistics.median(setup_cpu), 2),
                },
                "read": {
                    "seconds": round(read_median, 2),
                    "rows_per_s": round(rows / read_median),
                    "runs_s": [round(x, 2) for x in read_s],
                    "cpu_s": round(statistics.median(read_cpu), 2),
                },
                "ratio": round(read_median / setup, 2),
                "cpu_ratio": round(statistics.median(read_cpu) / statistics.median(setup_cpu), 2),
                "load_average": [round(x, 1) for x in load],
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()

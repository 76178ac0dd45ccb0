"""Scaling flat: ``streamlab run windowed_agg`` at two sizes, its state and its peak memory.

For each lab size (``--sizes`` as BATCHESxEVENTS, default 100x10000,1000x10000: 1M and 10M
events), sets up a fresh lab and runs ``streamlab run windowed_agg --json`` as a user does,
sampling every 0.5 s the resident memory of the command's Python process (the driver) and of
its JVM. Reports per size the rows, the run's seconds, each process's peak memory and, per
query, the largest state (rows) of any batch and of the last one, from the progress log. The
last line compares the largest size with the smallest: the peak memory ratios (goal: at most
1.2) and whether the largest state grew with the input (it should not: the watermark bounds
it).

    .venv/bin/python benchmarks/bench_scale.py [--sizes 100x10000,1000x10000]

A 10M-event run takes about 45 minutes on 2 cores; `--sizes 10x10000,100x10000` shows the
same shape in about 6.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any


def _watch(pid: int, peaks: dict[str, float], done: threading.Event) -> None:
    import psutil

    driver = psutil.Process(pid)
    while not done.wait(0.5):
        try:
            peaks["driver_mib"] = max(peaks["driver_mib"], driver.memory_info().rss / 2**20)
            for child in driver.children(recursive=True):
                if child.name() == "java":
                    peaks["jvm_mib"] = max(peaks["jvm_mib"], child.memory_info().rss / 2**20)
        except psutil.Error:  # a process ended between two samples
            continue


def measure(batches: int, events: int) -> dict[str, Any]:
    from streamlab.lab.paths import LabPaths
    from streamlab.raw.generator import GeneratorConfig, parse_base_time
    from streamlab.raw.provision import setup_lab
    from streamlab.run.progress import progress_log

    root = Path(tempfile.mkdtemp(prefix="bench-scale-")) / "lab"
    paths = LabPaths.resolve(root)
    setup_lab(
        paths,
        GeneratorConfig(
            base_time=parse_base_time("2026-01-01T09:00:00"),
            batches=batches,
            events_per_batch=events,
        ),
    )
    command = [sys.executable, "-m", "streamlab", "run", "windowed_agg", "--root", str(root)]
    peaks = {"driver_mib": 0.0, "jvm_mib": 0.0}
    done = threading.Event()
    started = time.monotonic()
    process = subprocess.Popen(
        [*command, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    watcher = threading.Thread(target=_watch, args=(process.pid, peaks, done), daemon=True)
    watcher.start()
    out, err = process.communicate()
    done.set()
    watcher.join()
    if process.returncode:
        sys.exit(f"streamlab run failed at {batches}x{events}:\n{err[-3000:]}")
    report = json.loads(out)
    state: dict[str, dict[str, int]] = {}
    for line in progress_log(paths).read_text().splitlines():
        record = json.loads(line)
        rows = int(record.get("state_rows") or 0)
        query = state.setdefault(record["query"], {"max": 0, "last": 0})
        query["max"] = max(query["max"], rows)
        query["last"] = rows
    rows_in = report["pipelines"][0]["queries"][0]["input_rows"]  # both queries read it all
    return {
        "batches": batches,
        "events_per_batch": events,
        "rows": rows_in,
        "seconds": report["seconds"],
        "wall_seconds": round(time.monotonic() - started, 1),
        "driver_peak_mib": round(peaks["driver_mib"]),
        "jvm_peak_mib": round(peaks["jvm_mib"]),
        "state_rows": state,
        "load_average": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100x10000,1000x10000")
    args = parser.parse_args()
    results = []
    for size in args.sizes.split(","):
        batches, events = (int(x) for x in size.split("x"))
        results.append(measure(batches, events))
        print(json.dumps(results[-1]), flush=True)
    small, large = results[0], results[-1]
    print(
        json.dumps(
            {
                "bench": "scale",
                "input_ratio": round(large["rows"] / small["rows"], 1),
                "driver_peak_ratio": round(large["driver_peak_mib"] / small["driver_peak_mib"], 2),
                "jvm_peak_ratio": round(large["jvm_peak_mib"] / small["jvm_peak_mib"], 2),
                "state_max_ratio": {
                    q: round(large["state_rows"][q]["max"] / max(1, s["max"]), 2)
                    for q, s in small["state_rows"].items()
                    if q in large["state_rows"]
                },
            }
        )
    )


if __name__ == "__main__":
    main()

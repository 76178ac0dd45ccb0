"""How soon ``streamlab live`` shows its picture, side by side with a bare Spark start.

Times, from the moment the process is started (as a user's shell starts it), by polling
``GET /api/state`` every 0.2 s (no browser needed):

* ``page_s``: the page is served (``GET /`` answers);
* ``dots_s``: the first state with the events' dots (landed batches, drawn before Spark runs);
* ``first_batch_s``: the tumbling windows' query (whose watermark the events' picture draws)
  has committed a micro-batch;
* ``landed_watermark_s``: the events' picture has a watermark line of any kind, the first of
  which is the one the landed batches will give the query, computed before Spark's first
  batch;
* ``next_watermark_s``: the events' picture has the next batch's watermark, computed from a
  finished batch, or Spark's own;
* ``spark_watermark_s``: the events' picture has Spark's own watermark line;
* ``join_watermark_s``: the join's picture (impressions) has a watermark line of any kind;
* ``picture_s``: dots and a watermark line on every source's picture: what the page's first
  picture needs.

From the run's progress log, per query: when its first micro-batch was triggered and how long
it took (``first_trigger_s``, ``first_batch_ms``): where the time to the first picture goes.

In the same run, and just before each live run, the baseline: a fresh interpreter that starts
a bare local ``SparkSession`` and runs ``spark.range(1).count()``. Each figure is printed with
the 1-minute load average when it was reached, and as a ratio to the baseline; on a shared
machine compare the ratios, not the seconds. Each figure also comes with the CPU seconds the
process and its JVM had used by then (``cpu``; the baseline's ``spark_start_cpu_s``): the work
it took, which a busy machine stretches in wall time far more than it changes. Each live run
is ended with SIGTERM, and its exit status and whether its stderr holds a Java stack trace
(with its first ERROR lines) are reported too.

Usage: ``.venv/bin/python benchmarks/bench_live_start.py [--runs N] [--timeout 240]
[-- LIVE OPTIONS]`` (options after ``--`` go to ``streamlab live``, e.g. ``--rate 20/s``).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

BASELINE = (
    "from pyspark.sql import SparkSession\n"
    "spark = SparkSession.builder.master('local[2]').config('spark.ui.enabled', 'false')"
    ".getOrCreate()\n"
    "spark.range(1).count()\n"
    "print('ready', flush=True)\n"
    "spark.stop()\n"
)
MILESTONES = (
    "page_s",
    "dots_s",
    "first_batch_s",
    "landed_watermark_s",
    "next_watermark_s",
    "spark_watermark_s",
    "join_watermark_s",
    "picture_s",
)
TUMBLING = "windowed_agg/tumbling"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _tree_cpu(pid: int) -> float:
    """Return the CPU seconds (user and system) of a process and its children, so far."""
    import psutil

    total = 0.0
    try:
        root = psutil.Process(pid)
        for proc in [root, *root.children(recursive=True)]:
            try:
                t = proc.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                continue
    except psutil.Error:
        return total
    return round(total, 2)


def baseline() -> dict[str, float]:
    """Time a bare SparkSession start and one job, in a fresh interpreter."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", BASELINE],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    seconds = time.perf_counter() - start
    cpu = _tree_cpu(process.pid)
    process.wait(timeout=120)
    if not line.startswith("ready"):
        raise SystemExit("the bare SparkSession did not start")
    return {"spark_start_s": round(seconds, 2), "spark_start_cpu_s": cpu, "load": _load()}


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            data: bytes = answer.read()
            return data
    except OSError:
        return None


def _has_line(picture: dict[str, Any], *, kinds: tuple[str, ...] = ("landed", "next")) -> bool:
    if picture.get("watermark_line"):
        return True
    return (picture.get("next_watermark") or {}).get("kind") in kinds


def _reached(state: dict[str, Any]) -> set[str]:
    pictures = state.get("pictures") or {}
    events = pictures.get("events") or {}
    found = set()
    if events.get("dots"):
        found.add("dots_s")
    if TUMBLING in (state.get("batch") or {}).get("processed", {}):
        found.add("first_batch_s")
    if _has_line(events):
        found.add("landed_watermark_s")
    if _has_line(events, kinds=("next",)):
        found.add("next_watermark_s")
    if _has_line(events, kinds=()):
        found.add("spark_watermark_s")
    if _has_line(pictures.get("impressions") or {}):
        found.add("join_watermark_s")
    sources = [pictures.get(s) or {} for s in ("events", "impressions", "clicks")]
    if all(p.get("dots") and _has_line(p) for p in sources):
        found.add("picture_s")
    return found


def _first_batches(log: Path, wall: float) -> dict[str, dict[str, float]]:
    """Per query, when its first micro-batch was triggered (s after the start), and its ms."""
    out: dict[str, dict[str, float]] = {}
    if not log.exists():
        return out
    for line in log.read_text().splitlines():
        rec = json.loads(line)
        if rec["query"] in out or not rec.get("timestamp"):
            continue
        moment = datetime.fromisoformat(rec["timestamp"].replace("Z", "+00:00")).timestamp()
        out[rec["query"]] = {
            "first_trigger_s": round(moment - wall, 2),
            "first_batch_ms": rec.get("duration_ms"),
        }
    return dict(sorted(out.items(), key=lambda kv: kv[1]["first_trigger_s"]))


def live_run(extra: list[str], timeout: float) -> dict[str, Any]:
    """Start ``streamlab live`` on a fresh root and time its milestones; end it with SIGTERM."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        root = Path(tmp) / "lab"
        stderr = Path(tmp) / "stderr.txt"
        command = [sys.executable, "-m", "streamlab", "live", "--root", str(root)]
        command += ["--port", str(port), "--duration", "30m", "--json", *extra]
        url = f"http://127.0.0.1:{port}/"
        times: dict[str, float] = {}
        loads: dict[str, float] = {}
        cpu: dict[str, float] = {}
        wall = time.time()
        start = time.perf_counter()
        with stderr.open("w") as err:
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            while len(times) < len(MILESTONES) and time.perf_counter() - start < timeout:
                if process.poll() is not None:
                    raise SystemExit(f"streamlab live ended early: {stderr.read_text()[-2000:]}")
                now = round(time.perf_counter() - start, 2)
                if "page_s" not in times and _get(url) is not None:
                    times["page_s"], loads["page_s"] = now, _load()
                    cpu["page_s"] = _tree_cpu(process.pid)
                body = _get(url + "api/state") if "page_s" in times else None
                if body:
                    for name in _reached(json.loads(body)) - set(times):
                        times[name], loads[name] = now, _load()
                        cpu[name] = _tree_cpu(process.pid)
                time.sleep(0.2)
        finally:
            stop = time.perf_counter()
            process.send_signal(signal.SIGTERM)
            try:
                process.communicate(timeout=240)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
        text = stderr.read_text()
        return {
            **{name: times.get(name) for name in MILESTONES},
            "load": {name: loads.get(name) for name in MILESTONES},
            "cpu": {name: cpu.get(name) for name in MILESTONES},
            "first_batches": _first_batches(root / "logs" / "progress.jsonl", wall),
            "sigterm_exit": process.returncode,
            "sigterm_stop_s": round(time.perf_counter() - stop, 2),
            "java_trace_on_stderr": "\tat " in text,
            "stderr_errors": [line for line in text.splitlines() if " ERROR " in line][:5],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="pairs of baseline and live run")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per live run")
    parser.add_argument("live", nargs="*", help="options for streamlab live (after --)")
    args = parser.parse_args()
    rows = []
    for _ in range(args.runs):
        base = baseline()
        run = live_run(args.live, args.timeout)
        ratios = {
            name.replace("_s", "_ratio"): round(run[name] / base["spark_start_s"], 2)
            for name in MILESTONES
            if run[name] is not None
        }
        row = {"baseline": base, **run, **ratios, "options": args.live}
        rows.append(row)
        print(json.dumps(row), flush=True)
    if len(rows) > 1:
        medians = {
            name: statistics.median(r[name] for r in rows if r[name] is not None)
            for name in MILESTONES
            if any(r[name] is not None for r in rows)
        }
        base = statistics.median(r["baseline"]["spark_start_s"] for r in rows)
        print(
            json.dumps(
                {
                    "runs": len(rows),
                    "median_spark_start_s": base,
                    **{f"median_{k}": v for k, v in medians.items()},
                    **{
                        f"median_{k.replace('_s', '_ratio')}": round(v / base, 2)
                        for k, v in medians.items()
                    },
                }
            )
        )


if __name__ == "__main__":
    main()

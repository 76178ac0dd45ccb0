"""Time the guide-sized lab end to end: setup, Spark start, every pipeline, summary.

    .venv/bin/python benchmarks/bench_lab.py [--root DIR] [--plain] [--conf KEY=VALUE ...]

Prints one JSON line with the wall times. The machine is shared and noisy: compare
configurations side by side in one sitting and quote ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

started = time.monotonic()

from streamlab.cli.pipelines import pipeline_session_config  # noqa: E402
from streamlab.lab.paths import LabPaths  # noqa: E402
from streamlab.raw.generator import GeneratorConfig, parse_base_time  # noqa: E402
from streamlab.raw.provision import setup_lab  # noqa: E402
from streamlab.run.runner import run_pipelines  # noqa: E402
from streamlab.spark.session import lab_session  # noqa: E402


def _jvm_cpu_seconds(spark: object) -> float | None:
    """CPU seconds the driver JVM used (user + system): steadier than wall time under load."""
    try:
        pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()  # type: ignore[attr-defined]
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        return round(ticks / os.sysconf("SC_CLK_TCK"), 2)
    except (OSError, AttributeError, IndexError, ValueError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--conf", action="append", default=[], help="Spark setting KEY=VALUE")
    parser.add_argument("--plain", action="store_true", help="lab_session defaults only")
    args = parser.parse_args()
    root = args.root or Path(tempfile.mkdtemp(prefix="streamlab-bench-"))
    shutil.rmtree(root, ignore_errors=True)
    paths = LabPaths.resolve(root)
    setup_lab(paths, GeneratorConfig(base_time=parse_base_time("2026-01-01T09:00:00")))
    t_setup = time.monotonic()
    # As `streamlab lab` starts Spark; --plain keeps the session's defaults.
    conf = {} if args.plain else pipeline_session_config(paths)
    conf.update(dict(c.split("=", 1) for c in args.conf))
    spark = lab_session(root, config=conf)
    t_spark = time.monotonic()
    result = run_pipelines(spark, paths)
    t_run = time.monotonic()
    queries = {q.name: q.seconds for p in result.pipelines for q in p.queries}
    jvm_cpu = _jvm_cpu_seconds(spark)
    print(
        json.dumps(
            {
                "conf": conf,
                "setup_s": round(t_setup - started, 2),
                "spark_start_s": round(t_spark - t_setup, 2),
                "pipelines_s": round(t_run - t_spark, 2),
                "total_s": round(t_run - started, 2),
                "jvm_cpu_s": jvm_cpu,
                "queries_s": queries,
                "ok": result.ok,
            }
        )
    )
    spark.stop()
    if args.root is None:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The JIT and the state store, side by side: which is faster at which size of work.

For each lab size (``--sizes`` as BATCHESxEVENTS, default the guide's 10x100 and 10x10000),
``run windowed_agg`` runs four times, each in a fresh process on a fresh copy of the lab:
C1-only JIT (``-XX:TieredStopAtLevel=1``) or the full tiered JIT, times the HDFS-backed or the
RocksDB state store. Prints one JSON line per size with each side's seconds of processing and
JVM CPU seconds, and the ratios to streamlab's choice for that size
(:mod:`streamlab.spark.tuning`).

    .venv/bin/python benchmarks/bench_tuning.py [--sizes 10x100,10x10000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SIDES = {
    "c1_rocksdb": (True, "rocksdb"),
    "c1_hdfs": (True, "hdfs"),
    "tiered_rocksdb": (False, "rocksdb"),
    "tiered_hdfs": (False, "hdfs"),
}


def _jvm_cpu_seconds(spark: Any) -> float | None:
    try:
        pid = spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid()
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)
    except (OSError, AttributeError, IndexError, ValueError):
        return None


def child(root: Path, side: str) -> dict[str, Any]:
    from streamlab.lab.paths import LabPaths
    from streamlab.run.runner import run_pipelines
    from streamlab.spark.session import lab_session
    from streamlab.spark.settings import default_config
    from streamlab.spark.tuning import C1_ONLY, HDFS_PROVIDER, PROVIDER_KEY, ROCKSDB_PROVIDER

    paths = LabPaths.resolve(root)
    c1, store = SIDES[side]
    java = default_config(paths, os.cpu_count() or 2)["spark.driver.extraJavaOptions"]
    conf = {
        "spark.sql.shuffle.partitions": "1",
        "spark.driver.extraJavaOptions": f"{java} {C1_ONLY}" if c1 else java,
        PROVIDER_KEY: ROCKSDB_PROVIDER if store == "rocksdb" else HDFS_PROVIDER,
    }
    spark = lab_session(root, config=conf)
    started = time.monotonic()
    result = run_pipelines(spark, paths, ["windowed_agg"])
    seconds = time.monotonic() - started
    return {"seconds": round(seconds, 2), "jvm_cpu_s": _jvm_cpu_seconds(spark), "ok": result.ok}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10x100,10x10000")
    parser.add_argument("--side", choices=list(SIDES), help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        print(json.dumps(child(args.root, args.side)))
        return

    from streamlab.lab.paths import LabPaths
    from streamlab.raw.generator import GeneratorConfig, parse_base_time
    from streamlab.raw.provision import setup_lab
    from streamlab.spark.tuning import ROCKSDB_PROVIDER, c1_only, state_store_provider, work_size

    for size in args.sizes.split(","):
        batches, events = (int(x) for x in size.split("x"))
        base = Path(tempfile.mkdtemp(prefix="bench-tuning-"))
        lab = base / "lab"
        cfg = GeneratorConfig(
            base_time=parse_base_time("2026-01-01T09:00:00"),
            batches=batches,
            events_per_batch=events,
        )
        setup_lab(LabPaths.resolve(lab), cfg)
        work = work_size(LabPaths.resolve(lab))
        # The CLI adopts the JIT rule; the state store stays the session's RocksDB, and the
        # rule streamlab.spark.tuning would apply is reported beside it.
        chosen = ("c1" if c1_only(work) else "tiered") + "_rocksdb"
        store_rule = "rocksdb" if state_store_provider(work) == ROCKSDB_PROVIDER else "hdfs"
        out: dict[str, Any] = {"bench": "tuning", "batches": batches, "events": events}
        for side in SIDES:
            root = base / side
            # A lab of its own, the same seed and settings (a copied lab is refused as moved).
            setup_lab(LabPaths.resolve(root), cfg)
            done = subprocess.run(
                [sys.executable, __file__, "--side", side, "--root", str(root)],
                capture_output=True,
                text=True,
            )
            if done.returncode:
                sys.exit(f"{side} failed:\n{done.stderr[-3000:]}")
            out[side] = json.loads(done.stdout.strip().splitlines()[-1])
            shutil.rmtree(root, ignore_errors=True)
        out["chosen"] = chosen
        out["state_store_rule"] = store_rule
        out["today"] = "c1_rocksdb"
        best = min(SIDES, key=lambda s: out[s]["seconds"])
        out["fastest"] = best
        out["chosen_vs_today"] = round(out["c1_rocksdb"]["seconds"] / out[chosen]["seconds"], 2)
        print(json.dumps(out), flush=True)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

"""The guide's lab from a cold start: ``streamlab lab`` against ``streamlab notebook guide``.

Each pair runs both commands as a user does, each in a process of its own on a fresh root
(setup, every pipeline and verify for ``lab``; the guide's Steps 1-6, fixed, for the
notebook), alternating which goes first. Prints one JSON line with the median wall seconds of
each and their ratio (``lab`` / ``notebook``; the goal is at most 1.0).

    .venv/bin/python benchmarks/bench_guide.py [--pairs 3]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _timed(*args: str) -> float:
    root = Path(tempfile.mkdtemp(prefix="bench-guide-"))
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "streamlab", *args, "--root", str(root / "lab"), "--json"],
        capture_output=True,
        check=True,
    )
    seconds = time.monotonic() - started
    shutil.rmtree(root, ignore_errors=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    lab: list[float] = []
    notebook: list[float] = []
    for pair in range(args.pairs):
        order = [("lab",), ("notebook", "guide")]
        for cmd in order if pair % 2 == 0 else order[::-1]:
            (lab if cmd == ("lab",) else notebook).append(_timed(*cmd))
    result = {
        "bench": "guide",
        "pairs": args.pairs,
        "lab_s": [round(s, 1) for s in lab],
        "notebook_s": [round(s, 1) for s in notebook],
        "lab_median_s": round(statistics.median(lab), 1),
        "notebook_median_s": round(statistics.median(notebook), 1),
    }
    result["ratio"] = round(result["lab_median_s"] / result["notebook_median_s"], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

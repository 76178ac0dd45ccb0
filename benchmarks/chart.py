"""A PNG of throughput against input size: streamlab, hand-tuned Spark, Spark's defaults.

Runs ``bench_windowed_agg.py`` once per size (``--sizes`` as BATCHESxEVENTS) and draws rows
per second of each side against the rows read; or draws the JSON lines of an earlier run
(``--from FILE``). Writes the chart (default ``docs/throughput.png``) and the lines beside it.

    .venv/bin/python benchmarks/chart.py --sizes 5x2000,10x5000,10x10000
    .venv/bin/python benchmarks/chart.py --from results.jsonl
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SIDES = {"streamlab": "streamlab", "hand": "hand-tuned Spark", "defaults": "Spark defaults"}


def measure(sizes: list[str]) -> list[dict[str, Any]]:
    out = []
    for size in sizes:
        batches, events = size.split("x")
        done = subprocess.run(
            [
                sys.executable,
                str(HERE / "bench_windowed_agg.py"),
                "--batches",
                batches,
                "--events-per-batch",
                events,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        line = json.loads(done.stdout.strip().splitlines()[-1])
        print(json.dumps(line), flush=True)
        out.append(line)
    return out


def draw(results: list[dict[str, Any]], target: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = sorted(results, key=lambda r: r["rows"])
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for key, label in SIDES.items():
        ax.plot(
            [r["rows"] for r in results],
            [r[key]["rows_per_s"] for r in results],
            marker="o",
            label=label,
        )
    ax.set_xscale("log")
    ax.set_xlabel("input rows (events with re-sent copies)")
    ax.set_ylabel("rows per second (windowed_agg, both queries)")
    ax.set_title("Throughput against input size, local[2]")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(target, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5x2000,10x5000,10x10000")
    parser.add_argument("--from", dest="source", type=Path)
    parser.add_argument("--out", type=Path, default=HERE.parent / "docs" / "throughput.png")
    args = parser.parse_args()
    if args.source:
        results = [json.loads(x) for x in args.source.read_text().splitlines() if x.strip()]
    else:
        results = measure(args.sizes.split(","))
        args.out.with_suffix(".jsonl").write_text("".join(json.dumps(r) + "\n" for r in results))
    draw(results, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

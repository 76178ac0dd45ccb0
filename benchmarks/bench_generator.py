"""Events per second: streamlab's vectorized generator against a plain ``json.dumps`` loop.

Both run in this process, one after the other, on the same sizes; the result is their ratio,
which is what to compare across these noisy machines.

    .venv/bin/python benchmarks/bench_generator.py [--events 1000000] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import datetime, timedelta

from streamlab.raw.generator import EVENT_TYPES, GeneratorConfig, generate, parse_base_time


def plain_loop(batches: int, per_batch: int, base: datetime) -> int:
    """The guide's generator, one dict and one ``json.dumps`` per event."""
    rng = random.Random(17)
    size = 0
    for batch in range(batches):
        now = base + timedelta(minutes=batch)
        lines = []
        for i in range(per_batch):
            late = rng.random() < 0.1
            offset = rng.randint(300, 1800) if late else rng.randint(0, 299)
            lines.append(
                json.dumps(
                    {
                        "event_id": f"EVT{batch:04d}{i:04d}",
                        "user_id": f"USER{rng.randint(1, 100):03d}",
                        "event_type": rng.choice(EVENT_TYPES),
                        "value": round(rng.uniform(1, 100), 2),
                        "event_time": (now - timedelta(seconds=offset)).strftime(
                            "%Y-%m-%d %H:%M:%S"
                        ),
                        "processing_time": now.strftime("%Y-%m-%d %H:%M:%S"),
                    }
                )
            )
        size += len(("\n".join(lines) + "\n").encode())
    return size


def streamlab_generator(batches: int, per_batch: int, base: datetime) -> int:
    cfg = GeneratorConfig(
        base_time=base, batches=batches, events_per_batch=per_batch, duplicate_share=0
    )
    return sum(len(b.lines) for b in generate(cfg, ("events",)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    per_batch = args.events // args.batches
    base = parse_base_time("2026-01-01T09:00:00")
    results = {}
    for name, run in (("json.dumps loop", plain_loop), ("streamlab", streamlab_generator)):
        start = time.perf_counter()
        run(args.batches, per_batch, base)
        seconds = time.perf_counter() - start
        results[name] = {
            "seconds": round(seconds, 3),
            "events_per_s": round(args.batches * per_batch / seconds),
        }
    ratio = results["streamlab"]["events_per_s"] / results["json.dumps loop"]["events_per_s"]
    report = {"events": args.batches * per_batch, "results": results, "speedup": round(ratio, 1)}
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for name, r in results.items():
            print(f"{name:>16}: {r['events_per_s']:>10,} events/s ({r['seconds']} s)")
        print(f"{'speedup':>16}: {report['speedup']}x")


if __name__ == "__main__":
    main()

"""A 10-batch windowed stream test through the harness and by hand, in the same run.

Both sides feed the same 10 micro-batches (5 events each, one later than the watermark allows)
to the same query: a 10-second delay and 5-second tumbling counts.

* harness: ``StreamTest.run`` with 10 ``AddData`` steps and one ``CheckAnswer(ModelAnswer())``
  at the end (the query starts once; each step waits with ``processAllAvailable``);
* by hand, the smallest equivalent a user would write today: the 10 files written up front,
  the file source with ``maxFilesPerTrigger=1``, ``trigger(availableNow=True)``, a memory sink,
  and one collect at the end;
* by hand, step by step: the same query with a processing-time trigger and a memory sink, each
  file landed and then ``processAllAvailable()``, which is what the harness's semantics ask
  (every ``AddData`` is one micro-batch, followed by the no-data batch Spark runs when the
  watermark moved). AvailableNow runs those no-data batches only at the end: 11 batches
  against 20, so the first ratio measures Spark's extra batches as well as the harness.

Each side runs ``--repeat`` times, alternating, each on a fresh checkpoint; the JSON line
reports the median seconds of each side and their ratio. The session's start is not timed.
The machines are shared and noisy: read the ratio, not the absolute times.

Usage: ``.venv/bin/python benchmarks/bench_harness.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

BASE = datetime(2026, 1, 1)


def batches() -> list[list[tuple[datetime]]]:
    out = []
    for b in range(10):
        rows = [(BASE + timedelta(seconds=10 * b + i),) for i in range(4)]
        rows.append((BASE + timedelta(seconds=max(0, 10 * b - 25)),))  # late once b >= 3
        out.append(rows)
    return out


def counts(events: Any) -> Any:
    from pyspark.sql import functions as F

    return (
        events.withWatermark("event_time", "10 seconds")
        .groupBy(F.window("event_time", "5 seconds"))
        .count()
    )


def by_hand(spark: Any, root: Path) -> list[Any]:
    folder = root / "in"
    folder.mkdir(parents=True)
    for i, rows in enumerate(batches()):
        path = folder / f"part-{i:04d}.json"
        path.write_text(
            "".join(json.dumps({"event_time": r[0].isoformat() + "Z"}) + "\n" for r in rows)
        )
        stamp = (1_700_000_000 + i) * 1_000_000_000
        os.utime(path, ns=(stamp, stamp))
    name = "bench_" + root.name.replace("-", "_")
    query = (
        counts(
            spark.readStream.schema("event_time timestamp")
            .option("maxFilesPerTrigger", 1)
            .json(str(folder))
        )
        .writeStream.format("memory")
        .queryName(name)
        .outputMode("append")
        .option("checkpointLocation", str(root / "checkpoint"))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination()
    return spark.sql(f"SELECT * FROM {name}").collect()  # type: ignore[no-any-return]


def step_by_step(spark: Any, root: Path) -> list[Any]:
    folder = root / "in"
    folder.mkdir(parents=True)
    name = "bench_" + root.name.replace("-", "_")
    query = (
        counts(spark.readStream.schema("event_time timestamp").json(str(folder)))
        .writeStream.format("memory")
        .queryName(name)
        .outputMode("append")
        .option("checkpointLocation", str(root / "checkpoint"))
        .trigger(processingTime="0 seconds")
        .start()
    )
    for i, rows in enumerate(batches()):
        tmp = folder / f".part-{i:04d}.json"
        tmp.write_text(
            "".join(json.dumps({"event_time": r[0].isoformat() + "Z"}) + "\n" for r in rows)
        )
        tmp.rename(folder / f"part-{i:04d}.json")
        query.processAllAvailable()
    query.stop()
    return spark.sql(f"SELECT * FROM {name}").collect()  # type: ignore[no-any-return]


def harness(spark: Any, root: Path) -> None:
    from streamlab.testing import AddData, CheckAnswer, ModelAnswer, StreamTest

    # The check is the model's answer: with no-data batches between data batches, the late
    # watermark runs one batch ahead of AvailableNow's, so the rows may differ from by_hand's.
    steps: list[Any] = [AddData(rows) for rows in batches()]
    steps.append(CheckAnswer(ModelAnswer()))
    StreamTest(spark, counts, schema="event_time timestamp", workdir=root).run(*steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side (default 3)")
    args = parser.parse_args()
    from streamlab.spark.session import lab_session

    work = Path(tempfile.mkdtemp(prefix="bench-harness-"))
    spark = lab_session(work / "lab", attach=False, config={"spark.sql.shuffle.partitions": "2"})
    sides = {"by_hand": by_hand, "step_by_step": step_by_step, "harness": harness}
    runs: dict[str, list[float]] = {name: [] for name in sides}
    by_hand(spark, work / "warmup")  # JIT and first-query costs, on none of the sides
    for i in range(args.repeat):
        for name, side in sides.items():
            t0 = time.perf_counter()
            side(spark, work / f"{name}-{i}")
            runs[name].append(time.perf_counter() - t0)
    median = {name: statistics.median(times) for name, times in runs.items()}
    print(
        json.dumps(
            {
                "benchmark": "harness",
                "batches": 10,
                "repeat": args.repeat,
                "load_average": round(os.getloadavg()[0], 1),
                **{f"{name}_s": round(t, 3) for name, t in median.items()},
                "ratio": round(median["harness"] / median["by_hand"], 3),
                "ratio_step_by_step": round(median["harness"] / median["step_by_step"], 3),
                **{f"{name}_runs_s": [round(x, 3) for x in t] for name, t in runs.items()},
            }
        )
    )


if __name__ == "__main__":
    main()

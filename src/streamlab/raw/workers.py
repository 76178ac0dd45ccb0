"""The worker processes of a large setup: each generates chunks of batches and stages them.

Batches are seeded one by one, so any process can generate any of them. A worker reads its
task as JSON on standard input: the lab root, the generator's settings, its chunks of batch
numbers and the batches missing per source. For each chunk, in order, it stages the missing
batches beside their places (:func:`streamlab.raw.landing.stage`) and prints one JSON line of
``[source, batch, staged folder]``; the setup that started it lands them, in order. A failure
is one line ``{"error": "..."}`` and exit status 2.

    python -m streamlab.raw.workers < task.json
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import orjson

from streamlab.errors import StreamlabError
from streamlab.lab.paths import SOURCES, LabPaths
from streamlab.raw.config import GeneratorConfig
from streamlab.raw.generator import generate
from streamlab.raw.landing import stage


def stage_batches(
    paths: LabPaths, cfg: GeneratorConfig, batches: range, missing: Mapping[str, Sequence[int]]
) -> list[tuple[str, int, Path]]:
    """Generate ``batches`` and stage the missing ones: ``(source, batch, staged folder)``.

    On a failure, what this call staged is removed.
    """
    wanted = {s: set(v) for s, v in missing.items()}
    staged: list[tuple[str, int, Path]] = []
    try:
        for batch in generate(cfg, SOURCES, batches=batches):
            if batch.batch in wanted.get(batch.source, ()):
                staged.append((batch.source, batch.batch, stage(paths, batch)))
    except BaseException:
        for _, _, folder in staged:
            shutil.rmtree(folder, ignore_errors=True)
        raise
    return staged


def task(
    paths: LabPaths,
    cfg: GeneratorConfig,
    chunks: Sequence[range],
    missing: Mapping[str, Sequence[int]],
) -> bytes:
    """Return the JSON a worker reads on standard input."""
    return orjson.dumps(
        {
            "root": str(paths.root),
            "generator": cfg.to_dict(),
            "chunks": [[c.start, c.stop] for c in chunks],
            "missing": {s: list(v) for s, v in missing.items()},
        }
    )


def main() -> int:
    """Run the task on standard input; return the exit status."""
    try:
        spec = orjson.loads(sys.stdin.buffer.read())
        paths = LabPaths.resolve(spec["root"])
        cfg = GeneratorConfig.from_dict(spec["generator"])
        for start, stop in spec["chunks"]:
            staged = stage_batches(paths, cfg, range(start, stop), spec["missing"])
            line = orjson.dumps([[s, n, str(p)] for s, n, p in staged])
            sys.stdout.buffer.write(line + b"\n")
            sys.stdout.buffer.flush()
    except StreamlabError as exc:
        sys.stdout.buffer.write(orjson.dumps({"error": str(exc)}) + b"\n")
        sys.stdout.buffer.flush()
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

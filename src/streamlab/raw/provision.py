"""Setting up a lab: the guide's Steps 1-4 (databases, events, clicks, checkpoint folders).

Setting up is idempotent: batches that have landed are kept, missing ones are generated, and
asking for more batches than a lab has extends it (a running pipeline then picks up only the
new ones). A lab generated with other settings is never touched without ``reset=True``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from streamlab.errors import StreamlabError
from streamlab.lab.catalog import DATABASES, create_databases, database_path
from streamlab.lab.home import check_home, home_file, record_home
from streamlab.lab.lock import RootLock, command_line
from streamlab.lab.paths import CHECKPOINTS, SOURCES, LabPaths
from streamlab.raw.generator import GeneratorConfig, generate
from streamlab.raw.landing import DATA_FILE, landed_batches, publish, read_lab, stage, write_lab

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

Progress = Callable[[int, int], None]
"""Called with (batches written, batches to write) as setup goes."""


@dataclass(frozen=True)
class SetupResult:
    """What a setup did."""

    root: str
    databases: list[str]
    checkpoints: list[str]
    generated: dict[str, list[int]] = field(default_factory=dict)
    """Batch numbers written now, per source; empty lists when everything had landed."""
    config: dict[str, object] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        """Whether any batch was written."""
        return any(self.generated.values())


def reset_lab(paths: LabPaths) -> None:
    """Remove everything streamlab wrote under the lab root: data, checkpoints, tables, logs, cache.

    The record of where the lab lives goes last: a reset cut short is still refused elsewhere.
    """
    for folder in [
        *(paths.source(s) for s in SOURCES),
        paths.checkpoints,
        paths.warehouse,
        paths.logs,
    ]:
        if folder.exists():
            shutil.rmtree(folder)
    # A reader may be filling the cache as it goes: what it leaves is named by content.
    shutil.rmtree(paths.cache, ignore_errors=True)
    paths.lab_file.unlink(missing_ok=True)
    home_file(paths).unlink(missing_ok=True)


def check_compatible(paths: LabPaths, cfg: GeneratorConfig) -> GeneratorConfig | None:
    """Fail if the lab at ``paths`` holds data generated with other settings than ``cfg``."""
    existing = read_lab(paths)
    if existing is None:
        stray = [s for s in SOURCES if landed_batches(paths, s)]
        if stray:
            raise StreamlabError(
                f"{paths.root} holds {', '.join(stray)} batches that streamlab did not record: "
                "pass --reset to start over, or choose another --root"
            )
        return None
    if existing.fingerprint() != cfg.fingerprint():
        changed = [
            k for k, v in cfg.to_dict().items() if k != "batches" and existing.to_dict().get(k) != v
        ]
        raise StreamlabError(
            f"the lab at {paths.root} was generated with other settings ({', '.join(changed)}): "
            "pass --reset to start over, or choose another --root"
        )
    return existing


def setup_lab(
    paths: LabPaths,
    cfg: GeneratorConfig,
    *,
    spark: SparkSession | None = None,
    reset: bool = False,
    progress: Progress | None = None,
) -> SetupResult:
    """Run Steps 1-4 of the guide for the lab at ``paths``.

    Args:
        paths: the lab root.
        cfg: how to generate the data; must match the lab's own unless ``reset``.
        spark: creates the databases through this session; without one they are created as
            folders in the lab's warehouse, which is all the lab's catalog needs.
        reset: remove the lab's data, checkpoints and tables first.
        progress: called as batches are written.

    """
    paths.ensure_writable()
    with RootLock(paths, command_line()):
        return _setup(paths, cfg, spark, reset, progress)


def _setup(
    paths: LabPaths,
    cfg: GeneratorConfig,
    spark: SparkSession | None,
    reset: bool,
    progress: Progress | None,
) -> SetupResult:
    if reset:
        reset_lab(paths)
    # A lab copied or moved from another root is refused before anything is written.
    check_home(paths, writing=True)
    existing = check_compatible(paths, cfg)

    # Step 1: databases.
    if spark is not None:
        databases = create_databases(spark, paths)
    else:
        for database in DATABASES:
            database_path(paths, database).mkdir(parents=True, exist_ok=True)
        databases = list(DATABASES)

    # Steps 2 and 3: events, impressions and clicks, one batch folder each.
    target = max(cfg.batches, existing.batches if existing else 0)
    record = GeneratorConfig(**{**cfg.__dict__, "batches": target})
    landed = {s: set(landed_batches(paths, s)) for s in SOURCES}
    missing = {s: [b for b in range(target) if b not in landed[s]] for s in SOURCES}
    _write_batches(paths, record, missing, progress)
    write_lab(paths, record)
    record_home(paths)

    # Step 4: checkpoint folders.
    for name in CHECKPOINTS:
        paths.checkpoint(name).mkdir(parents=True, exist_ok=True)
    paths.logs.mkdir(parents=True, exist_ok=True)
    return SetupResult(
        root=str(paths.root),
        databases=databases,
        checkpoints=list(CHECKPOINTS),
        generated=missing,
        config=record.to_dict(),
    )


PARALLEL_EVENTS = 1_000_000
"""Setup generates the batches in a process per core (up to 4) when it writes this many events."""
CHUNK_EVENTS = 250_000
"""About how many events each worker process generates and stages at a time."""


def _write_batches(
    paths: LabPaths, cfg: GeneratorConfig, missing: dict[str, list[int]], progress: Progress | None
) -> None:
    """Generate and land every missing batch, in order.

    Batches are seeded one by one, so any process can generate any of them. A large lab is
    generated by worker processes that stage whole chunks of batches beside their places; this
    process lands them, in order, each newer than the last.
    """
    todo = sorted({b for batches in missing.values() for b in batches})
    if not todo:
        return
    total, done = sum(len(v) for v in missing.values()), 0
    latest: dict[str, int] = {}  # per source, the newest data file's mtime: read once

    def landed(source: str, number: int, staged: Path) -> None:
        nonlocal done
        folder = publish(paths, source, number, staged, latest.get(source))
        latest[source] = (folder / DATA_FILE).stat().st_mtime_ns
        done += 1
        if progress:
            progress(done, total)

    workers = min(os.cpu_count() or 1, 4)
    if workers < 2 or len(todo) < 2 or len(todo) * cfg.events_per_batch < PARALLEL_EVENTS:
        wanted = {s: set(v) for s, v in missing.items()}
        for batch in generate(cfg, SOURCES, batches=range(todo[0], todo[-1] + 1)):
            if batch.batch in wanted[batch.source]:
                landed(batch.source, batch.batch, stage(paths, batch))
        return
    step = max(1, CHUNK_EVENTS // max(1, cfg.events_per_batch))
    chunks = [range(a, min(a + step, todo[-1] + 1)) for a in range(todo[0], todo[-1] + 1, step)]
    _write_in_workers(paths, cfg, chunks, missing, min(workers, len(chunks)), landed)


def _write_in_workers(
    paths: LabPaths,
    cfg: GeneratorConfig,
    chunks: list[range],
    missing: dict[str, list[int]],
    workers: int,
    landed: Callable[[str, int, Path], None],
) -> None:
    """Stage ``chunks`` in worker processes and land them in order as they come.

    The k-th chunk goes to worker k mod ``workers``. On any failure the workers are stopped
    and what they staged is removed; what landed stays.
    """
    from streamlab.raw.workers import task

    procs = []
    for w in range(workers):
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlab.raw.workers"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        procs.append(proc)
        assert proc.stdin is not None
        proc.stdin.write(task(paths, cfg, chunks[w::workers], missing))
        proc.stdin.close()
    staged: list[Path] = []
    published: set[Path] = set()
    finished = False
    try:
        for k in range(len(chunks)):
            proc = procs[k % workers]
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                proc.wait()
                assert proc.stderr is not None
                last = (proc.stderr.read().decode(errors="replace").strip().splitlines() or [""])[
                    -1
                ]
                raise StreamlabError(
                    f"a setup worker stopped ({last or f'exit status {proc.returncode}'}): "
                    "run setup again; the batches already landed are kept"
                )
            reply = orjson.loads(line)
            if isinstance(reply, dict):
                raise StreamlabError(str(reply.get("error")))
            for source, number, folder in reply:
                staged.append(Path(folder))
                landed(source, number, Path(folder))
                published.add(Path(folder))
        finished = True
    finally:
        for proc in procs:
            if not finished and proc.poll() is None:
                proc.kill()
            proc.wait()
            for pipe in (proc.stdout, proc.stderr):
                if pipe is not None:
                    pipe.close()
        for folder in staged:
            if folder not in published:
                shutil.rmtree(folder, ignore_errors=True)
        for proc in procs:  # staged by a worker but never reported
            for source in SOURCES:
                for folder in paths.source(source).glob(f".batch_*.tmp-{proc.pid}"):
                    shutil.rmtree(folder, ignore_errors=True)

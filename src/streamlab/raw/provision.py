"""Setting up a lab: the guide's Steps 1-4 (databases, events, clicks, checkpoint folders).

Setting up is idempotent: batches that have landed are kept, missing ones are generated, and
asking for more batches than a lab has extends it (a running pipeline then picks up only the
new ones). A lab generated with other settings is never touched without ``reset=True``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from streamlab.errors import StreamlabError
from streamlab.lab.catalog import DATABASES, create_databases, database_path
from streamlab.lab.home import check_home, home_file, record_home
from streamlab.lab.lock import RootLock, command_line
from streamlab.lab.paths import CHECKPOINTS, SOURCES, LabPaths
from streamlab.raw.generator import GeneratorConfig, generate
from streamlab.raw.landing import DATA_FILE, land, landed_batches, read_lab, write_lab

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
    todo = sorted({b for batches in missing.values() for b in batches})
    total, done = sum(len(v) for v in missing.values()), 0
    if todo:
        wanted = {s: set(v) for s, v in missing.items()}
        latest: dict[str, int] = {}  # per source, the newest data file's mtime: read once
        for batch in generate(record, SOURCES, batches=range(todo[0], todo[-1] + 1)):
            if batch.batch in wanted[batch.source]:
                folder = land(paths, batch, newer_than_ns=latest.get(batch.source))
                latest[batch.source] = (folder / DATA_FILE).stat().st_mtime_ns
                done += 1
                if progress:
                    progress(done, total)
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

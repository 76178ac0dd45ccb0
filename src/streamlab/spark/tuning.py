"""Spark settings chosen by the size of the work: the JIT and the state store.

Two settings help a small lab and hurt a large one, so streamlab picks them from how many rows
a run will read (``benchmarks/bench_tuning.py`` measures both sides; docs/performance.md):

- **The JIT.** A JVM that compiles with C1 only (``-XX:TieredStopAtLevel=1``) warms up with
  far less CPU: the guide's 1,000 events run in about two thirds of the JVM CPU time. It never
  reaches C2's optimized code, which a long run repays.
- **The state store.** Spark's default (HDFS-backed) provider keeps each partition's state as
  a hash map on the JVM heap and writes a delta file per batch: the fastest for small state.
  RocksDB keeps state off the heap, which a state of millions of keys needs (deduplication
  keys, join buffers), and costs native calls per row.

A stateful query's checkpoint records its state store provider and its shuffle partitions in
every ``offsets/N`` entry, and Spark restores both from there on a restart
(``OffsetSeqMetadata.relevantSQLConfs``), so the choice made at a query's first run is kept,
whatever the session says later.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from streamlab.lab.paths import LabPaths

HDFS_PROVIDER = "org.apache.spark.sql.execution.streaming.state.HDFSBackedStateStoreProvider"
ROCKSDB_PROVIDER = "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
PROVIDER_KEY = "spark.sql.streaming.stateStore.providerClass"
# C1 alone shrinks the JVM's code cache to 48 MB, which a long run fills: the JIT then stops
# for good and the JVM prints a warning. Keep the tiered JIT's 240 MB.
C1_ONLY = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m"


@dataclass(frozen=True)
class TuningPolicy:
    """Where streamlab switches each setting (``benchmarks/bench_tuning.py`` measures them)."""

    c1_only_below_rows: int = 100_000
    """Rows a run reads below which the JVM compiles with C1 only (short runs). The guide's
    lab (about 1,000 rows) measured 70 -> 46 JVM CPU seconds with C1 only."""
    rocksdb_from_state_rows: int = 1_000_000
    """Expected state rows of a query from which its state store is RocksDB."""


@dataclass(frozen=True)
class WorkSize:
    """How much a run will read, from the lab's landed batches."""

    rows: int
    """Landed rows of the largest source (events, normally)."""
    rows_per_batch: int
    """Rows of its largest landed batch."""

    @property
    def state_rows(self) -> int:
        """A bound on a query's state rows.

        The deduplication keeps the keys of the batches within the watermark delay and the
        lateness: about four batches with the guide's settings.
        """
        return 4 * self.rows_per_batch


def work_size(paths: LabPaths) -> WorkSize:
    """Return the size of the lab at ``paths`` from its batches' manifests (no data read)."""
    best = WorkSize(0, 0)
    for source in ("events", "impressions", "clicks"):
        rows = []
        for manifest in sorted((paths.root / source).glob("batch_*/_manifest.json")):
            try:
                rows.append(int(json.loads(manifest.read_text()).get("rows", 0)))
            except (OSError, ValueError):
                rows.append(_line_count(manifest.parent))
        if sum(rows) > best.rows:
            best = WorkSize(sum(rows), max(rows))
    return best


def _line_count(batch: Path) -> int:
    return sum(f.read_bytes().count(b"\n") for f in batch.glob("part-*.json"))


def c1_only(size: WorkSize, policy: TuningPolicy | None = None) -> bool:
    """Return whether a run of ``size`` should compile with C1 only."""
    return size.rows < (policy or TuningPolicy()).c1_only_below_rows


def state_store_provider(size: WorkSize, policy: TuningPolicy | None = None) -> str:
    """Return the state store provider a query's first run over ``size`` should use."""
    big = size.state_rows >= (policy or TuningPolicy()).rocksdb_from_state_rows
    return ROCKSDB_PROVIDER if big else HDFS_PROVIDER


def session_settings(
    paths: LabPaths,
    java_options: str,
    policy: TuningPolicy | None = None,
    *,
    choose_state_store: bool = False,
) -> dict[str, str]:
    """Return the Spark settings for the pipelines of the lab at ``paths``.

    ``java_options`` are the session's own (time zone, logging); the JIT flag is added to them
    for a small lab. With ``choose_state_store`` the state store provider is chosen by the
    state size too; otherwise the session's (RocksDB) stays.
    """
    size = work_size(paths)
    options = f"{java_options} {C1_ONLY}" if c1_only(size, policy) else java_options
    settings = {"spark.driver.extraJavaOptions": options}
    if choose_state_store:
        settings[PROVIDER_KEY] = state_store_provider(size, policy)
    return settings


def checkpoint_provider(checkpoint: Path) -> str | None:
    """Return the state store provider a query's checkpoint was started with, if any."""
    offsets = checkpoint / "offsets"
    if not offsets.is_dir():
        return None
    for entry in sorted(p for p in offsets.iterdir() if p.name.isdigit()):
        try:
            meta = json.loads(entry.read_text().splitlines()[1])
        except (OSError, IndexError, ValueError):
            continue
        provider = (meta.get("conf") or {}).get(PROVIDER_KEY)
        return str(provider) if provider else None
    return None

"""The lab root and every folder in it, as the setup guide lays them out."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from streamlab.errors import StreamlabError

_DBFS_MOUNT = Path("/dbfs")

DEFAULT_ROOT = "/tmp/streaming"
"""The guide's own root (``/tmp/streaming/...``); ``--root`` or ``STREAMLAB_ROOT`` changes it."""

SOURCES = ("events", "impressions", "clicks")
"""The three generated data sets, one ``batch_NNNN/`` folder per batch under each."""

PIPELINES = ("watermark_test", "dedup", "windowed_agg", "stream_join", "late_data")
"""The guide's exercises, in the order ``streamlab run`` lists them: the one list of pipelines."""

CHECKPOINTS = PIPELINES
"""The guide's Step 4 checkpoint folders, one per exercise."""


@dataclass(frozen=True)
class LabPaths:
    """Where a lab keeps its data, checkpoints, tables and logs."""

    root: Path
    """The lab root; everything streamlab writes lives below it."""

    @classmethod
    def resolve(cls, root: str | os.PathLike[str] | None = None) -> LabPaths:
        """Return the paths for ``root``, else ``$STREAMLAB_ROOT``, else ``/tmp/streaming``."""
        chosen = root if root is not None else os.environ.get("STREAMLAB_ROOT") or DEFAULT_ROOT
        text = str(chosen)
        if text.startswith("dbfs:"):
            # On Databricks, DBFS is mounted at /dbfs for Python and Spark alike (and volumes at
            # /Volumes); elsewhere a dbfs: root is emulated on the local disk, as the notebook
            # runner does.
            text = text[len("dbfs:") :]
            if _DBFS_MOUNT.is_dir() and not text.startswith("/Volumes/"):
                text = str(_DBFS_MOUNT / text.lstrip("/"))
        text = text.removeprefix("file:")
        if not text.strip():
            raise StreamlabError("the lab root is empty: pass --root PATH or set STREAMLAB_ROOT")
        return cls(Path(text).expanduser().absolute())

    def source(self, name: str) -> Path:
        """Return the folder of a generated data set (``events``, ``impressions``, ``clicks``)."""
        if name not in SOURCES:
            raise StreamlabError(f"unknown source {name!r}: choose one of {', '.join(SOURCES)}")
        return self.root / name

    def batch(self, source: str, batch: int) -> Path:
        """Return the folder of one batch, ``<source>/batch_NNNN``."""
        return self.source(source) / f"batch_{batch:04d}"

    def checkpoint(self, name: str) -> Path:
        """Return the checkpoint folder of an exercise or query."""
        return self.checkpoints / name

    @property
    def checkpoints(self) -> Path:
        """Folder holding one checkpoint folder per streaming query."""
        return self.root / "checkpoints"

    @property
    def warehouse(self) -> Path:
        """The tables of the lab's databases: ``<db>.db/<table>/``."""
        return self.root / "warehouse"

    @property
    def cache(self) -> Path:
        """What streamlab can compute again from the lab's files (the model's parsed columns)."""
        return self.root / "cache"

    @property
    def logs(self) -> Path:
        """Progress logs and run records."""
        return self.root / "logs"

    @property
    def lab_file(self) -> Path:
        """The record of how the lab's data was generated (seed, base time, sizes)."""
        return self.root / "lab.json"

    def ensure_writable(self) -> None:
        """Create the root if needed and fail with one clear line if it cannot be written."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / ".streamlab-write-probe"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise StreamlabError(
                f"cannot write to the lab root {self.root} ({reason}): "
                "pass --root with a writable folder or set STREAMLAB_ROOT"
            ) from exc

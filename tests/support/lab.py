"""The labs tests use: the guide's lab at a fixed base time, and file snapshots."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from streamlab.lab.paths import LabPaths
from streamlab.raw.generator import GeneratorConfig, parse_base_time
from streamlab.raw.provision import setup_lab
from streamlab.run.runner import RunResult, run_pipelines

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

BASE_TIME = parse_base_time("2026-01-01T09:00:00")


def snapshot(root: Path) -> dict[str, str]:
    """Return a digest of every file under ``root``, to show that nothing was touched."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@dataclass(frozen=True)
class GuideRun:
    """The guide's lab after every pipeline ran once: for tests that only read it."""

    paths: LabPaths
    result: RunResult


def run_guide_lab(spark: SparkSession, root: Path) -> GuideRun:
    """Set up the guide's lab at ``root`` (fixed base time) and run every pipeline once."""
    paths = LabPaths.resolve(root)
    setup_lab(paths, GeneratorConfig(base_time=BASE_TIME))
    return GuideRun(paths, run_pipelines(spark, paths))

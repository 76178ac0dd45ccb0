"""The workbook's test lab: small enough that 40 exercises fit the suite's budget."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from streamlab.exercises import EXERCISES, Exercise
from streamlab.lab.paths import LabPaths
from streamlab.raw.generator import GeneratorConfig
from streamlab.raw.provision import setup_lab
from tests.support.lab import BASE_TIME

SMALL = GeneratorConfig(
    seed=17,
    base_time=BASE_TIME,
    batches=6,
    events_per_batch=8,
    impressions_per_batch=5,
    clicks_per_batch=4,
    duplicate_share=0.25,
)
"""Six batches of a handful of rows: late events, re-sent copies and orphan clicks all occur
(a duplicate share of 25% makes two copies a batch), and each check is a few micro-batches."""

FULL = os.environ.get("STREAMLAB_EXERCISES_FULL") == "1"
"""Whether to run the three-seed sweep of every reference solution (slow: minutes)."""
SEEDS = (17, 29, 41)
"""The seeds of the full sweep."""

QUERIES = [ex for ex in EXERCISES if ex.kind == "query"]
ANSWERS = [ex for ex in EXERCISES if ex.kind == "answer"]


def small_lab(root: Path, seed: int = 17, **changes: object) -> LabPaths:
    """Set up the small lab at ``root`` with ``seed`` and return its paths."""
    paths = LabPaths.resolve(root)
    setup_lab(paths, replace(SMALL, seed=seed, **changes))  # type: ignore[arg-type]
    return paths


def write_solution(folder: Path, ex: Exercise, source: str, name: str = "solution") -> Path:
    """Write ``source`` as a learner's file for ``ex`` and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}_{ex.file_name}"
    path.write_text(source)
    return path

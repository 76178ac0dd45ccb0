"""The public API is what ``__all__`` says, and ruff and mypy are clean."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import streamlab

ROOT = Path(__file__).resolve().parents[1]


def test_all_lists_exactly_the_public_names() -> None:
    public = {n for n in dir(streamlab) if not n.startswith("_") and n not in {"annotations"}}
    modules = {n for n in public if type(getattr(streamlab, n)).__name__ == "module"}
    assert set(streamlab.__all__) - {"__version__"} == public - modules
    for name in streamlab.__all__:
        assert getattr(streamlab, name) is not None


def test_ruff_is_clean() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "src", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_strict_is_clean() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr

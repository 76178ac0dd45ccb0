"""The public API is what ``__all__`` says."""

from __future__ import annotations

from pathlib import Path

import streamlab

ROOT = Path(__file__).resolve().parents[1]


def test_all_lists_exactly_the_public_names() -> None:
    public = {n for n in dir(streamlab) if not n.startswith("_") and n not in {"annotations"}}
    modules = {n for n in public if type(getattr(streamlab, n)).__name__ == "module"}
    assert set(streamlab.__all__) - {"__version__"} == public - modules
    for name in streamlab.__all__:
        assert getattr(streamlab, name) is not None

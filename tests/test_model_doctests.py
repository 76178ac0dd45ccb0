"""The runnable examples in the model's docstrings."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = (
    "watermark",
    "windows",
    "events",
    "dedup",
    "aggregate",
    "join",
    "simulate",
    "explain",
    "landed",
    "story",
    "modes",
    "session",
    "distinct",
    "grouping",
    "fates",
    "chain",
    "joins",
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(f"streamlab.model.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0

"""The runnable examples in the docstrings of streamlab.testing and streamlab.spark.errors."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = (
    "streamlab.testing.plan",
    "streamlab.testing.rows",
    "streamlab.testing.steps",
    "streamlab.testing.strategies",
    "streamlab.spark.errors",
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0

"""Helpers, no tests: running a case ported from Spark's own suites against the suite's rows
and the model's answer, in one streaming query."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pyspark.sql import DataFrame

from streamlab.testing import CheckAnswer, CheckNewAnswer, ExpectStateRows, ModelAnswer
from streamlab.testing.steps import Step


def checked_by_model(steps: Sequence[Step]) -> list[Step]:
    """Return the steps with the model's answer checked after each of the suite's checks.

    ``CheckAnswer(ModelAnswer())`` compares every row so far, so at each of the suite's checks
    the model has emitted what Spark emitted, batch for batch; ``ExpectStateRows`` is followed
    by the model's count of state rows.
    """
    out: list[Step] = []
    for s in steps:
        out.append(s)
        if isinstance(s, CheckNewAnswer | CheckAnswer):
            out.append(CheckAnswer(ModelAnswer()))
        elif isinstance(s, ExpectStateRows):
            out.append(ExpectStateRows(ModelAnswer()))
    return out


def once(stream_test: Any, query: Callable[..., DataFrame], steps: list[Step], **kw: Any) -> None:
    """Run the suite's steps and the model's answer in one query (``kw``: its inputs)."""
    stream_test(query, **kw).run(*checked_by_model(steps))

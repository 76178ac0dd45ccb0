"""The steps of a stream test, named as in Spark's own ``StreamTest`` suites.

Each step is a small frozen value; :meth:`streamlab.testing.StreamTest.run` executes them in
order against a real query. Rows are tuples or dicts; timestamps may be ``datetime`` or text;
a window struct compares equal to a ``(start, end)`` pair.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

Row = tuple[Any, ...] | Mapping[str, Any]
"""One row: a tuple in column order, or a dict by column name."""


@dataclass(frozen=True)
class ModelAnswer:
    """Stands for the rows streamlab's model of Spark's event-time rules expects.

    >>> CheckNewAnswer(ModelAnswer())
    CheckNewAnswer(rows=ModelAnswer())
    """


Expected = Sequence[Row] | ModelAnswer | None
"""Rows to compare with, the model's answer, or ``None``: the test's default."""


@dataclass(frozen=True)
class AddData:
    """Land ``rows`` as exactly one micro-batch of input ``to`` and run what Spark runs.

    After the data batch, Spark runs its no-data batch when the watermark moved, as
    ``processAllAvailable()`` does.
    """

    rows: Sequence[Row]
    """The batch's rows; an empty list is a batch with no rows."""
    to: str | None = None
    """The input's name; may be left out when the query has one input."""


@dataclass(frozen=True)
class CheckNewAnswer:
    """Compare the rows emitted since the previous check of rows (order ignored)."""

    rows: Expected = None
    """The expected rows, or ``ModelAnswer()``."""


@dataclass(frozen=True)
class CheckAnswer:
    """Compare all rows emitted so far (order ignored)."""

    rows: Expected = None
    """The expected rows, or ``ModelAnswer()``."""


@dataclass(frozen=True)
class CheckLastBatch:
    """Compare the rows of the last micro-batch that ran (order ignored)."""

    rows: Expected = None
    """The expected rows, or ``ModelAnswer()``."""


@dataclass(frozen=True)
class ExpectWatermark:
    """Check the event-time watermark the next batch runs with."""

    at: datetime | str | float | ModelAnswer
    """The watermark: ``datetime`` or text (UTC), epoch seconds, or ``ModelAnswer()``."""


@dataclass(frozen=True)
class ExpectLate:
    """Check what the last data batch dropped behind the watermark.

    A number is compared with Spark's ``numRowsDroppedByWatermark`` summed over the query's
    stateful operators (an aggregation counts dropped rows after partial aggregation, one per
    group). A list of rows names the input rows whose event time was behind the watermark the
    batch ran with.
    """

    rows: int | Sequence[Row]
    """How many rows, or which input rows."""
    to: str | None = None
    """For a list of rows: the input they belong to (when the query has several)."""


@dataclass(frozen=True)
class ExpectStateRows:
    """Check the rows the query keeps in state after the last batch, over all operators."""

    n: int | ModelAnswer
    """The total of ``numRowsTotal`` over the stateful operators, or ``ModelAnswer()``."""


@dataclass(frozen=True)
class StopStream:
    """Stop the query cleanly; its checkpoint stays."""


@dataclass(frozen=True)
class StartStream:
    """Start the query again from its checkpoint (optionally a changed version of it)."""

    query: Callable[..., Any] | None = None
    """A new version of the query to restart on the same checkpoint; ``None`` keeps it."""


@dataclass(frozen=True)
class CrashAndRestart:
    """Leave the checkpoint as a process killed in the last batch would, then restart.

    The last batch's offsets stay written and its commit goes, and the sink output of that
    batch is discarded, so Spark runs the batch again on restart.
    """


Step = (
    AddData
    | CheckNewAnswer
    | CheckAnswer
    | CheckLastBatch
    | ExpectWatermark
    | ExpectLate
    | ExpectStateRows
    | StopStream
    | StartStream
    | CrashAndRestart
)
"""Any step."""


def describe(step: Step) -> str:
    """Return a short name of ``step`` for messages, such as ``AddData(3 rows, to='clicks')``.

    >>> describe(AddData([(1,), (2,)], to="clicks"))
    "AddData(2 rows, to='clicks')"
    """
    if isinstance(step, AddData):
        n = len(step.rows)
        to = f", to={step.to!r}" if step.to else ""
        return f"AddData({n} row{'s' if n != 1 else ''}{to})"
    if isinstance(step, CheckNewAnswer | CheckAnswer | CheckLastBatch):
        what = "ModelAnswer()" if isinstance(step.rows, ModelAnswer) else "rows"
        return f"{type(step).__name__}({what})"
    if isinstance(step, ExpectWatermark):
        return f"ExpectWatermark({step.at!r})"
    if isinstance(step, ExpectLate):
        return f"ExpectLate({step.rows if isinstance(step.rows, int) else 'rows'})"
    if isinstance(step, ExpectStateRows):
        return f"ExpectStateRows({step.n!r})"
    return f"{type(step).__name__}()"

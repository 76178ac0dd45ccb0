"""The model as oracle: a query's plan -> a shape the model knows -> the rows Spark must emit.

This is the only part of :mod:`streamlab.testing` that talks to :mod:`streamlab.model`:
``recognise`` reads the analyzed plan into a shape (``shapes``), ``predict`` runs the model for
it. It recognises these shapes in the analyzed plan:

* a windowed aggregation (tumbling or sliding, ``count``/``sum``/``min``/``max``/``avg``),
  in append mode, optionally after ``dropDuplicatesWithinWatermark``; aggregations in update
  and complete mode, session windows, keys without a window, ``dropDuplicates``;
* ``dropDuplicatesWithinWatermark``;
* an inner, left outer, right outer, full outer or left semi stream-stream join on equal keys
  within a time range, on equal windows or on equal event times, either side optionally after
  its own ``dropDuplicatesWithinWatermark``;
* chained stateful operators: a window aggregation in append mode after a join or after
  another window aggregation (any depth), each operator with the watermark the one before it
  outputs (``streamlab.model.chain``).

Anything else is refused in one line naming the operator the model does not cover. The
prediction runs the model over the batches landed so far, with the plan of batches a live
trigger produces (a no-data batch after each data batch when the watermark moved).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from streamlab.model.watermark import Policy
from streamlab.testing import plan as P
from streamlab.testing.oracle.predict import predict
from streamlab.testing.oracle.recognise import _recognise
from streamlab.testing.oracle.shapes import (
    Agg,
    Landed,
    ModelBatch,
    ModesPlan,
    NotModelled,
    Prediction,
    Shape,
    Side,
)

__all__ = [
    "Agg",
    "Landed",
    "ModelBatch",
    "ModesPlan",
    "NotModelled",
    "Oracle",
    "Prediction",
    "Shape",
    "Side",
    "predict",
]


class Oracle:
    """The model of one query: :meth:`predict` gives the expected output for landed data."""

    def __init__(self, shape: Shape, columns: Sequence[str]) -> None:
        self.shape = shape
        """The recognised shape."""
        self.columns = list(columns)
        """The query's output columns."""

    @classmethod
    def from_query(
        cls,
        df: Any,
        inputs: Mapping[str, Any],
        output_mode: str,
        columns: Sequence[str],
    ) -> Oracle:
        """Recognise ``df``'s shape from its analyzed plan, or refuse in one line."""
        policy = Policy.MIN
        try:
            conf = df.sparkSession.conf.get("spark.sql.streaming.multipleWatermarkPolicy", None)
            if conf:
                policy = Policy(str(conf).lower())
        except Exception:  # a session that cannot read the setting: Spark's default
            policy = Policy.MIN
        root = P.parse(P.analyzed_text(df))
        shape = _recognise(root, inputs, output_mode, policy)
        return cls(shape, columns)

    def predict(self, landed: Landed, restarts: frozenset[int] = frozenset()) -> Prediction:
        """Return what the model expects for ``landed`` (every ``AddData`` so far).

        ``restarts`` holds the ``AddData`` numbers (0-based) the query was restarted before.
        """
        return predict(self.shape, landed, restarts)

    def variant(self, **changes: Any) -> Oracle:
        """Return the oracle of the same query with some of its shape changed."""
        return Oracle(replace(self.shape, **changes), self.columns)

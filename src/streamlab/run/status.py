"""Where each pipeline stands: last batch, watermark, state and table rows.

Read from the checkpoints (offsets and commits logs), Spark's state readers
(``state-metadata`` for the operators, ``statestore`` for their rows) and the tables' Parquet
footers. Safe while pipelines run: only committed data is read.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from streamlab.lab.catalog import table_ref
from streamlab.lab.paths import PIPELINES, LabPaths
from streamlab.pipelines.registry import LATE_TABLE, queries_of
from streamlab.run.accounting import state_operators, state_rows
from streamlab.run.checkpoint import committed_batches, planned_batches, read_offsets
from streamlab.run.late import captured_batches
from streamlab.run.tables import row_count

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@dataclass
class OperatorStatus:
    """One stateful operator of a query."""

    operator_id: int
    name: str
    partitions: int
    state_rows: int


@dataclass
class QueryStatus:
    """One query: its progress through the landed batches and its output."""

    name: str
    table: str
    table_rows: int
    last_batch: int | None = None
    """The last committed batch, ``None`` before the first."""
    pending_batch: int | None = None
    """A batch planned but not committed (running now, or interrupted)."""
    watermark: str | None = None
    """The watermark the next batch runs with (UTC)."""
    operators: list[OperatorStatus] = field(default_factory=list)

    @property
    def state_rows(self) -> int:
        """Rows held in state by all of the query's operators."""
        return sum(op.state_rows for op in self.operators)


@dataclass
class PipelineStatus:
    """One pipeline (exercise)."""

    pipeline: str
    queries: list[QueryStatus] = field(default_factory=list)
    late_batches: int | None = None
    """``late_data``: batches of the tumbling windows checked for late rows."""
    late_rows: int | None = None
    """``late_data``: rows in ``late_events``."""

    def to_dict(self) -> dict[str, Any]:
        """Return the status as JSON-ready data."""
        data = asdict(self)
        for query, status in zip(data["queries"], self.queries, strict=True):
            query["state_rows"] = status.state_rows
        return data


def _format_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def lab_status(spark: SparkSession | None, paths: LabPaths) -> list[PipelineStatus]:
    """Return the status of every pipeline of the lab at ``paths``.

    Without a session the state rows are left out (no Spark state readers).

    >>> for p in lab_status(spark, LabPaths.resolve()):  # doctest: +SKIP
    ...     print(p.pipeline, [q.last_batch for q in p.queries])
    """
    out = []
    for pipeline in PIPELINES:
        status = PipelineStatus(pipeline)
        for spec in queries_of([pipeline]):
            ckpt = spec.checkpoint(paths)
            query = QueryStatus(spec.name, spec.table, row_count(table_ref(paths, spec.table).path))
            committed = committed_batches(ckpt)
            planned = planned_batches(ckpt)
            if committed:
                query.last_batch = committed[-1]
            if planned and (not committed or planned[-1] > committed[-1]):
                query.pending_batch = planned[-1]
            if planned:
                query.watermark = _format_ms(read_offsets(ckpt, planned[-1]).watermark_ms)
            if spark is not None and committed:
                seen: set[int] = set()
                for op in state_operators(spark, ckpt):
                    op_id, name = int(op["operatorId"]), str(op["operatorName"])
                    if op_id in seen:  # a join lists one line per state store
                        continue
                    seen.add(op_id)
                    query.operators.append(
                        OperatorStatus(
                            op_id,
                            name,
                            int(op["numPartitions"]),
                            state_rows(spark, ckpt, op_id, name),
                        )
                    )
            status.queries.append(query)
        if pipeline == "late_data":
            status.late_batches = len(captured_batches(paths.checkpoint("late_data")))
            status.late_rows = row_count(table_ref(paths, LATE_TABLE).path)
        out.append(status)
    return out

"""Where each pipeline stands: last batch, watermark, state and table rows.

Read from durable state only, and only what the answer needs, so that it takes the same
moment on a lab of a thousand events or of millions: per query the list of ``offsets/`` and
``commits/`` and the newest offsets entry; the stateful operators from the metadata Spark
writes beside their state (``state/<id>/_metadata/metadata``); the rows each held at the last
commit from that batch's record in the progress log, read from the log's end; the tables'
committed files and Parquet footers; the late capture's markers by name. Spark's state readers
(``statestore``) are used only for a query whose last batch has no progress record (a kill
cut it off), and only when a session is at hand. Safe while pipelines run: only committed
data is read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamlab.lab.catalog import table_ref
from streamlab.lab.home import check_home
from streamlab.lab.paths import PIPELINES, LabPaths
from streamlab.pipelines.registry import LATE_TABLE, queries_of
from streamlab.run.accounting import state_operators, state_rows
from streamlab.run.checkpoint import committed_batches, planned_batches, read_offsets
from streamlab.run.late import captured_count
from streamlab.run.progress import progress_log, read_progress_backwards
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


def _operators(checkpoint: Path) -> list[tuple[int, str, int]]:
    """Return ``(id, name, partitions)`` of each stateful operator, from Spark's metadata."""
    out = []
    state = checkpoint / "state"
    for folder in sorted(state.iterdir() if state.is_dir() else [], key=lambda p: p.name):
        meta = folder / "_metadata" / "metadata"
        if not folder.name.isdigit() or not meta.is_file():
            continue
        try:
            data = json.loads(meta.read_text().splitlines()[1])
            info = data["operatorInfo"]
            stores = data.get("stateStoreInfo") or [{}]
            out.append(
                (
                    int(info["operatorId"]),
                    str(info["operatorName"]),
                    int(stores[0]["numPartitions"]),
                )
            )
        except (OSError, IndexError, KeyError, TypeError, ValueError):
            continue
    return sorted(out)


def _query_id(checkpoint: Path) -> str | None:
    try:
        data = json.loads((checkpoint / "metadata").read_text())
    except (OSError, ValueError):
        return None
    return str(data["id"]) if isinstance(data, dict) and "id" in data else None


def _last_records(paths: LabPaths, wanted: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Return, per query id in ``wanted``, the newest progress record of its batch there.

    The log is read from its end and only until every wanted record is found. A record
    without state operators is a restart's idle report, not the batch's: it is passed over.
    """
    found: dict[str, dict[str, Any]] = {}
    if not wanted:
        return found
    for record in read_progress_backwards(progress_log(paths)):
        qid = record.get("id")
        if (
            isinstance(qid, str)
            and qid in wanted
            and qid not in found
            and record.get("batch") == wanted[qid]
            and record.get("state_operators")
        ):
            found[qid] = record
            if len(found) == len(wanted):
                break
    return found


def _state_from_progress(
    operators: list[tuple[int, str, int]], record: dict[str, Any]
) -> list[OperatorStatus] | None:
    """Match the record's operators (plan order) to the checkpoint's, by name and in order."""
    reported = [
        (str(op.get("operator")), int(op.get("rows_total") or 0))
        for op in record.get("state_operators") or []
    ]
    out = []
    for op_id, name, partitions in operators:
        match = next((i for i, (n, _) in enumerate(reported) if n == name), None)
        if match is None:
            return None
        out.append(OperatorStatus(op_id, name, partitions, reported.pop(match)[1]))
    return out


def _state_from_spark(spark: SparkSession, ckpt: Path) -> list[OperatorStatus]:
    out: list[OperatorStatus] = []
    seen: set[int] = set()
    for op in state_operators(spark, ckpt):
        op_id, name = int(op["operatorId"]), str(op["operatorName"])
        if op_id in seen:  # a join lists one line per state store
            continue
        seen.add(op_id)
        out.append(
            OperatorStatus(
                op_id, name, int(op["numPartitions"]), state_rows(spark, ckpt, op_id, name)
            )
        )
    return out


def lab_status(
    spark: SparkSession | None,
    paths: LabPaths,
    *,
    start_spark: Callable[[], SparkSession] | None = None,
) -> list[PipelineStatus]:
    """Return the status of every pipeline of the lab at ``paths``.

    State rows come from the progress log. A query whose last batch has no progress record
    gets them from Spark's state readers: ``spark``, or a session ``start_spark`` starts then
    (only then); without either they are left out.

    >>> for p in lab_status(None, LabPaths.resolve()):  # doctest: +SKIP
    ...     print(p.pipeline, [q.last_batch for q in p.queries])

    Raises:
        LabMovedError: the lab was copied or moved from another root and not relocated (its
            logs name files under the old root).

    """
    check_home(paths, writing=False)
    out = []
    pending: list[tuple[QueryStatus, Path]] = []
    last: dict[str, int] = {}
    stateful: dict[str, tuple[QueryStatus, Path, list[tuple[int, str, int]]]] = {}
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
            if committed:
                operators = _operators(ckpt)
                qid = _query_id(ckpt)
                if operators and qid is not None:
                    last[qid] = committed[-1]
                    stateful[qid] = (query, ckpt, operators)
                elif operators or (ckpt / "state").is_dir():
                    pending.append((query, ckpt))
            status.queries.append(query)
        if pipeline == "late_data":
            status.late_batches = captured_count(paths.checkpoint("late_data"))
            status.late_rows = row_count(table_ref(paths, LATE_TABLE).path)
        out.append(status)
    records = _last_records(paths, last)
    for qid, (query, ckpt, operators) in stateful.items():
        found = _state_from_progress(operators, records[qid]) if qid in records else None
        if found is None:
            pending.append((query, ckpt))
        else:
            query.operators = found
    if pending and spark is None and start_spark is not None:
        spark = start_spark()
    if spark is not None:
        for query, ckpt in pending:
            query.operators = _state_from_spark(spark, ckpt)
    return out

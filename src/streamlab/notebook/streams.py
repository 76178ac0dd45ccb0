"""The streaming queries a notebook run started: who started them, how far they got, the end.

On Databricks a query started with the default trigger runs until someone stops it, and the
next cells run meanwhile. A local run keeps the same habit: every query the notebook starts is
remembered with the cell (and line) that started it. After each cell a query that failed in the
background is reported with that cell; after the last cell every active query processes all the
data that has landed (in the order they were started, so that a bronze -> silver -> gold chain
drains in one pass, then once more for what a watermark released), is stopped, and is summed up
by name, batches, rows and last watermark.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql.streaming.query import StreamingQuery

DRAIN_ROUNDS = 2
"""How many times the end of a run drains every query, in start order."""


@dataclass
class TrackedQuery:
    """One query of the run and what it did."""

    query: StreamingQuery
    cell: int
    """The number of the cell that started it."""
    where: str
    """``cell N (line L of FILE)`` of the line that started it."""
    display: Any = None
    """The :class:`streamlab.notebook.display.StreamDisplay` showing it, for ``display()``."""
    line: int | None = None
    """The line that started it (the ``L`` of ``where``)."""
    rows_by_batch: dict[int, int] = field(default_factory=dict)
    watermark: str | None = None
    reported: bool = False
    """Whether its failure was reported already."""

    @property
    def name(self) -> str:
        """The query's name, else its id."""
        return self.query.name or str(self.query.id)

    def poll(self) -> None:
        """Note the progress reports Spark keeps (the last 100) since the last poll."""
        with contextlib.suppress(Exception):
            for report in self.query.recentProgress:
                batch = int(report.get("batchId", -1))
                self.rows_by_batch[batch] = int(report.get("numInputRows") or 0)
                mark = (report.get("eventTime") or {}).get("watermark")
                if mark:
                    self.watermark = str(mark)

    def summary(self) -> QuerySummary:
        """Return what the query did in this run."""
        self.poll()
        return QuerySummary(
            self.name,
            str(self.query.id),
            self.where,
            len(self.rows_by_batch),
            sum(self.rows_by_batch.values()),
            self.watermark,
        )


@dataclass(frozen=True)
class QuerySummary:
    """One line of the end-of-run report."""

    name: str
    id: str
    started_at: str
    batches: int
    rows: int
    watermark: str | None

    def line(self) -> str:
        """``name: 4 batches, 1,000 rows, watermark 2026-01-01T09:50:00.000Z``."""
        mark = self.watermark or "none"
        return f"{self.name}: {self.batches} batches, {self.rows:,} rows, watermark {mark}"


class QueryRegistry:
    """The queries a notebook run started, in start order."""

    def __init__(self) -> None:
        self.queries: list[TrackedQuery] = []

    def add(
        self,
        query: StreamingQuery,
        cell: int,
        where: str,
        display: Any = None,
        line: int | None = None,
    ) -> TrackedQuery:
        """Remember ``query``, started by ``cell`` at ``where`` (line ``line``)."""
        tracked = TrackedQuery(query, cell, where, display, line)
        self.queries.append(tracked)
        return tracked

    def active(self) -> list[TrackedQuery]:
        """Return the queries still running."""
        return [t for t in self.queries if _is_active(t.query)]

    def failed(self) -> TrackedQuery | None:
        """Return the first query that failed in the background and was not reported yet."""
        for tracked in self.queries:
            if tracked.reported:
                continue
            error = _exception(tracked.query)
            if error is not None:
                tracked.reported = True
                return tracked
        return None

    def refresh(self) -> None:
        """Poll every query's progress; redraw the streams ``display()`` shows."""
        for tracked in self.queries:
            tracked.poll()
            if tracked.display is not None:
                with contextlib.suppress(Exception):
                    tracked.display.refresh()

    def drain(self, on_error: Callable[[TrackedQuery, BaseException], None]) -> None:
        """Let every active query process all the data that has landed, in start order."""
        for _ in range(DRAIN_ROUNDS):
            for tracked in self.active():
                try:
                    tracked.query.processAllAvailable()
                except Exception as exc:
                    if not tracked.reported:
                        tracked.reported = True
                        on_error(tracked, exc)
                    return

    def stop_all(self) -> list[QuerySummary]:
        """Stop every query of the run; return what each did, in start order."""
        for tracked in self.queries:
            tracked.poll()
            with contextlib.suppress(Exception):
                tracked.query.stop()
            if tracked.display is not None:
                with contextlib.suppress(Exception):
                    tracked.display.close()
        return [t.summary() for t in self.queries]


def _is_active(query: StreamingQuery) -> bool:
    try:
        return bool(query.isActive)
    except Exception:
        return False


def _exception(query: StreamingQuery) -> BaseException | None:
    try:
        return query.exception()
    except Exception:
        return None

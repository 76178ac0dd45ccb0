"""The tumbling windows' accounting: every input event is counted exactly once somewhere.

``input = quarantined + duplicates removed + late captured + counted in emitted windows
+ counted in windows still open in state``. Quarantined lines (bad records, see
:mod:`streamlab.ingest.quarantine`) never reach the watermark; the others are either dropped as
re-sent copies by the deduplication, dropped as late (and captured in ``late_events``), or
counted in a window that was written to ``events_tumbling`` or is still waiting in the
aggregation's state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

AGGREGATION_OPERATOR = "stateStoreSave"
JOIN_OPERATOR = "symmetricHashJoin"


@dataclass(frozen=True)
class Accounting:
    """Where the tumbling query's input events went, every part read from durable state.

    Input, quarantined and late rows come from the files each committed batch read (the
    late capture's markers and ``late_events``), emitted rows from ``events_tumbling``, open
    rows from the aggregation's state store. The duplicates are the rows in minus the rows the
    deduplication kept: every kept row is counted in exactly one tumbling window, emitted or
    still open (the aggregation drops none, see :mod:`streamlab.run.late`). So a run killed
    at any point and started again accounts for every batch, whether or not the progress
    events of its last batches reached the log. Spark's own count of the duplicates it
    dropped (``numDroppedDuplicateRows``, from the progress log) must agree when it is known.
    """

    input_events: int
    quarantined: int
    """Landed lines set aside as bad records (malformed, missing fields, bad times, skew)."""
    duplicates_removed: int
    """Rows in minus the rows the deduplication kept (counted in emitted or open windows)."""
    late_captured: int
    """Rows in ``late_events``: the rows the watermark dropped."""
    counted_emitted: int
    counted_open: int
    duplicates_reported: int | None = None
    """Spark's ``numDroppedDuplicateRows`` over every committed batch, from the progress log;
    ``None`` when a kill cut a batch's progress off before it was logged."""
    batches: int = 0
    """The tumbling query's committed batches."""
    batches_captured: int = 0
    """Of those, the batches whose input and late rows were captured."""

    @classmethod
    def from_durable_state(
        cls,
        *,
        input_events: int,
        quarantined: int,
        late_captured: int,
        counted_emitted: int,
        counted_open: int,
        duplicates_reported: int | None = None,
        batches: int = 0,
        batches_captured: int = 0,
    ) -> Accounting:
        """Return the accounting with the duplicates derived as rows in minus rows kept."""
        kept = counted_emitted + counted_open
        return cls(
            input_events=input_events,
            quarantined=quarantined,
            duplicates_removed=input_events - quarantined - late_captured - kept,
            late_captured=late_captured,
            counted_emitted=counted_emitted,
            counted_open=counted_open,
            duplicates_reported=duplicates_reported,
            batches=batches,
            batches_captured=batches_captured,
        )

    @property
    def accounted(self) -> int:
        """The sum of the parts."""
        return (
            self.quarantined
            + self.duplicates_removed
            + self.late_captured
            + self.counted_emitted
            + self.counted_open
        )

    @property
    def problems(self) -> list[str]:
        """What keeps the accounting from closing; empty when it closes."""
        found = []
        if self.batches_captured != self.batches:
            found.append(
                f"only {self.batches_captured} of {self.batches} batches were checked for late rows"
            )
        parts = ("quarantined", "duplicates_removed", "late_captured", "counted_open")
        found += [f"{p} is negative ({getattr(self, p)})" for p in parts if getattr(self, p) < 0]
        if self.accounted != self.input_events:
            found.append(f"the parts add up to {self.accounted}")
        reported = self.duplicates_reported
        if reported is not None and reported != self.duplicates_removed:
            found.append(f"Spark reported {reported} duplicates removed")
        return found

    @property
    def closes(self) -> bool:
        """Whether the parts add up to the input, exactly, and agree with Spark's count."""
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        """Return the accounting as JSON-ready data."""
        return {
            **asdict(self),
            "accounted": self.accounted,
            "closes": self.closes,
            "problems": self.problems,
        }


def state_operators(spark: SparkSession, checkpoint: Path) -> list[dict[str, Any]]:
    """Return the stateful operators of a checkpoint (Spark's ``state-metadata`` reader)."""
    if not (checkpoint / "state").is_dir() or not (checkpoint / "commits").is_dir():
        return []
    rows = spark.read.format("state-metadata").load(str(checkpoint)).collect()
    return [r.asDict() for r in rows]


def state_rows(
    spark: SparkSession, checkpoint: Path, operator_id: int, operator_name: str = ""
) -> int:
    """Return how many rows operator ``operator_id`` keeps in state at the last commit.

    A stream-stream join keeps one buffer per side, read with the reader's ``joinSide``.
    """
    reader = spark.read.format("statestore").option("operatorId", operator_id)
    if operator_name == JOIN_OPERATOR:
        return sum(
            int(reader.option("joinSide", side).load(str(checkpoint)).count())
            for side in ("left", "right")
        )
    return int(reader.load(str(checkpoint)).count())


def open_window_counts(spark: SparkSession, checkpoint: Path) -> int:
    """Return the events counted in windows still open in a windowed query's state.

    The aggregation keeps each open window's buffer in state; its first field is the
    ``count`` of :func:`streamlab.pipelines.windows.window_aggregates`.
    """
    for op in state_operators(spark, checkpoint):
        if op["operatorName"] == AGGREGATION_OPERATOR:
            reader = spark.read.format("statestore").option("operatorId", op["operatorId"])
            values = reader.load(str(checkpoint)).select("value").collect()
            return sum(int(r.value[0]) for r in values)
    return 0

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
    """Where the tumbling query's input events went."""

    input_events: int
    quarantined: int
    """Landed lines set aside as bad records (malformed, missing fields, bad times, skew)."""
    duplicates_removed: int | None
    """From Spark's ``numDroppedDuplicateRows``; ``None`` when a batch's progress is unknown."""
    late_captured: int
    counted_emitted: int
    counted_open: int

    @property
    def accounted(self) -> int | None:
        """The sum of the parts, or ``None`` when duplicates are unknown."""
        if self.duplicates_removed is None:
            return None
        return (
            self.quarantined
            + self.duplicates_removed
            + self.late_captured
            + self.counted_emitted
            + self.counted_open
        )

    @property
    def closes(self) -> bool:
        """Whether the parts add up to the input, exactly."""
        return self.accounted == self.input_events

    def to_dict(self) -> dict[str, Any]:
        """Return the accounting as JSON-ready data."""
        return {**asdict(self), "accounted": self.accounted, "closes": self.closes}


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

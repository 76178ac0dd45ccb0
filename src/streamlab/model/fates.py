"""What happened to each input row: one typed fate, computed once per model run.

Every reader of a model run (``explain``, ``report``, ``verify``, ``sweep``) takes its fates
from :attr:`streamlab.model.simulate.Result.fates` (the events) or
:attr:`~streamlab.model.simulate.Result.join_fates` (the join's two sides), so the words and the
counts agree everywhere. Values are the words ``explain --json`` prints.

>>> from streamlab.model import ModelConfig, Rows, WindowSpec, simulate
>>> rows = Rows.from_batches(
...     [[("a", 60_000, "x"), ("a", 60_000, "x")], [("c", 90_000, "x")], [("b", 1_000, "x")]]
... )
>>> result = simulate({"events": rows}, ModelConfig(delay_ms=0, window=WindowSpec(30_000, 30_000)))
>>> [str(f) for f in result.fates]  # in batch 2 the watermark for late rows is 60 s
['counted', 'duplicate', 'counted', 'late']
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from streamlab.model import dedup as D
from streamlab.model import join as J

if TYPE_CHECKING:
    from streamlab.model.aggregate import AggregateOutcome
    from streamlab.model.dedup import DedupOutcome
    from streamlab.model.events import Rows
    from streamlab.model.join import JoinOutcome

FateArray = npt.NDArray[np.object_]
"""One :class:`Fate` per input row, in input order."""


class Fate(StrEnum):
    """The fate of one input row in a modelled query."""

    KEPT = "kept"
    """``dedup``: the first copy of its key within the watermark, written to the table."""
    COUNTED = "counted"
    """``windowed_agg``: counted in every window it belongs to."""
    PARTLY_DROPPED = "partly_dropped"
    """``windowed_agg`` with sliding windows: late for some of its windows, counted in others."""
    DROPPED_LATE = "dropped_late"
    """``windowed_agg``: late for every window it belongs to (the aggregation's filter)."""
    LATE = "late"
    """Dropped as late before any window or match: behind the late watermark of its batch."""
    DUPLICATE = "duplicate"
    """A re-sent copy of a key still held by ``dropDuplicatesWithinWatermark``."""
    UNPARSEABLE = "unparseable"
    """No event time: ``try_to_timestamp`` gave NULL."""
    WAITING = "waiting"
    """``stream_join``: still in the join's state, unmatched so far, when the run ends."""
    JOINED = "joined"
    """``stream_join``: matched at least once."""
    UNMATCHED = "unmatched"
    """``stream_join``: left the state without a match (a left outer join emits a NULL row)."""

    @property
    def lost_to_lateness(self) -> bool:
        """Whether the row was dropped as late, whole (not partly)."""
        return self in (Fate.LATE, Fate.DROPPED_LATE)

    @property
    def counted(self) -> bool:
        """Whether the row counts in at least one window."""
        return self in (Fate.COUNTED, Fate.PARTLY_DROPPED)


_JOIN = {
    J.WAITING: Fate.WAITING,
    J.JOINED: Fate.JOINED,
    J.UNMATCHED: Fate.UNMATCHED,
    J.LATE: Fate.LATE,
    J.NOT_STORED: Fate.UNMATCHED,
    J.UNPARSEABLE: Fate.UNPARSEABLE,
}


def event_fates(
    rows: Rows, aggregate: AggregateOutcome | None, dedup: DedupOutcome | None
) -> FateArray:
    """Return the fate of every row of the ``events`` input (``windowed_agg``, ``dedup``)."""
    n = len(rows)
    # fill, not np.full: np.full stores a plain copy of the text in every row (64 bytes each,
    # 0.6 GiB at 10M events); fill stores the one Fate member.
    fate = np.empty(n, dtype=object)
    fate.fill(Fate.COUNTED if aggregate is not None else Fate.KEPT)
    if aggregate is not None:
        c = aggregate.contributions
        dropped = np.zeros(n, dtype=bool)
        counted = np.zeros(n, dtype=bool)
        dropped[c.row[c.dropped]] = True
        counted[c.row[~c.dropped]] = True
        fate[dropped & counted] = Fate.PARTLY_DROPPED
        fate[dropped & ~counted] = Fate.DROPPED_LATE
    if dedup is not None:
        outcome = dedup.outcome
        fate[outcome == D.LATE] = Fate.LATE
        fate[outcome == D.DUPLICATE] = Fate.DUPLICATE
        fate[outcome == D.UNPARSEABLE] = Fate.UNPARSEABLE
    else:
        fate[~rows.valid] = Fate.UNPARSEABLE
    return fate


def join_fates(join: JoinOutcome) -> tuple[FateArray, FateArray]:
    """Return the fates of the join's impressions and clicks (``stream_join``)."""
    sides = []
    for outcome in (join.left_outcome, join.right_outcome):
        fate = np.empty(len(outcome), dtype=object)
        fate[:] = [_JOIN[int(code)] for code in outcome.tolist()]
        sides.append(fate)
    return sides[0], sides[1]


def mask(fates: FateArray, *wanted: Fate) -> npt.NDArray[np.bool_]:
    """Return where ``fates`` is one of ``wanted``.

    >>> mask(np.array([Fate.LATE, Fate.COUNTED], dtype=object), Fate.LATE).tolist()
    [True, False]
    """
    out = np.zeros(len(fates), dtype=bool)
    for fate in wanted:
        out |= fates == fate
    return out

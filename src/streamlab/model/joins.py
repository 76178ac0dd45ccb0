"""Stream-stream joins of every type: inner, left, right and full outer, and left semi.

All five are proven against Spark 4.3 by differential tests.

:mod:`streamlab.model.join` models the lab's inner and left outer joins; this module extends the
same rules to the other types, from ``StreamingSymmetricHashJoinExec`` (``processPartitions``,
``OneSideHashJoiner.storeAndJoinWithOtherSide``, ``AddingProcessedRowToStateCompletionIterator``):

* each side drops rows with ``time <= late watermark``;
* left rows join the right state first, then right rows join the left state (which holds this
  batch's stored left rows); a state row that matches is flagged ``matched``;
* a left row is always stored, except in a left semi join when it matched already: it was
  emitted and will never be emitted again;
* a right row is stored when this batch's state bound does not remove it, and also, in a right
  or full outer join, when it matched nothing, so that its eviction emits its NULL row;
* at the end of the batch state at or behind each side's bound is removed; an outer side emits
  ``(row, NULL)`` for each removed row never matched: the left side in left and full outer joins,
  the right side in right and full outer joins.

Left semi joins run the other way round in Spark 4.3 (SPARK-55973, "LeftSemi optimization for
stream-stream join"):

* the right rows go first: each joins the left state, every left row it matches is emitted,
  by itself, and removed from state at once (``getJoinedRowsAndRemoveMatched``); the right row
  is stored when this batch's bound keeps it;
* then the left rows join the right state (which holds this batch's stored right rows): a left
  row that matches is emitted once and never stored, one that does not is stored;
* so a left row is emitted at most once, at its first match, and never with NULLs; a left row
  matched only by a right row of the same batch that is already past the right side's bound is
  not emitted (that right row was never stored).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from streamlab.errors import StreamlabError
from streamlab.model.events import Rows
from streamlab.model.join import (
    JOINED,
    LATE,
    NOT_STORED,
    UNMATCHED,
    UNPARSEABLE,
    WAITING,
    JoinCondition,
)
from streamlab.model.watermark import BatchInfo
from streamlab.model.windows import WindowSpec

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class JoinType(StrEnum):
    """A stream-stream join type, as ``DataFrame.join``'s ``how`` names it."""

    INNER = "inner"
    LEFT_OUTER = "left_outer"
    RIGHT_OUTER = "right_outer"
    FULL_OUTER = "full_outer"
    LEFT_SEMI = "left_semi"

    @classmethod
    def parse(cls, text: str) -> JoinType:
        """Read Spark's spellings: ``leftOuter``, ``left-outer``, ``LeftOuter``, ``full``...

        >>> [str(JoinType.parse(t)) for t in ("rightOuter", "full", "LeftSemi")]
        ['right_outer', 'full_outer', 'left_semi']
        """
        flat = text.replace("-", "").replace("_", "").lower()
        names = {
            "inner": cls.INNER,
            "left": cls.LEFT_OUTER,
            "leftouter": cls.LEFT_OUTER,
            "right": cls.RIGHT_OUTER,
            "rightouter": cls.RIGHT_OUTER,
            "full": cls.FULL_OUTER,
            "fullouter": cls.FULL_OUTER,
            "outer": cls.FULL_OUTER,
            "leftsemi": cls.LEFT_SEMI,
            "semi": cls.LEFT_SEMI,
        }
        if flat not in names:
            raise StreamlabError(
                f"the model covers inner, left outer, right outer, full outer and left semi "
                f"stream-stream joins, not {text!r}"
            )
        return names[flat]

    @property
    def left_nulls(self) -> bool:
        """Whether an unmatched left row gets a NULL row when it leaves state."""
        return self in (JoinType.LEFT_OUTER, JoinType.FULL_OUTER)

    @property
    def right_nulls(self) -> bool:
        """Whether an unmatched right row gets a NULL row when it leaves state."""
        return self in (JoinType.RIGHT_OUTER, JoinType.FULL_OUTER)


@dataclass(frozen=True, eq=False)
class TypedJoinOutcome:
    """What a join of any type emitted, batch by batch, and what happened to every row."""

    how: JoinType
    """The join type."""
    pairs: list[tuple[int, int, int]]
    """``(left row, right row, batch)`` for every joined output row (none for left semi)."""
    left_nulls: list[tuple[int, int]]
    """``(left row, batch)``: a left row with NULL right columns."""
    right_nulls: list[tuple[int, int]]
    """``(right row, batch)``: a right row with NULL left columns."""
    semi: list[tuple[int, int]]
    """``(left row, batch)``: left semi output, each left row at most once."""
    left_outcome: IntArray
    """Per left row, an outcome code of :mod:`streamlab.model.join`."""
    right_outcome: IntArray
    """Per right row, an outcome code."""
    state_rows: IntArray
    """Per batch: rows held in the join state (both sides) after the batch."""


def join_typed(
    left: Rows,
    right: Rows,
    batches: Sequence[BatchInfo],
    condition: JoinCondition,
    how: JoinType,
    *,
    time_in_key: bool = False,
    window: WindowSpec | None = None,
    left_keep: BoolArray | None = None,
    right_keep: BoolArray | None = None,
) -> TypedJoinOutcome:
    """Run a stream-stream join of type ``how`` of ``left`` and ``right`` over ``batches``.

    ``condition.outer`` is ignored: ``how`` says the type. With ``time_in_key`` the condition
    is equality of the event times (``t1 = t2``, a join key carrying the watermark; pass
    ``JoinCondition(0, 0)``): state is removed by key, ``time <= eviction watermark`` on both
    sides (``JoinStateKeyWatermarkPredicate``), not 1 ms earlier as a range's bound.

    With ``window`` (tumbling) the condition is equal keys and equal windows of the two event
    times (``leftWindow = rightWindow``; the window carries the watermark): a row is late when
    its window's end is at or behind the late watermark, and state leaves by key when its
    window's end is at or behind the eviction watermark (``watermarkExpression`` compares a
    window's end); ``condition`` is not used.

    ``left_keep`` / ``right_keep`` are one side's own predicates (``rightValue > 7``), per row:
    a row failing its side's predicate matches nothing and is never stored; an outer side emits
    its NULL row at once (``preJoinFilter``, ``generateFilteredJoinedRow``).

    >>> from streamlab.model.watermark import InputWatermark, plan_batches
    >>> imps = Rows.from_batches([[("i1", 1_000, "i1")], [("i2", 90_000, "i2")]])
    >>> clicks = Rows.from_batches([[("x", 2_000, "c1")], [("i2", 90_000, "c2")]])
    >>> plan = plan_batches([InputWatermark("i", 0), InputWatermark("c", 0)],
    ...                     [[1_000, 90_000], [2_000, 90_000]], data_batches=2)
    >>> out = join_typed(imps, clicks, plan, JoinCondition(0, 10_000), JoinType.FULL_OUTER)
    >>> out.pairs, out.left_nulls, out.right_nulls
    ([(1, 1, 1)], [(0, 2)], [(0, 2)])
    """
    lo, hi = condition.lower_ms, condition.upper_ms
    size = window.size_ms if window is not None else 0
    if window is not None and not window.tumbling:
        raise StreamlabError("the model joins on tumbling windows only")
    if time_in_key and (lo, hi) != (0, 0):
        raise StreamlabError(
            "a join on equal event times has no time range: pass JoinCondition(0, 0)"
        )
    left_out = np.full(len(left), WAITING, dtype=np.int64)
    right_out = np.full(len(right), WAITING, dtype=np.int64)
    left_out[~left.valid] = UNPARSEABLE
    right_out[~right.valid] = UNPARSEABLE
    left_state: dict[object, list[int]] = {}
    right_state: dict[object, list[int]] = {}
    left_heap: list[tuple[int, int]] = []
    right_heap: list[tuple[int, int]] = []
    left_matched = np.zeros(len(left), dtype=bool)
    right_matched = np.zeros(len(right), dtype=bool)
    pairs: list[tuple[int, int, int]] = []
    left_nulls: list[tuple[int, int]] = []
    right_nulls: list[tuple[int, int]] = []
    semi: list[tuple[int, int]] = []
    state_rows = np.zeros(len(batches), dtype=np.int64)
    left_by_batch = _by_batch(left)
    right_by_batch = _by_batch(right)
    lt, rt = left.time_ms.tolist(), right.time_ms.tolist()
    lkey, rkey = left.key.tolist(), right.key.tolist()
    is_semi = how is JoinType.LEFT_SEMI
    lkeep = [True] * len(left) if left_keep is None else np.asarray(left_keep, bool).tolist()
    rkeep = [True] * len(right) if right_keep is None else np.asarray(right_keep, bool).tolist()
    if window is not None:
        # Compare window ends, and key on (key, window start): `window.start` is the key's part.
        ws = window.start_ms
        lwin = [t - (t - ws) % size for t in lt]
        rwin = [t - (t - ws) % size for t in rt]
        lkey = [(k, w) for k, w in zip(lkey, lwin, strict=True)]
        rkey = [(k, w) for k, w in zip(rkey, rwin, strict=True)]
        # From here on a row's "time" is its window's end, which the bounds compare.
        lt = [w + size for w in lwin]
        rt = [w + size for w in rwin]

    # Left semi: a left row leaves state once matched (it can never be emitted again), so a
    # row is removed from its key's list and flagged; heap entries of removed rows are skipped.
    left_gone = np.zeros(len(left), dtype=bool)
    live_left = 0
    keyed = time_in_key or window is not None

    def left_pass(rows: list[int], b: int, late: int) -> None:
        nonlocal live_left
        for i in rows:
            if left_out[i] == UNPARSEABLE:
                continue
            if lt[i] <= late:
                left_out[i] = LATE
                continue
            if not lkeep[i]:
                left_out[i] = NOT_STORED
                if how.left_nulls:
                    left_nulls.append((i, b))
                continue
            hit = False
            for j in right_state.get(lkey[i], ()):
                if window is not None or lt[i] + lo <= rt[j] <= lt[i] + hi:
                    hit = True
                    right_matched[j] = True
                    right_out[j] = JOINED
                    if not is_semi:
                        pairs.append((i, j, b))
            if hit:
                left_matched[i] = True
                if is_semi:
                    semi.append((i, b))
                    left_out[i] = JOINED
                    continue  # emitted once, never stored
            left_state.setdefault(lkey[i], []).append(i)
            heapq.heappush(left_heap, (lt[i], i))
            live_left += 1

    def right_pass(rows: list[int], b: int, late: int, right_bound: int) -> None:
        nonlocal live_left
        for j in rows:
            if right_out[j] == UNPARSEABLE:
                continue
            if rt[j] <= late:
                right_out[j] = LATE
                continue
            if not rkeep[j]:
                right_out[j] = NOT_STORED
                if how.right_nulls:
                    right_nulls.append((j, b))
                continue
            hit = False
            bucket = left_state.get(rkey[j], [])
            for i in list(bucket):
                if window is None and not lt[i] + lo <= rt[j] <= lt[i] + hi:
                    continue
                if is_semi:
                    # getJoinedRowsAndRemoveMatched: emitted now, removed from state now.
                    semi.append((i, b))
                    left_out[i] = JOINED
                    bucket.remove(i)
                    left_gone[i] = True
                    live_left -= 1
                else:
                    pairs.append((i, j, b))
                left_matched[i] = True
                hit = True
            if hit:
                right_matched[j] = True
                right_out[j] = JOINED
            if rt[j] > right_bound or (how.right_nulls and not hit):
                right_state.setdefault(rkey[j], []).append(j)
                heapq.heappush(right_heap, (rt[j], j))
            elif not hit:
                right_out[j] = NOT_STORED

    for info in batches:
        b, late, evict = info.batch, info.late_watermark, info.eviction_watermark
        left_bound = evict if keyed else evict - hi - 1
        right_bound = evict if keyed else evict + lo - 1
        d = info.data_batch
        left_rows = left_by_batch.get(d, []) if d is not None else []
        right_rows = right_by_batch.get(d, []) if d is not None else []

        if is_semi:
            # Spark 4.3 runs a left semi join's right side first (SPARK-55973).
            right_pass(right_rows, b, late, right_bound)
            left_pass(left_rows, b, late)
        else:
            left_pass(left_rows, b, late)
            right_pass(right_rows, b, late, right_bound)
        while left_heap and left_heap[0][0] <= left_bound:
            _, i = heapq.heappop(left_heap)
            if left_gone[i]:
                continue
            left_state[lkey[i]].remove(i)
            live_left -= 1
            if left_matched[i]:
                left_out[i] = JOINED
            else:
                left_out[i] = UNMATCHED
                if how.left_nulls:
                    left_nulls.append((i, b))
        while right_heap and right_heap[0][0] <= right_bound:
            _, j = heapq.heappop(right_heap)
            right_state[rkey[j]].remove(j)
            if not right_matched[j]:
                right_out[j] = UNMATCHED
                if how.right_nulls:
                    right_nulls.append((j, b))
        state_rows[b] = live_left + len(right_heap)
    left_out[(left_out == WAITING) & left_matched] = JOINED
    return TypedJoinOutcome(
        how, pairs, left_nulls, right_nulls, semi, left_out, right_out, state_rows
    )


def _by_batch(rows: Rows) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for i, b in enumerate(rows.batch.tolist()):
        out.setdefault(b, []).append(i)
    return out

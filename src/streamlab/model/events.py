"""The model's input: the rows of one source, in landed order, each tagged with its data batch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjArray = npt.NDArray[np.object_]


@dataclass(frozen=True, eq=False)
class Rows:
    """Rows of one source: column arrays of equal length, sorted by data batch then file order."""

    batch: IntArray
    """The data batch (landed ``batch_NNNN`` folder, from 0) each row arrived in."""
    time_ms: IntArray
    """Event time in epoch milliseconds (0 where ``valid`` is false)."""
    valid: BoolArray
    """Whether the event time parsed; ``try_to_timestamp`` gives NULL otherwise."""
    key: ObjArray
    """The identifying column: ``event_id``, ``impression_id`` or, for clicks, the impression
    the click refers to."""
    group: ObjArray
    """A grouping column next to the window (``event_type``), or the row's own id for clicks."""
    data_batches: int
    """How many data batches there are (a batch may have no rows)."""

    def __len__(self) -> int:
        """Return the number of rows."""
        return len(self.batch)

    @classmethod
    def from_batches(
        cls,
        batches: Sequence[Sequence[tuple[str, int | None, str]]],
    ) -> Rows:
        """Build rows from one list per data batch of ``(key, time_ms or None, group)``.

        >>> rows = Rows.from_batches([[("e1", 1000, "click")], [], [("e2", None, "view")]])
        >>> rows.batch.tolist(), rows.valid.tolist(), rows.data_batches
        ([0, 2], [True, False], 3)
        """
        flat = [(b, row) for b, rows in enumerate(batches) for row in rows]
        return cls(
            batch=np.array([b for b, _ in flat], dtype=np.int64),
            time_ms=np.array([r[1] if r[1] is not None else 0 for _, r in flat], dtype=np.int64),
            valid=np.array([r[1] is not None for _, r in flat], dtype=bool),
            key=objects([r[0] for _, r in flat]),
            group=objects([r[2] for _, r in flat]),
            data_batches=len(batches),
        )

    def take(self, index: IntArray) -> Rows:
        """Return the rows at ``index`` (in that order), of the same data batches.

        >>> Rows.from_batches([[("e1", 1000, "a"), ("e2", 2000, "b")]]).take(np.array([1])).key
        array(['e2'], dtype=object)
        """
        return Rows(
            batch=self.batch[index],
            time_ms=self.time_ms[index],
            valid=self.valid[index],
            key=self.key[index],
            group=self.group[index],
            data_batches=self.data_batches,
        )

    @classmethod
    def from_arrays(
        cls,
        batch: IntArray,
        time_ms: IntArray,
        key: ObjArray,
        group: ObjArray,
        *,
        valid: BoolArray | None = None,
        data_batches: int | None = None,
    ) -> Rows:
        """Build rows from column arrays already in landed order."""
        n = len(batch)
        return cls(
            batch=np.asarray(batch, dtype=np.int64),
            time_ms=np.asarray(time_ms, dtype=np.int64),
            valid=np.ones(n, dtype=bool) if valid is None else np.asarray(valid, dtype=bool),
            key=np.asarray(key, dtype=object),
            group=np.asarray(group, dtype=object),
            data_batches=(int(batch.max()) + 1 if n else 0)
            if data_batches is None
            else data_batches,
        )


def objects(values: Sequence[object]) -> ObjArray:
    """Return ``values`` as a one-dimensional object array (lists and tuples stay whole)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def factorize(values: ObjArray) -> IntArray:
    """Return a code per value, numbering distinct values in order of first appearance.

    Values are told apart by Python equality: ``None`` (a NULL) is a value of its own, never
    the text ``"None"``. A column of few distinct values (an event type) goes through a hash
    table; any other is grouped by each value's hash in numpy, and every row that shares a
    hash with another is compared with the first of them, so a collision of two different
    values is caught (and the values numbered one by one instead).

    >>> factorize(np.array(["b", "a", "b", "c"], dtype=object)).tolist()
    [0, 1, 0, 2]
    """
    n = len(values)
    if not n:
        return np.zeros(0, dtype=np.int64)
    items = values.tolist()
    if len(set(items[:_SAMPLE])) * 10 <= min(n, _SAMPLE):
        return _by_table(items)
    hashes = np.fromiter(map(hash, items), np.int64, count=n)
    del items  # read again only after a collision; the list alone is 80 MB at 10M rows
    # Temporaries go as soon as they are used: at 10M rows each is another 80 MB.
    order = np.argsort(hashes, kind="stable")  # equal hashes keep their rows' order
    new = np.empty(n, dtype=bool)
    new[0] = True
    ordered = hashes[order]
    del hashes
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    del ordered
    starts = np.flatnonzero(new)
    inverse = np.empty(n, dtype=np.int64)
    running = np.cumsum(new)
    del new
    running -= 1
    inverse[order] = running
    del running
    first = order[starts]  # the first row of each hash
    del order
    several = np.diff(np.append(starts, n)) > 1
    shared = np.flatnonzero(several[inverse])
    if len(shared) and np.asarray(values[shared] != values[first[inverse[shared]]], bool).any():
        return _by_table(values.tolist())
    del shared
    # Number the hashes by their first row: how many first rows come before it.
    is_first = np.zeros(n, dtype=bool)
    is_first[first] = True
    rank = np.cumsum(is_first)
    del is_first
    rank -= 1
    return rank[first][inverse]


_SAMPLE = 1000
"""Rows :func:`factorize` looks at to tell a column of few distinct values."""


def _by_table(items: list[object]) -> IntArray:
    code = {v: i for i, v in enumerate(dict.fromkeys(items))}  # in order of first appearance
    return np.fromiter(map(code.__getitem__, items), np.int64, count=len(items))


def first_rows(codes: IntArray) -> IntArray:
    """Return the first row of each code of :func:`factorize`, in code order.

    Codes are numbered by first appearance, so a row is the first of its code exactly where
    its code passes every code before it: one pass, no sort.

    >>> first_rows(np.array([0, 1, 0, 2, 1])).tolist()
    [0, 1, 3]
    """
    if not len(codes):
        return np.zeros(0, dtype=np.int64)
    before = np.maximum.accumulate(np.concatenate([[-1], codes[:-1]]))
    return np.flatnonzero(codes > before)


def sorted_codes(values: ObjArray) -> tuple[ObjArray, IntArray]:
    """Return the distinct values, sorted, and each value's index among them.

    What ``np.unique(values.astype(str), return_inverse=True)`` gives for text, without
    sorting every row: the rows are numbered through a hash table and only the distinct
    values are sorted.

    >>> names, codes = sorted_codes(np.array(["b", "a", "b"], dtype=object))
    >>> names.tolist(), codes.tolist()
    (['a', 'b'], [1, 0, 1])
    """
    codes = factorize(values)
    first = first_rows(codes)
    distinct = [str(v) for v in values[first].tolist()]
    order = sorted(range(len(distinct)), key=distinct.__getitem__)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    return objects([distinct[i] for i in order]), rank[codes]

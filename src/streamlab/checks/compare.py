"""Comparing two results: the one place that finds the first difference and says it in words.

Every check in :mod:`streamlab.checks` (verify, ground truth, confirm) holds what Spark or the
lab produced next to what was expected, as a mapping from a key (a window, an event id, a bad
record) to a value (a count, a list of counts). :func:`first_difference` finds the first key,
in a stable order, whose values differ; :func:`side_by_side` renders it.

>>> from collections import Counter
>>> found, expected = Counter(["a", "b", "b"]), Counter(["a", "b", "c"])
>>> key = first_difference(found, expected)
>>> side_by_side(f"event {key}", found[key], expected[key])
'event b: Spark 2, model 1'
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Check:
    """One verified property of a lab: its name, whether it holds, and what was measured."""

    name: str
    """A dotted name such as ``events.late`` or ``model.windows_emitted``."""
    ok: bool
    """Whether the property holds."""
    detail: str
    """One line: the numbers on both sides and, on failure, the first difference."""


def first_difference(
    found: Mapping[K, Any],
    expected: Mapping[K, Any],
    *,
    order: Callable[[K], Any] | None = None,
) -> K | None:
    """Return the first key (sorted, by ``order`` if given) whose value differs, else ``None``.

    A key missing on one side counts as ``None`` there, or as 0 for :class:`Counter` sides.

    >>> first_difference({1: "x", 2: "y"}, {1: "x", 2: "z"}, order=int)
    2
    >>> first_difference({"a": 1}, {"a": 1}, order=str) is None
    True
    """
    for key in sorted(set(found) | set(expected), key=order or _natural):
        if found.get(key) != expected.get(key) and not _both_zero(found, expected, key):
            return key
    return None


def _natural(key: Any) -> Any:
    return key


def _both_zero(found: Mapping[Any, Any], expected: Mapping[Any, Any], key: Any) -> bool:
    counters = isinstance(found, Counter) and isinstance(expected, Counter)
    return counters and found[key] == expected[key]


def first_extra_or_missing(found: Iterable[K], expected: Iterable[K]) -> tuple[K, bool] | None:
    """Return the first item found more often than expected, else the first one found less.

    The boolean says which: ``True`` for an extra item. Items are compared as multisets and
    taken in sorted order.

    >>> first_extra_or_missing([(0, "a"), (1, "b")], [(0, "a"), (2, "c")])
    ((1, 'b'), True)
    >>> first_extra_or_missing([(0, "a")], [(0, "a"), (2, "c")])
    ((2, 'c'), False)
    """
    have, want = Counter(found), Counter(expected)
    extra = sorted(have - want, key=_natural)
    if extra:
        return extra[0], True
    missing = sorted(want - have, key=_natural)
    return (missing[0], False) if missing else None


def side_by_side(
    what: str,
    found: object,
    expected: object,
    *,
    found_as: str = "Spark",
    expected_as: str = "model",
) -> str:
    """Render one difference: ``"<what>: Spark <found>, model <expected>"``.

    >>> side_by_side("window 10:00-10:05 click", 3, "not emitted")
    'window 10:00-10:05 click: Spark 3, model not emitted'
    """
    return f"{what}: {found_as} {found}, {expected_as} {expected}"

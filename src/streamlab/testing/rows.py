"""Rows as the harness compares them: normalized, counted as multisets, rendered side by side.

Expected rows may be tuples or dicts; timestamps may be ``datetime`` (naive means UTC), text,
or numbers (epoch seconds, as Spark's ``CAST(n AS TIMESTAMP)``); a window struct compares equal
to a ``(start, end)`` pair. Rows collected from Spark are normalized the same way, so the two
sides compare as plain tuples.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from streamlab.errors import StreamlabError

Norm = tuple[Any, ...]
"""A normalized row."""


@dataclass(frozen=True)
class Column:
    """One output column: its name and a simple type tag."""

    name: str
    """The column's name."""
    kind: str
    """``timestamp``, ``window`` (a struct of start and end), ``float``, or ``other``."""


def columns_of(schema: Any) -> list[Column]:
    """Return the columns of a Spark ``StructType``, with the tags the comparison needs."""
    from pyspark.sql.types import DoubleType, FloatType, StructType, TimestampType

    out = []
    for f in schema.fields:
        t = f.dataType
        if isinstance(t, TimestampType):
            kind = "timestamp"
        elif isinstance(t, StructType) and [x.name for x in t.fields] == ["start", "end"]:
            kind = "window"
        elif isinstance(t, DoubleType | FloatType):
            kind = "float"
        else:
            kind = "other"
        out.append(Column(f.name, kind))
    return out


def to_utc(value: Any, *, what: str = "timestamp") -> datetime | None:
    """Return ``value`` as a naive UTC ``datetime``.

    >>> to_utc("2026-01-01 00:00:10"), to_utc(10)
    (datetime.datetime(2026, 1, 1, 0, 0, 10), datetime.datetime(1970, 1, 1, 0, 0, 10))
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        out: datetime = value
        if out.tzinfo is not None:
            out = out.astimezone(UTC).replace(tzinfo=None)
        return out
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, bool):
        raise StreamlabError(f"{what} {value!r} is not a timestamp: give a datetime or text")
    if isinstance(value, int | float | Decimal):
        return datetime.fromtimestamp(float(value), UTC).replace(tzinfo=None)
    if isinstance(value, str):
        text = value.strip().replace("Z", "+00:00")
        try:
            parsed: datetime = datetime.fromisoformat(text)
            return to_utc(parsed)
        except ValueError:
            raise StreamlabError(
                f"{what} {value!r} is not a timestamp: write it like '2026-01-01 00:00:10'"
            ) from None
    raise StreamlabError(f"{what} {value!r} is not a timestamp: give a datetime or text")


def from_spark(value: Any, kind: str) -> Any:
    """Normalize one value collected from Spark (naive timestamps are local time there)."""
    if value is None:
        return None
    if kind == "timestamp":
        return _local_to_utc(value)
    if kind == "window":
        return (_local_to_utc(value[0]), _local_to_utc(value[1]))
    if kind == "float":
        return round(float(value), 9)
    if hasattr(value, "asDict"):
        return tuple(value)
    return value


def _local_to_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.astimezone()  # PySpark hands back naive datetimes in local time
    return value.astimezone(UTC).replace(tzinfo=None)


def normalize(row: Sequence[Any] | Mapping[str, Any], cols: Sequence[Column]) -> Norm:
    """Normalize one expected row against the output columns."""
    if isinstance(row, Mapping):
        unknown = sorted(set(row) - {c.name for c in cols})
        if unknown:
            raise StreamlabError(
                f"expected row {dict(row)!r} names column {unknown[0]!r}, which the query "
                f"does not output: its columns are {', '.join(c.name for c in cols)}"
            )
        values = [row.get(c.name) for c in cols]
    else:
        values = list(row) if isinstance(row, tuple | list) else [row]
        if len(values) != len(cols):
            raise StreamlabError(
                f"expected row {tuple(values)!r} has {len(values)} value(s), the query outputs "
                f"{len(cols)} column(s): {', '.join(c.name for c in cols)}"
            )
    out: list[Any] = []
    for v, c in zip(values, cols, strict=True):
        if c.kind == "timestamp":
            out.append(to_utc(v, what=f"column {c.name!r}"))
        elif c.kind == "window" and v is not None:
            pair = tuple(v) if not isinstance(v, Mapping) else (v["start"], v["end"])
            if len(pair) != 2:
                raise StreamlabError(
                    f"column {c.name!r} is a window: give it as a (start, end) pair, not {v!r}"
                )
            out.append((to_utc(pair[0]), to_utc(pair[1])))
        elif c.kind == "float" and v is not None:
            out.append(round(float(v), 9))
        else:
            out.append(v)
    return tuple(out)


@dataclass(frozen=True)
class Difference:
    """How two multisets of rows differ."""

    missing: list[Norm]
    """Expected rows the query did not emit (with multiplicity)."""
    extra: list[Norm]
    """Rows the query emitted that were not expected (with multiplicity)."""

    def __bool__(self) -> bool:
        """Return whether the two sides differ."""
        return bool(self.missing or self.extra)


def difference(expected: Sequence[Norm], got: Sequence[Norm]) -> Difference:
    """Compare two lists of rows as multisets.

    >>> difference([(1,), (2,)], [(2,), (3,)])
    Difference(missing=[(1,)], extra=[(3,)])
    """
    want, have = Counter(expected), Counter(got)
    return Difference(
        sorted((want - have).elements(), key=sort_key),
        sorted((have - want).elements(), key=sort_key),
    )


def sort_key(row: Norm) -> tuple[Any, ...]:
    """Order rows with ``None`` last in each column, whatever the column's type."""
    return tuple((v is None, str(type(v).__name__), v) for v in row)


def render_value(value: Any, day: date | None) -> str:
    """Render one value: timestamps as time of day when every one shares ``day``."""
    if isinstance(value, datetime):
        text = value.isoformat(sep=" ", timespec="milliseconds").removesuffix(".000")
        if day is not None and value.date() == day:
            return text[11:]
        return text
    if isinstance(value, tuple):
        return "(" + ", ".join(render_value(v, day) for v in value) + ")"
    if value is None:
        return "NULL"
    return repr(value)


def common_day(rows: Sequence[Norm]) -> date | None:
    """Return the date every timestamp in ``rows`` falls on, or ``None`` if they differ."""
    days: set[date] = set()

    def visit(v: Any) -> None:
        if isinstance(v, datetime):
            days.add(v.date())
        elif isinstance(v, tuple):
            for x in v:
                visit(x)

    for r in rows:
        visit(r)
    return days.pop() if len(days) == 1 else None


def side_by_side(expected: Sequence[Norm], got: Sequence[Norm], day: date | None) -> list[str]:
    """Render both sides in two columns, differing rows first and marked with ``!``."""
    diff = difference(expected, got)
    common = sorted((Counter(expected) & Counter(got)).elements(), key=sort_key)
    left = [*diff.missing, *common]
    right = [*diff.extra, *common]
    marks = [True] * max(len(diff.missing), len(diff.extra)) + [False] * len(common)
    lt = [render_value(r, day) for r in left]
    rt = [render_value(r, day) for r in right]
    head = f"expected ({_count(len(expected))})"
    width = max([len(head), *(len(x) for x in lt)])
    lines = [f"    {head:<{width}}  | got ({_count(len(got))})"]
    n = max(len(lt), len(rt), 1 if not (lt or rt) else 0)
    pad_l = lt[: len(diff.missing)] + ["-"] * (len(marks) - len(common) - len(diff.missing))
    pad_r = rt[: len(diff.extra)] + ["-"] * (len(marks) - len(common) - len(diff.extra))
    left_col = pad_l + lt[len(diff.missing) :]
    right_col = pad_r + rt[len(diff.extra) :]
    for i in range(max(n, len(left_col))):
        mark = "!" if i < len(marks) and marks[i] else " "
        a = left_col[i] if i < len(left_col) else ""
        b = right_col[i] if i < len(right_col) else ""
        lines.append(f"  {mark} {a:<{width}}  | {b}")
    return lines


def _count(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"

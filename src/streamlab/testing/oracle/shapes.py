"""What the model knows of a query (its shape) and what it predicts, as plain data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from streamlab.durations import in_words
from streamlab.errors import StreamlabError
from streamlab.model.watermark import Policy
from streamlab.model.windows import WindowSpec

Landed = Sequence[tuple[str, Sequence[Mapping[str, Any]]]]
"""Per ``AddData`` in order: the input's name and the rows landed (dicts by column)."""


_AGGS = ("count", "sum", "min", "max", "avg", "mean")


class NotModelled(StreamlabError):
    """The query has an operator or a form the model does not cover."""


@dataclass(frozen=True)
class Side:
    """One watermarked input as the query sees it."""

    input: str
    """The scripted input's name."""
    time: str
    """The input column the watermark is on."""
    delay_ms: int
    """The ``withWatermark`` delay."""
    names: dict[str, str]
    """Column name the query sees -> input column name."""
    dedup_keys: tuple[str, ...] | None = None
    """A join side's ``dropDuplicatesWithinWatermark`` keys (input names), when the side
    deduplicates before the join."""


@dataclass(frozen=True)
class Agg:
    """One aggregate column."""

    func: str
    """``count``, ``sum``, ``min``, ``max`` or ``avg``."""
    column: str | None
    """The input column (``None`` for ``count(*)``)."""
    name: str
    """The output name."""


@dataclass(frozen=True)
class Shape:
    """What the model needs to know about a query."""

    kind: str
    """``window``, ``dedup`` or ``join``."""
    sides: tuple[Side, ...]
    """The watermarked inputs (two for a join, left first)."""
    window: WindowSpec | None = None
    """The window, for ``window``."""
    window_name: str = "window"
    """The window column's output name."""
    groups: tuple[str, ...] = ()
    """Grouping columns next to the window (input names)."""
    group_names: tuple[str, ...] = ()
    """Their output names."""
    aggs: tuple[Agg, ...] = ()
    """The aggregate columns."""
    dedup_keys: tuple[str, ...] | None = None
    """``dropDuplicatesWithinWatermark`` keys (input names), when the query deduplicates."""
    join_keys: tuple[tuple[str, str], ...] = ()
    """Equal (left, right) input columns, for ``join``."""
    lower_ms: int = 0
    """``right_time >= left_time + lower_ms``."""
    upper_ms: int = 0
    """``right_time <= left_time + upper_ms``."""
    outer: bool = False
    """Left outer (else inner) join."""
    policy: Policy = Policy.MIN
    """The multiple-watermark policy."""
    side_columns: tuple[tuple[str, ...], ...] = ()
    """For dedup and join: each side's output columns, in order."""
    project: tuple[tuple[str, str], ...] | None = None
    """A final projection: (expression, output name) pairs, or ``None``."""
    how: str = ""
    """For ``join``: a :class:`streamlab.model.joins.JoinType` value for right outer and full
    outer joins (``""``: inner or left outer, as ``outer`` says)."""
    modes: ModesPlan | None = None
    """For ``modes`` (output modes, sessions, keys only) and ``distinct`` (dropDuplicates)."""
    equal_times: bool = False
    """For ``join``: the condition is equality of the two event times (``t1 = t2``), not a
    range."""
    join_window: WindowSpec | None = None
    """For ``join``: the condition is equality of the two sides' tumbling windows (and keys)."""
    side_filters: tuple[tuple[tuple[str, str, float, bool], ...], ...] = ((), ())
    """For ``join``: each side's own predicates, ``(input column, operator, number, cast to
    int)``, such as ``rightValue > 7``: a row failing one never enters state or matches."""
    upstream: Shape | None = None
    """For ``chain``: the stateful operator (a join, a window aggregation, another chain) whose
    output this window aggregation reads."""
    time_key: str = ""
    """For ``chain``: the column of the upstream operator's rows the window is over."""
    time_from_window: bool = False
    """For ``chain``: ``time_key`` is a window, read at ``window_time`` (its end less 1 µs)."""

    def describe(self) -> str:
        """Return the shape in words, for messages."""
        if self.kind == "chain":
            assert self.window is not None and self.upstream is not None
            up = replace(self.upstream, sides=self.sides)
            return f"{in_words(self.window.size_ms)} windows after a {up.describe()}"
        if self.kind == "window":
            assert self.window is not None
            w = self.window
            kind = "tumbling" if w.tumbling else f"sliding every {in_words(w.slide_ms)}"
            dd = " after dropDuplicatesWithinWatermark" if self.dedup_keys is not None else ""
            return (
                f"{in_words(w.size_ms)} {kind} windows, watermark delay "
                f"{in_words(self.sides[0].delay_ms)}{dd}"
            )
        if self.kind == "dedup":
            return f"dropDuplicatesWithinWatermark, delay {in_words(self.sides[0].delay_ms)}"
        if self.kind == "join" and any(s.dedup_keys is not None for s in self.sides):
            plain = replace(self, sides=tuple(replace(s, dedup_keys=None) for s in self.sides))
            return f"dropDuplicatesWithinWatermark, then a {plain.describe()}"
        if self.how:
            return f"{self.how.replace('_', ' ')} join within a time range"
        if self.kind in ("modes", "distinct"):
            return _describe_modes(self)
        return f"{'left outer' if self.outer else 'inner'} join within a time range"


@dataclass(frozen=True)
class ModelBatch:
    """One micro-batch as the model plans it."""

    batch: int
    """The model's batch id (Spark's, when no restart added batches)."""
    data_step: int | None
    """The ``AddData`` (0-based) this batch reads, ``None`` for a no-data batch."""
    late_watermark: int
    """Rows at or behind it are late in this batch (epoch ms)."""
    eviction_watermark: int
    """The watermark the batch runs with (epoch ms)."""
    next_watermark: int
    """The watermark after the batch (epoch ms)."""
    rows: list[dict[str, Any]] = field(default_factory=list)
    """The output rows, by output column."""
    state_rows: int = 0
    """Rows in state after the batch."""


@dataclass(frozen=True)
class Prediction:
    """The model's answer for the batches landed so far."""

    shape: Shape
    """The shape it was computed for."""
    batches: list[ModelBatch]
    """Every batch, no-data ones included."""
    late: dict[int, list[dict[str, Any]]]
    """Per ``AddData``: its input rows behind the late watermark (wholly dropped)."""
    emitted: dict[tuple[Any, ...], int] = field(default_factory=dict)
    """Window aggregation: (window start, end, group...) -> batch that emits it."""

    def _span(self, since: int, upto: int) -> list[ModelBatch]:
        """Return the batches from the one reading AddData ``since`` to the one before ``upto``."""
        first = next(
            (
                i
                for i, b in enumerate(self.batches)
                if b.data_step is not None and b.data_step >= since
            ),
            len(self.batches),
        )
        stop = next(
            (
                i
                for i, b in enumerate(self.batches)
                if b.data_step is not None and b.data_step >= upto
            ),
            len(self.batches),
        )
        return self.batches[first:stop]

    def rows_since(self, since: int, upto: int | None = None) -> list[dict[str, Any]]:
        """Return the rows of the batches run for ``AddData`` number ``since`` to ``upto - 1``."""
        end = len(self.batches) if upto is None else upto
        return [r for b in self._span(since, end if upto is not None else 1 << 30) for r in b.rows]

    def last_rows(self, upto: int | None = None) -> list[dict[str, Any]]:
        """Return the rows of the last batch run before ``AddData`` number ``upto``."""
        span = self._span(0, 1 << 30 if upto is None else upto)
        return list(span[-1].rows) if span else []

    @property
    def next_watermark(self) -> int:
        """The watermark the next batch runs with (epoch ms)."""
        return self.batches[-1].next_watermark if self.batches else 0

    @property
    def state_rows(self) -> int:
        """Rows in state after the last batch."""
        return self.batches[-1].state_rows if self.batches else 0

    def late_rows(self, step: int) -> list[dict[str, Any]]:
        """Return the input rows ``AddData`` number ``step`` (0-based) lost as late."""
        return self.late.get(step, [])

    def late_watermark_of(self, step: int) -> int:
        """Return the late watermark of the batch that read ``AddData`` number ``step``."""
        for b in self.batches:
            if b.data_step == step:
                return b.late_watermark
        return 0


def _at(v: Any, idx: int) -> Any:
    return None if v is None else v[idx]


def _ms(value: Any) -> int:
    if isinstance(value, datetime):
        return round(value.replace(tzinfo=UTC).timestamp() * 1000)
    raise StreamlabError(f"event time {value!r} is not a timestamp")


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class ModesPlan:
    """What an aggregation outside append-mode windows, or a ``dropDuplicates``, needs."""

    mode: str
    """The output mode: ``append``, ``update`` or ``complete``."""
    grouping: str
    """``window``, ``session``, ``time`` (the event time itself is a key) or ``none``."""
    gap_ms: int = 0
    """The session gap, for ``session``."""
    outputs: tuple[tuple[str, str], ...] = ()
    """The aggregation's output columns in order: (kind, output name), kind being ``window``,
    ``time``, ``group:<input column>`` or ``agg:<index into Shape.aggs>``."""


def _describe_modes(shape: Shape) -> str:
    assert shape.modes is not None
    plan = shape.modes
    delay = in_words(shape.sides[0].delay_ms)
    if shape.kind == "distinct":
        with_time = "with" if plan.grouping == "time" else "without"
        return f"dropDuplicates {with_time} the event time in the key, watermark delay {delay}"
    if plan.grouping == "session":
        what = f"session windows with a {in_words(plan.gap_ms)} gap"
    elif plan.grouping == "window" and shape.window is not None:
        w = shape.window
        kind = "tumbling" if w.tumbling else f"sliding every {in_words(w.slide_ms)}"
        what = f"{in_words(w.size_ms)} {kind} windows"
    elif plan.grouping == "time":
        what = "groups keyed by the event time"
    else:
        what = "groups without a window"
    return f"{what} in {plan.mode} mode, watermark delay {delay}"

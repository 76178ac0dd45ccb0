"""The model as oracle: a query's plan -> a shape the model knows -> the rows Spark must emit.

This is the only module of :mod:`streamlab.testing` that talks to :mod:`streamlab.model`. It
recognises these shapes in the analyzed plan:

* a windowed aggregation (tumbling or sliding, ``count``/``sum``/``min``/``max``/``avg``),
  in append mode, optionally after ``dropDuplicatesWithinWatermark``; aggregations in update
  and complete mode, session windows, keys without a window, ``dropDuplicates``;
* ``dropDuplicatesWithinWatermark``;
* an inner, left outer, right outer, full outer or left semi stream-stream join on equal keys
  within a time range, on equal windows or on equal event times, either side optionally after
  its own ``dropDuplicatesWithinWatermark``;
* chained stateful operators: a window aggregation in append mode after a join or after
  another window aggregation (any depth), each operator with the watermark the one before it
  outputs (``streamlab.model.chain``).

Anything else is refused in one line naming the operator the model does not cover. The
prediction runs the model over the batches landed so far, with the plan of batches a live
trigger produces (a no-data batch after each data batch when the watermark moved).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np

from streamlab.durations import to_millis
from streamlab.errors import StreamlabError
from streamlab.model.aggregate import aggregate
from streamlab.model.chain import Produce, downstream, passthrough
from streamlab.model.dedup import KEPT, deduplicate
from streamlab.model.dedup import LATE as DEDUP_LATE
from streamlab.model.events import Rows
from streamlab.model.join import LATE as JOIN_LATE
from streamlab.model.join import JoinCondition, join
from streamlab.model.watermark import (
    BatchInfo,
    InputWatermark,
    Policy,
    Trigger,
    batch_maxima,
    plan_batches,
)
from streamlab.model.windows import WindowSpec
from streamlab.testing import plan as P

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
            return f"{_dur(self.window.size_ms)} windows after a {up.describe()}"
        if self.kind == "window":
            assert self.window is not None
            w = self.window
            kind = "tumbling" if w.tumbling else f"sliding every {_dur(w.slide_ms)}"
            dd = " after dropDuplicatesWithinWatermark" if self.dedup_keys is not None else ""
            return (
                f"{_dur(w.size_ms)} {kind} windows, watermark delay "
                f"{_dur(self.sides[0].delay_ms)}{dd}"
            )
        if self.kind == "dedup":
            return f"dropDuplicatesWithinWatermark, delay {_dur(self.sides[0].delay_ms)}"
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


class Oracle:
    """The model of one query: :meth:`predict` gives the expected output for landed data."""

    def __init__(self, shape: Shape, columns: Sequence[str]) -> None:
        self.shape = shape
        """The recognised shape."""
        self.columns = list(columns)
        """The query's output columns."""

    @classmethod
    def from_query(
        cls,
        df: Any,
        inputs: Mapping[str, Any],
        output_mode: str,
        columns: Sequence[str],
    ) -> Oracle:
        """Recognise ``df``'s shape from its analyzed plan, or refuse in one line."""
        policy = Policy.MIN
        try:
            conf = df.sparkSession.conf.get("spark.sql.streaming.multipleWatermarkPolicy", None)
            if conf:
                policy = Policy(str(conf).lower())
        except Exception:  # a session that cannot read the setting: Spark's default
            policy = Policy.MIN
        root = P.parse(P.analyzed_text(df))
        shape = _recognise(root, inputs, output_mode, policy)
        return cls(shape, columns)

    def predict(self, landed: Landed, restarts: frozenset[int] = frozenset()) -> Prediction:
        """Return what the model expects for ``landed`` (every ``AddData`` so far).

        ``restarts`` holds the ``AddData`` numbers (0-based) the query was restarted before.
        """
        return predict(self.shape, landed, restarts)

    def variant(self, **changes: Any) -> Oracle:
        """Return the oracle of the same query with some of its shape changed."""
        return Oracle(replace(self.shape, **changes), self.columns)


# --- recognising the shape --------------------------------------------------------------------


def _recognise(root: P.Node, inputs: Mapping[str, Any], mode: str, policy: Policy) -> Shape:
    node = _skip_alias(root)
    project: tuple[tuple[str, str], ...] | None = None
    if node.name == "Project":
        project = tuple(P.alias(e) for e in node.lists()[0])
        for expr, _ in project:
            _projector(expr)  # refuse what cannot be projected, now
        node = _skip_alias(node.child())
    if node.name == "Aggregate":
        chained = _chain_shape(node, inputs, mode, policy, project)
        if chained is not None:
            return chained
        modes = _modes_shape(node, inputs, mode, policy, project)
        if modes is not None:
            return modes
        if mode != "append":
            raise NotModelled(
                f"the model covers windowed aggregations in append mode, not {mode} mode"
            )
        return _window_shape(node, inputs, policy, project)
    if node.name == "DeduplicateWithinWatermark":
        keys = tuple(P.name_of(k) for k in node.lists()[0])
        side, cols = _side(node.child(), inputs)
        return Shape(
            "dedup",
            (side,),
            dedup_keys=tuple(side.names.get(k, k) for k in keys),
            side_columns=(cols,),
            policy=policy,
            project=project,
        )
    if node.name == "Join":
        return _join_shape(node, inputs, policy, project)
    if node.name == "Deduplicate":
        return _distinct_shape(node, inputs, policy, project)
    raise NotModelled(_not_modelled(node))


def _not_modelled(node: P.Node) -> str:
    text = f"{node.name} {node.args}".strip()
    if node.name == "Deduplicate":
        return (
            "the model does not cover dropDuplicates (Deduplicate); it covers "
            "dropDuplicatesWithinWatermark"
        )
    short = text if len(text) <= 80 else text[:77] + "..."
    return (
        f"the model does not cover the operator {short}: it covers windowed aggregations, "
        "dropDuplicatesWithinWatermark and time-range joins"
    )


def _skip_alias(node: P.Node) -> P.Node:
    while node.name == "SubqueryAlias":
        node = node.child()
    return node


def _window_shape(agg: P.Node, inputs: Mapping[str, Any], policy: Policy, project: Any) -> Shape:
    grouping, outputs = agg.lists()[:2]
    node = agg.child()
    spec: WindowSpec | None = None
    window_attr: str | None = None
    while node.name in ("Filter", "Project", "Expand"):
        if node.name == "Filter":
            if not re.fullmatch(r"isnotnull\([^()]+\)", node.args.strip()):
                raise NotModelled(_not_modelled(node))
        elif "precisetimestampconversion" in node.args:
            spec, window_attr = _window_of(node)
        elif node.name == "Project" and all(P.is_attr(e) for e in node.lists()[0]):
            pass
        else:
            raise NotModelled(_not_modelled(node))
        node = node.child()
    dedup_keys: tuple[str, ...] | None = None
    node = _skip_alias(node)
    if node.name == "DeduplicateWithinWatermark":
        dedup_keys = tuple(P.name_of(k) for k in node.lists()[0])
        node = node.child()
    side, _ = _side(node, inputs)
    if spec is None or window_attr is None:
        raise NotModelled(
            "the model covers aggregations grouped by window(event_time, ...); this one has "
            f"no window: {agg.args[:80]}"
        )
    groups, group_names = [], []
    window_name = "window"
    for g in grouping:
        name = P.name_of(g)
        if name == window_attr:
            continue
        if not P.is_attr(g):
            raise NotModelled(f"the model does not cover grouping by the expression {g}")
        groups.append(side.names.get(name, name))
    aggs: list[Agg] = []
    for out in outputs:
        expr, name = P.alias(out)
        if P.is_attr(expr):
            src = P.name_of(expr)
            if src == window_attr:
                window_name = name
            else:
                group_names.append(name)
            continue
        m = re.fullmatch(r"(\w+)\((.*)\)", expr)
        if m is None or m.group(1).lower() not in _AGGS:
            raise NotModelled(f"the model does not cover the aggregate {expr}")
        arg = m.group(2).strip()
        if m.group(1) == "count" and arg == "1":
            aggs.append(Agg("count", None, name))
        elif P.is_attr(arg):
            col = P.name_of(arg)
            aggs.append(Agg(m.group(1).replace("mean", "avg"), side.names.get(col, col), name))
        else:
            raise NotModelled(f"the model does not cover the aggregate {expr}")
    if dedup_keys is not None:
        dedup_keys = tuple(side.names.get(k, k) for k in dedup_keys)
    return Shape(
        "window",
        (side,),
        window=spec,
        window_name=window_name,
        groups=tuple(groups),
        group_names=tuple(group_names),
        aggs=tuple(aggs),
        dedup_keys=dedup_keys,
        policy=policy,
        project=project,
    )


def _window_of(node: P.Node) -> tuple[WindowSpec, str]:
    """Read size, slide and start from the window's generated expression (microseconds)."""
    text = node.args
    slide = re.search(r"- (-?\d+)\) % (\d+)\) < cast\(0 as bigint\)", text)
    size = re.search(r"\) \+ (\d+)\), LongType, TimestampType\)\)\)", text)
    if slide is None or size is None:
        raise NotModelled("the window expression of this query is not one the model can read")
    start_us, slide_us, size_us = int(slide.group(1)), int(slide.group(2)), int(size.group(1))
    spec = WindowSpec(size_us // 1000, slide_us // 1000, start_us // 1000)
    if node.name == "Expand":
        name = P.name_of(node.lists()[-1][0])
    else:
        named = re.search(r"TimestampType\)\)\) AS ([^,\]\s]+)", text[size.start() :])
        name = P.name_of(named.group(1)) if named else "window"
    return spec, name


def _side(
    node: P.Node, inputs: Mapping[str, Any], *, dedup: bool = False
) -> tuple[Side, tuple[str, ...]]:
    """Follow pure renames down to a watermark and its scripted input.

    With ``dedup`` (a join's side) one ``dropDuplicatesWithinWatermark`` may stand among the
    renames above the watermark: its keys become the side's ``dedup_keys``.
    """
    renames: list[dict[str, str]] = []
    dedup_at: tuple[int, list[str]] | None = None
    node = _skip_alias(node)
    if dedup:
        below = node
        while below.name in ("Project", "Filter", "SubqueryAlias"):
            below = below.child()
        if below.name in ("Aggregate", "Join", "Deduplicate"):
            raise NotModelled(
                "the model covers a join of watermarked inputs (each may drop duplicates with "
                f"dropDuplicatesWithinWatermark first), not a join after {below.name}"
            )
    while node.name == "Project" or (
        dedup and dedup_at is None and node.name == "DeduplicateWithinWatermark"
    ):
        if node.name == "Project":
            renames.append(_renames(node))
        else:
            dedup_at = (len(renames), [P.name_of(k) for k in node.lists()[0]])
        node = _skip_alias(node.child())
    if node.name != "EventTimeWatermark":
        if node.name == "StreamingRelation":
            raise NotModelled(
                "the query has no withWatermark before its stateful operator: the model needs one"
            )
        raise NotModelled(_not_modelled(node))
    m = re.search(r", ([^,]+?): \w+, (.+)$", node.args)
    if m is None:
        raise NotModelled(f"cannot read the watermark {node.args[:80]}")
    time_attr, delay_text = P.name_of(m.group(1)), m.group(2).strip()
    delay_ms = _interval_ms(delay_text)
    below = _skip_alias(node.child())
    _refuse_second_watermark(below)
    lower: list[dict[str, str]] = []
    while below.name == "Project":
        lower.append(_renames(below))
        below = _skip_alias(below.child())
    if below.name != "StreamingRelation":
        raise NotModelled(
            f"the model needs withWatermark directly on an input (or a rename of its "
            f"columns); below it is {_not_modelled(below).split(': ')[0].split(' operator ')[-1]}"
        )
    name = _input_of(below, inputs)
    m_cols = re.search(r"\], \[([^\]]*)\]", below.args)
    cols = [P.name_of(c) for c in P.split_top(m_cols.group(1))] if m_cols else []
    mapping = {c: c for c in cols}
    for r in reversed(lower):
        mapping = {new: mapping[old] for new, old in r.items() if old in mapping}
    wm_input = mapping.get(time_attr)
    if wm_input is None:
        raise NotModelled(
            f"the watermark column {time_attr!r} is computed, not an input column: the model "
            "needs the event time as it arrives"
        )
    dedup_keys: tuple[str, ...] | None = None
    for depth in range(len(renames), -1, -1):
        if dedup_at is not None and depth == dedup_at[0]:
            dedup_keys = tuple(mapping[k] for k in dedup_at[1] if k in mapping)
            if len(dedup_keys) != len(dedup_at[1]):
                raise NotModelled(
                    "the model needs dropDuplicatesWithinWatermark before a join on input "
                    f"columns, not on {', '.join(dedup_at[1])}"
                )
        if depth:
            r = renames[depth - 1]
            mapping = {new: mapping[old] for new, old in r.items() if old in mapping}
    return Side(name, wm_input, delay_ms, mapping, dedup_keys), tuple(mapping)


def _renames(node: P.Node) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in node.lists()[0]:
        expr, name = P.alias(e)
        if not P.is_attr(expr):
            raise NotModelled(
                f"the model does not cover a Project computing {expr} before the stateful "
                "operator; compute columns after it, or in the test's input"
            )
        out[name] = P.name_of(expr)
    return out


def _input_of(rel: P.Node, inputs: Mapping[str, Any]) -> str:
    m = re.search(r"FileSource\[([^\]]+)\]", rel.args)
    if m:
        path = m.group(1).rstrip("/")
        for name in inputs:
            if path.endswith(f"/inputs/{name}"):
                return name
    if len(inputs) == 1:
        return next(iter(inputs))
    raise NotModelled(f"cannot tell which input {rel.args[:60]} reads")


def _interval_ms(text: str) -> int:
    text = text.strip().strip("'")
    m = re.fullmatch(r"INTERVAL '(-?[\d.]+)' (\w+)", text)
    if m:
        text = f"{m.group(1)} {m.group(2).lower()}s"
    try:
        return to_millis(text, what="watermark delay")
    except StreamlabError:
        raise NotModelled(f"the model cannot read the interval {text!r}") from None


def _join_shape(node: P.Node, inputs: Mapping[str, Any], policy: Policy, project: Any) -> Shape:
    kind, _, cond = node.args.partition(", ")
    if kind not in ("Inner", "LeftOuter", *_TYPED_JOINS):
        raise NotModelled(
            "the model covers inner, left outer, right outer, full outer and left semi joins, "
            f"not {kind}"
        )
    windowed = [_windowed_side(c, inputs) for c in node.children]
    if windowed[0] is not None and windowed[1] is not None:
        (left, lcols, lspec, lwin), (right, rcols, rspec, rwin) = windowed[0], windowed[1]
        if lspec != rspec or not lspec.tumbling:
            raise NotModelled("the model covers joins on equal tumbling windows of one size")
        window_names: tuple[str, str] | None = (lwin, rwin)
    elif windowed[0] is not None or windowed[1] is not None:
        raise NotModelled("the model covers joins with a window on both sides or on neither")
    else:
        left, lcols = _side(node.children[0], inputs, dedup=True)
        right, rcols = _side(node.children[1], inputs, dedup=True)
        window_names, lspec = None, None
    lnames, rnames = set(lcols), set(rcols)
    keys: list[tuple[str, str]] = []
    lower: int | None = None
    upper: int | None = None
    equal_times = False
    equal_windows = False
    filters: tuple[list[tuple[str, str, float, bool]], list[tuple[str, str, float, bool]]]
    filters = ([], [])
    for part in P.split_and(cond):
        one_side = _side_filter(part)
        if one_side is not None:
            col, op, value, cast = one_side
            if col in lnames:
                filters[0].append((left.names[col], op, value, cast))
                continue
            if col in rnames:
                filters[1].append((right.names[col], op, value, cast))
                continue
        m = re.fullmatch(r"(.+?) (=|>=|<=|>|<) (.+)", part)
        if m is None:
            raise NotModelled(f"the model does not cover the join condition {part}")
        a, op, b = m.group(1), m.group(2), m.group(3)
        if (
            window_names is not None
            and op == "="
            and {P.name_of(a), P.name_of(b)} == set(window_names)
        ):
            equal_windows = True
            continue
        ta, tb = _timed(a), _timed(b)
        if op == "=" and P.is_attr(a) and P.is_attr(b):
            na, nb = P.name_of(a), P.name_of(b)
            if na in rnames and nb in lnames:
                na, nb = nb, na
            if (
                na in lnames
                and nb in rnames
                and left.names[na] == left.time
                and right.names[nb] == right.time
            ):
                equal_times = True  # t1 = t2: the event time is part of the join key
                continue
            if na in lnames and nb in rnames:
                keys.append((left.names[na], right.names[nb]))
                continue
            if nb in lnames and na in rnames:
                keys.append((left.names[nb], right.names[na]))
                continue
        if ta is None or tb is None or op in ("=", ">", "<"):
            raise NotModelled(f"the model does not cover the join condition {part}")
        # Write it as: right_time OP left_time + c.
        (xa, ca), (xb, cb) = ta, tb
        if right.names.get(xa) == right.time and left.names.get(xb) == left.time:
            c = cb - ca
        elif left.names.get(xa) == left.time and right.names.get(xb) == right.time:
            op = {">=": "<=", "<=": ">="}[op]
            c = ca - cb
        else:
            raise NotModelled(f"the model covers time ranges on the watermark columns: {part}")
        if op == ">=":
            lower = c
        else:
            upper = c
    if window_names is not None:
        if not equal_windows or lower is not None or upper is not None:
            raise NotModelled("the model covers windowed joins on equal windows (and keys)")
    elif equal_times and (lower is not None or upper is not None):
        raise NotModelled("the model covers equal event times or a time range, not both")
    elif not equal_times and (not keys or lower is None or upper is None):
        raise NotModelled("the model covers joins on equal keys within a time range (both bounds)")
    return Shape(
        "join",
        (left, right),
        join_keys=tuple(keys),
        lower_ms=lower or 0,
        upper_ms=upper or 0,
        equal_times=equal_times,
        join_window=lspec if window_names is not None else None,
        side_filters=(tuple(filters[0]), tuple(filters[1])),
        outer=kind == "LeftOuter",
        policy=policy,
        side_columns=(lcols, rcols),
        project=project,
        how=_TYPED_JOINS.get(kind, ""),
    )


def _timed(expr: str) -> tuple[str, int] | None:
    """Parse ``t#1``, ``cast(t#1 + INTERVAL '10' MINUTE as timestamp)`` into (name, ms)."""
    e = P.strip_parens(expr)
    m = re.fullmatch(r"cast\((.*) as timestamp\)", e)
    if m:
        e = P.strip_parens(m.group(1))
    m = re.fullmatch(r"(\S+#\d+L?(?:-T\d+ms)?)(?: ([+-]) (INTERVAL '[^']+' \w+))?", e)
    if m is None:
        return None
    offset = 0
    if m.group(3):
        offset = _interval_ms(m.group(3)) * (-1 if m.group(2) == "-" else 1)
    return P.name_of(m.group(1)), offset


_WINDOW_COLUMN = "\x00window"
"""The input "column" a windowed side's window is read from (computed from its event time)."""


def _windowed_side(
    node: P.Node, inputs: Mapping[str, Any]
) -> tuple[Side, tuple[str, ...], WindowSpec, str] | None:
    """Return a join side that selects a tumbling window of its event time, or None.

    ``select(key, window(time, "10 seconds").alias(w), value)`` over ``withWatermark(time,
    ...)``; the selections above the window may rename columns.
    """
    node = _skip_alias(node)
    maps: list[dict[str, str]] = []
    top: list[str] | None = None
    spec: WindowSpec | None = None
    name = ""
    while node.name in ("Project", "Filter"):
        if node.name == "Filter":
            if not re.fullmatch(rf"isnotnull\({_ATTR}\)", node.args.strip()):
                return None
        else:
            exprs = [P.alias(e) for e in node.lists()[0]]
            if top is None:
                top = [n for _, n in exprs]
            if "named_struct(start" in node.args:
                if spec is not None:
                    return None
                spec, name = _window_of(node)
            elif spec is None and all(P.is_attr(e) for e, _ in exprs):
                maps.append({n: P.name_of(e) for e, n in exprs})
            else:
                return None
        node = _skip_alias(node.child())
    if spec is None or top is None or node.name != "EventTimeWatermark":
        return None
    side, _ = _side(node, inputs)
    names: dict[str, str] = {}
    for out in top:
        src = out
        for m in maps:
            src = m.get(src, src)
        if src == name:
            names[out] = _WINDOW_COLUMN
        elif src in side.names:
            names[out] = side.names[src]
    window_name = next((o for o, src in names.items() if src == _WINDOW_COLUMN), name)
    cols = tuple(n for n in top if n in names)
    return replace(side, names=names), cols, spec, window_name


def _side_filter(part: str) -> tuple[str, str, float, bool] | None:
    """``leftValue#2 > 4`` or ``cast(rightValue#5 as int) > 7``: (column, op, number, cast)."""
    m = re.fullmatch(
        r"\(?(?:cast\((\S+#\d+L?) as int\)|(\S+#\d+L?))\)? (>=|<=|>|<|=) (-?\d+(?:\.\d+)?)",
        part.strip(),
    )
    if m is None:
        return None
    col = m.group(1) or m.group(2)
    return P.name_of(col), m.group(3), float(m.group(4)), m.group(1) is not None


def _passes(filters: Sequence[tuple[str, str, float, bool]], row: Mapping[str, Any]) -> bool:
    for col, op, value, cast in filters:
        v = row.get(col)
        if v is None:
            return False
        if cast:
            try:
                v = int(v)
            except (TypeError, ValueError):
                return False
        ok = {">": v > value, ">=": v >= value, "<": v < value, "<=": v <= value, "=": v == value}
        if not ok[op]:
            return False
    return True


def _value(shape: Shape, side: int, row: Mapping[str, Any], src: str) -> Any:
    """Return an output column of one join side; a windowed side's window from its time."""
    if src != _WINDOW_COLUMN:
        return row.get(src)
    w = shape.join_window
    t = row.get(shape.sides[side].time)
    if w is None or t is None:
        return None
    ms = _ms(t)
    start = ms - (ms - w.start_ms) % w.size_ms
    return (_dt(start), _dt(start + w.size_ms))


# --- running the model ------------------------------------------------------------------------


def predict(shape: Shape, landed: Landed, restarts: frozenset[int] = frozenset()) -> Prediction:
    """Run the model for ``shape`` over every landed batch."""
    if shape.kind in ("modes", "distinct"):
        return _prediction_modes(shape, landed, restarts)
    if shape.kind == "chain":
        return _prediction_chain(shape, landed, restarts)
    n = len(landed)
    sides = shape.sides
    per_side: list[list[list[Mapping[str, Any]]]] = [
        [list(rows) if name == s.input else [] for name, rows in landed] for s in sides
    ]
    rows_of = [_model_rows(shape, i, per_side[i]) for i in range(len(sides))]
    maxima = [batch_maxima(r.batch, r.time_ms, r.valid, n) for r, _ in rows_of]
    infos = plan_batches(
        [InputWatermark(s.input, s.delay_ms) for s in sides],
        maxima,
        data_batches=n,
        policy=shape.policy,
        trigger=Trigger.PROCESSING_TIME,
        restarts=restarts,
    )
    out: dict[int, list[dict[str, Any]]] = {}
    state = np.zeros(len(infos), dtype=np.int64)
    late: dict[int, list[dict[str, Any]]] = {}
    emitted: dict[tuple[Any, ...], int] = {}
    if shape.kind == "window":
        state, emitted = _predict_window(shape, rows_of[0], infos, out, late)
    elif shape.kind == "join" and (
        shape.how
        or shape.equal_times
        or shape.join_window
        or any(s.dedup_keys is not None for s in sides)
    ):
        state = _predict_typed_join(shape, rows_of, infos, out, late)
    elif shape.kind == "dedup":
        rows, flat = rows_of[0]
        dd = deduplicate(rows, infos, sides[0].delay_ms)
        spark_of = _spark_of(infos)
        for i in range(len(rows)):
            if dd.outcome[i] == KEPT:
                b = spark_of[int(rows.batch[i])]
                out.setdefault(b, []).append(_side_row(shape, 0, flat[i]))
            elif dd.outcome[i] == DEDUP_LATE:
                late.setdefault(int(rows.batch[i]), []).append(dict(flat[i]))
        state = dd.state_rows
    else:
        (lrows, lflat), (rrows, rflat) = rows_of
        jo = join(lrows, rrows, infos, JoinCondition(shape.lower_ms, shape.upper_ms, shape.outer))
        for i, j, b in jo.pairs:
            out.setdefault(b, []).append(
                {**_side_row(shape, 0, lflat[i]), **_side_row(shape, 1, rflat[j])}
            )
        for i, b in jo.null_rows:
            nulls = dict.fromkeys(shape.side_columns[1])
            out.setdefault(b, []).append({**_side_row(shape, 0, lflat[i]), **nulls})
        for rows, flat, outcome in (
            (lrows, lflat, jo.left_outcome),
            (rrows, rflat, jo.right_outcome),
        ):
            for i in np.flatnonzero(outcome == JOIN_LATE).tolist():
                late.setdefault(int(rows.batch[i]), []).append(dict(flat[i]))
        state = jo.state_rows
    return _prediction(shape, infos, out, state, late, emitted)


def _prediction(
    shape: Shape,
    infos: list[BatchInfo],
    out: dict[int, list[dict[str, Any]]],
    state: Any,
    late: dict[int, list[dict[str, Any]]],
    emitted: dict[tuple[Any, ...], int] | None = None,
) -> Prediction:
    """Return the prediction of a run: each batch's rows (projected), watermarks, state rows."""
    project = _project_fn(shape)
    batches = [
        ModelBatch(
            batch=b.batch,
            data_step=b.data_batch,
            late_watermark=b.late_watermark,
            eviction_watermark=b.eviction_watermark,
            next_watermark=b.next_watermark,
            rows=[project(r) for r in out.get(b.batch, [])],
            state_rows=int(state[b.batch]) if len(state) else 0,
        )
        for b in infos
    ]
    return Prediction(shape, batches, late, emitted or {})


def _model_rows(
    shape: Shape, side: int, batches: list[list[Mapping[str, Any]]]
) -> tuple[Rows, list[Mapping[str, Any]]]:
    s = shape.sides[side]
    flat: list[Mapping[str, Any]] = []
    model: list[list[tuple[str, int | None, str]]] = []
    for rows in batches:
        batch = []
        for r in rows:
            idx = len(flat)
            flat.append(r)
            t = r.get(s.time)
            ms = _ms(t) if t is not None else None
            if shape.kind == "join":
                cols = [k[side] for k in shape.join_keys]
                key = repr(tuple(r.get(c) for c in cols))
                group = f"row{idx}"
            else:
                key = (
                    repr(tuple(r.get(k) for k in shape.dedup_keys))
                    if shape.dedup_keys is not None
                    else f"row{idx}"
                )
                group = repr(tuple(r.get(g) for g in shape.groups))
            batch.append((key, ms, group))
        model.append(batch)
    return Rows.from_batches(model), flat


def _predict_window(
    shape: Shape,
    rows_flat: tuple[Rows, list[Mapping[str, Any]]],
    infos: list[BatchInfo],
    out: dict[int, list[dict[str, Any]]],
    late: dict[int, list[dict[str, Any]]],
) -> tuple[Any, dict[tuple[Any, ...], int]]:
    rows, flat = rows_flat
    assert shape.window is not None
    state = np.zeros(len(infos), dtype=np.int64)
    reached = rows.valid.copy()
    if shape.dedup_keys is not None:
        dd = deduplicate(rows, infos, shape.sides[0].delay_ms)
        reached = dd.outcome == KEPT
        state = state + dd.state_rows
        for i in np.flatnonzero(dd.outcome == DEDUP_LATE).tolist():
            late.setdefault(int(rows.batch[i]), []).append(dict(flat[i]))
    agg = aggregate(rows, reached, infos, shape.window)
    state = state + agg.state_rows
    c = agg.contributions
    members: dict[int, list[int]] = {}
    counted: set[int] = set()
    for member, w in zip(c.row.tolist(), c.window.tolist(), strict=True):
        if w >= 0:
            members.setdefault(w, []).append(member)
            counted.add(member)
    for lost in sorted(set(c.row.tolist()) - counted):
        late.setdefault(int(rows.batch[lost]), []).append(dict(flat[lost]))
    emitted: dict[tuple[Any, ...], int] = {}
    for w_idx, w in enumerate(agg.windows):
        group = _group_values(shape, flat, members.get(w_idx, []))
        start, end = _dt(w.start), _dt(w.end)
        if w.emitted_batch is None:
            continue
        emitted[(start, end, *group)] = w.emitted_batch
        row: dict[str, Any] = {shape.window_name: (start, end)}
        row.update(zip(shape.group_names, group, strict=True))
        for a in shape.aggs:
            row[a.name] = _aggregate(a, [flat[i] for i in members.get(w_idx, [])])
        out.setdefault(w.emitted_batch, []).append(row)
    return state, emitted


def _group_values(
    shape: Shape, flat: Sequence[Mapping[str, Any]], rows: list[int]
) -> tuple[Any, ...]:
    if not rows:
        return tuple(None for _ in shape.groups)
    return tuple(flat[rows[0]].get(g) for g in shape.groups)


def _aggregate(a: Agg, rows: list[Mapping[str, Any]]) -> Any:
    if a.func == "count":
        if a.column is None:
            return len(rows)
        return sum(1 for r in rows if r.get(a.column) is not None)
    values: list[Any] = [r[a.column] for r in rows if a.column and r.get(a.column) is not None]
    if not values:
        return None
    if a.func == "sum":
        return sum(values)
    if a.func == "min":
        return min(values)
    if a.func == "max":
        return max(values)
    return sum(values) / len(values)


def _side_row(shape: Shape, side: int, row: Mapping[str, Any]) -> dict[str, Any]:
    names = shape.sides[side].names
    return {out: row.get(src) for out, src in names.items()}


def _spark_of(infos: list[BatchInfo]) -> dict[int, int]:
    return {b.data_batch: b.batch for b in infos if b.data_batch is not None}


def _project_fn(shape: Shape) -> Callable[[dict[str, Any]], dict[str, Any]]:
    if shape.project is None:
        return lambda r: r
    parts = [(name, _projector(expr)) for expr, name in shape.project]
    return lambda r: {name: fn(r) for name, fn in parts}


def _projector(expr: str) -> Callable[[Mapping[str, Any]], Any]:
    """Return a function computing a final projection's column, for the forms it supports.

    Columns, ``w.start``/``w.end`` of a window, ``coalesce(a, b, ...)`` and casts to long (a
    timestamp as epoch seconds), nested in any order.
    """
    e = expr.strip()
    fn = _expression(e)
    if fn is None:
        raise NotModelled(
            f"the model does not cover the final projection {e}; select columns, window.start, "
            "window.end, coalesce(...) or their casts to long"
        )
    return fn


def _expression(text: str) -> Callable[[Mapping[str, Any]], Any] | None:
    e = P.strip_parens(text)
    if P.is_attr(e):
        name = P.name_of(e)
        return lambda r: r.get(name)
    m = re.fullmatch(r"cast\((.+) as (?:bigint|int)\)", e)
    if m:
        inner = _expression(m.group(1))
        if inner is None:
            return None

        def seconds(r: Mapping[str, Any]) -> Any:
            v = inner(r)
            if v is None:
                return None
            return _ms(v) // 1000 if isinstance(v, datetime) else int(v)

        return seconds
    m = re.fullmatch(r"(.+)\.(start|end)", e)
    if m:
        part = _expression(m.group(1))
        at = 0 if m.group(2) == "start" else 1
        if part is None:
            return None
        return lambda r: _at(part(r), at)
    m = re.fullmatch(r"coalesce\((.*)\)", e)
    if m:
        parts = [_expression(a) for a in P.split_top(m.group(1))]
        if any(f is None for f in parts):
            return None
        fns = [f for f in parts if f is not None]
        return lambda r: next((v for v in (f(r) for f in fns) if v is not None), None)
    return None


def _at(v: Any, idx: int) -> Any:
    return None if v is None else v[idx]


def _ms(value: Any) -> int:
    if isinstance(value, datetime):
        return round(value.replace(tzinfo=UTC).timestamp() * 1000)
    raise StreamlabError(f"event time {value!r} is not a timestamp")


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)


def _dur(ms: int) -> str:
    for unit, size in (("hour", 3_600_000), ("minute", 60_000), ("second", 1000)):
        if ms and ms % size == 0:
            n = ms // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{ms} ms"


# --- right outer, full outer and left semi joins ----------------------------------------------

_TYPED_JOINS = {"RightOuter": "right_outer", "FullOuter": "full_outer", "LeftSemi": "left_semi"}
"""Join types of the analyzed plan modelled by :func:`streamlab.model.joins.join_typed`."""


def _predict_typed_join(
    shape: Shape,
    rows_of: list[tuple[Rows, list[Mapping[str, Any]]]],
    infos: list[BatchInfo],
    out: dict[int, list[dict[str, Any]]],
    late: dict[int, list[dict[str, Any]]],
    *,
    qualify: bool = False,
) -> Any:
    """Fill ``out`` and ``late`` for a join of any type; return the state rows per batch.

    With ``qualify`` the output columns are named ``0:name`` (left) and ``1:name`` (right), as
    the operator after the join reads them (both sides may have a column of the same name).
    """
    rows_of, dedup_state = _deduplicated(shape, rows_of, infos, late)
    (lrows, lflat), (rrows, rflat) = rows_of
    jo = _run_join(shape, rows_of, infos)

    def side(k: int, row: Mapping[str, Any] | None) -> dict[str, Any]:
        names = shape.sides[k].names
        prefix = f"{k}:" if qualify else ""
        return {
            f"{prefix}{o}": None if row is None else _value(shape, k, row, src)
            for o, src in names.items()
        }

    for i, j, b in jo.pairs:
        out.setdefault(b, []).append({**side(0, lflat[i]), **side(1, rflat[j])})
    for i, b in jo.left_nulls:
        out.setdefault(b, []).append({**side(0, lflat[i]), **side(1, None)})
    for j, b in jo.right_nulls:
        out.setdefault(b, []).append({**side(0, None), **side(1, rflat[j])})
    for i, b in jo.semi:
        out.setdefault(b, []).append(side(0, lflat[i]))
    for rows, flat, outcome in (
        (lrows, lflat, jo.left_outcome),
        (rrows, rflat, jo.right_outcome),
    ):
        for i in np.flatnonzero(outcome == JOIN_LATE).tolist():
            late.setdefault(int(rows.batch[i]), []).append(dict(flat[i]))
    return jo.state_rows + dedup_state


def _deduplicated(
    shape: Shape,
    rows_of: list[tuple[Rows, list[Mapping[str, Any]]]],
    infos: list[BatchInfo],
    late: dict[int, list[dict[str, Any]]],
) -> tuple[list[tuple[Rows, list[Mapping[str, Any]]]], Any]:
    """Keep what each side's ``dropDuplicatesWithinWatermark`` keeps (rule C9).

    The deduplication passes its input watermark on, so it and the join run on the same plan of
    batches; it drops its late rows first (added to ``late``). Return each side's kept rows and
    the deduplications' state rows per batch.
    """
    state = np.zeros(len(infos), dtype=np.int64)
    out = []
    for side, (rows, flat) in zip(shape.sides, rows_of, strict=True):
        if side.dedup_keys is None:
            out.append((rows, flat))
            continue
        keys = np.empty(len(flat), dtype=object)
        keys[:] = [repr(tuple(r.get(k) for k in side.dedup_keys)) for r in flat]
        dd = deduplicate(replace(rows, key=keys), infos, side.delay_ms)
        for i in np.flatnonzero(dd.outcome == DEDUP_LATE).tolist():
            late.setdefault(int(rows.batch[i]), []).append(dict(flat[i]))
        kept = np.flatnonzero(dd.outcome == KEPT)
        out.append((rows.take(kept), [flat[i] for i in kept.tolist()]))
        state = state + dd.state_rows
    return out, state


def _run_join(
    shape: Shape, rows_of: list[tuple[Rows, list[Mapping[str, Any]]]], infos: list[BatchInfo]
) -> Any:
    from streamlab.model.joins import JoinType, join_typed

    how = JoinType(shape.how) if shape.how else JoinType.INNER
    if not shape.how and shape.outer:
        how = JoinType.LEFT_OUTER
    (lrows, lflat), (rrows, rflat) = rows_of
    cond = JoinCondition(shape.lower_ms, shape.upper_ms)
    lf, rf = shape.side_filters
    return join_typed(
        lrows,
        rrows,
        infos,
        cond,
        how,
        time_in_key=shape.equal_times,
        window=shape.join_window,
        left_keep=np.array([_passes(lf, r) for r in lflat], dtype=bool) if lf else None,
        right_keep=np.array([_passes(rf, r) for r in rflat], dtype=bool) if rf else None,
    )


# --- chained stateful operators: a window aggregation after a join or an aggregation ----------

_ATTR = r"\S+?#\d+L?(?:-T\d+ms)?"
_WINDOW_TIME = re.compile(
    rf"precisetimestampconversion\(\(precisetimestampconversion\(({_ATTR})\.end, "
    r"TimestampType, LongType\) - 1\), LongType, TimestampType\)"
)
"""``window_time(w)``, which Spark puts in when a window is computed over a window column."""
_WINDOW_INPUT = re.compile(
    r"precisetimestampconversion\(((?:(?!precisetimestampconversion)[^,])+?#\d+L?(?:-T\d+ms)?), "
    r"TimestampType, LongType\)"
)
"""The column a window is computed over, inside the window's generated expression."""


def _chain_shape(
    agg: P.Node, inputs: Mapping[str, Any], mode: str, policy: Policy, project: Any
) -> Shape | None:
    """Recognise a window aggregation over a join's or an aggregation's output, or None."""
    grouping, outputs = agg.lists()[:2]
    node = agg.child()
    spec: WindowSpec | None = None
    window_attr = ""
    time_ref = ""
    window_times: dict[str, str] = {}
    while node.name in ("Filter", "Project", "Expand", "SubqueryAlias"):
        if node.name == "Filter":
            if not re.fullmatch(rf"isnotnull\({_ATTR}\)", node.args.strip()):
                return None
        elif node.name == "Expand" or "named_struct(start" in node.args:
            try:
                spec, window_attr = _window_of(node)
            except NotModelled:
                return None  # a session window, say: not a chain's window
            m = _WINDOW_INPUT.search(node.args)
            if m is None:
                return None
            time_ref = m.group(1)
        elif node.name == "Project":
            for e in node.lists()[0]:
                expr, name = P.alias(e)
                wt = _WINDOW_TIME.fullmatch(expr)
                if wt:
                    window_times[name] = P.name_of(wt.group(1))
                elif not re.fullmatch(_ATTR, expr):
                    return None
        node = node.child()
    below = _skip_alias(node)
    if below.name not in ("Aggregate", "Join"):
        return None
    if spec is None:
        raise NotModelled(
            "the model covers a window aggregation after another stateful operator; this "
            f"aggregation has no window: {agg.args[:80]}"
        )
    if mode != "append" and below.name == "Aggregate":
        raise NotModelled(
            f"Spark refuses an aggregation after an aggregation in {mode} mode: the first can "
            "emit rows behind the watermark, which the second would drop as late "
            "(UnsupportedOperationChecker.checkStreamingQueryGlobalWatermarkLimit); use append "
            "mode"
        )
    if mode != "append":
        raise NotModelled(
            f"the model covers a window aggregation after a join in append mode; Spark runs it "
            f"in {mode} mode too, which the model does not cover"
        )
    if below.name == "Aggregate":
        up = _recognise(below, inputs, "append", policy)
        if up.kind not in ("window", "chain"):
            raise NotModelled(
                f"the model covers a window aggregation after a window aggregation; below this "
                f"one is {up.describe()}"
            )
        sides_of: list[set[str]] = []
    else:
        up = _join_shape(below, inputs, policy, None)
        sides_of = [_attr_ids(c) for c in below.children]

    def key(ref: str) -> str:
        name = P.name_of(ref)
        if not sides_of:
            return name
        ident = re.search(r"#(\d+)", ref)
        for k, ids in enumerate(sides_of):
            if ident and ident.group(1) in ids:
                return f"{k}:{name}"
        raise NotModelled(f"cannot tell which side of the join {name!r} comes from")

    from_window = P.name_of(time_ref) in window_times
    time_key = window_times[P.name_of(time_ref)] if from_window else key(time_ref)
    groups: list[str] = []
    for g in grouping:
        if P.name_of(g) == window_attr:
            continue
        if not re.fullmatch(_ATTR, g.strip()):
            raise NotModelled(f"the model does not cover grouping by the expression {g}")
        groups.append(key(g))
    aggs: list[Agg] = []
    group_names: list[str] = []
    window_name = "window"
    for out in outputs:
        expr, name = P.alias(out)
        if re.fullmatch(_ATTR, expr):
            if P.name_of(expr) == window_attr:
                window_name = name
            else:
                group_names.append(name)
            continue
        m = re.fullmatch(r"(\w+)\((.*)\)", expr)
        if m is None or m.group(1).lower() not in _AGGS:
            raise NotModelled(f"the model does not cover the aggregate {expr}")
        arg = m.group(2).strip()
        func = m.group(1).lower().replace("mean", "avg")
        if func == "count" and arg == "1":
            aggs.append(Agg("count", None, name))
        elif re.fullmatch(_ATTR, arg):
            aggs.append(Agg(func, key(arg), name))
        else:
            raise NotModelled(f"the model does not cover the aggregate {expr}")
    return Shape(
        "chain",
        up.sides,
        window=spec,
        window_name=window_name,
        groups=tuple(groups),
        group_names=tuple(group_names),
        aggs=tuple(aggs),
        policy=policy,
        project=project,
        upstream=up,
        time_key=time_key,
        time_from_window=from_window,
    )


def _attr_ids(node: P.Node) -> set[str]:
    """Every attribute id named in ``node``'s subtree (ids are unique within a plan)."""
    ids = set(re.findall(r"#(\d+)", node.args))
    for c in node.children:
        ids |= _attr_ids(c)
    return ids


def _operators(shape: Shape) -> list[Produce]:
    """``produceOutputWatermark`` of each stateful operator of ``shape``, bottom first."""
    from streamlab.model.chain import equal_time_output_watermark, join_output_watermark

    if shape.kind == "chain":
        assert shape.upstream is not None
        return [*_operators(shape.upstream), passthrough]
    if shape.kind == "join":
        if shape.equal_times:
            return [equal_time_output_watermark]
        return [join_output_watermark(JoinCondition(shape.lower_ms, shape.upper_ms))]
    return [passthrough] * (2 if shape.dedup_keys is not None else 1)


def _chain_rows(
    shape: Shape, landed: Landed, restarts: frozenset[int]
) -> tuple[list[BatchInfo], dict[int, list[dict[str, Any]]], Any, dict[int, list[dict[str, Any]]]]:
    """Run ``shape`` (a chain, or the operator at its bottom) over ``landed``.

    Return the query's plan of batches, the operator's output rows per batch (before any final
    projection), its state rows per batch (every operator of the chain) and the input rows
    lost as late, per ``AddData``.
    """
    if shape.kind != "chain":
        n = len(landed)
        per_side = [[list(r) if name == s.input else [] for name, r in landed] for s in shape.sides]
        rows_of = [_model_rows(shape, i, per_side[i]) for i in range(len(shape.sides))]
        maxima = [batch_maxima(r.batch, r.time_ms, r.valid, n) for r, _ in rows_of]
        infos = plan_batches(
            [InputWatermark(s.input, s.delay_ms) for s in shape.sides],
            maxima,
            data_batches=n,
            policy=shape.policy,
            trigger=Trigger.PROCESSING_TIME,
            restarts=restarts,
        )
        out: dict[int, list[dict[str, Any]]] = {}
        late: dict[int, list[dict[str, Any]]] = {}
        if shape.kind == "join":
            state = _predict_typed_join(shape, rows_of, infos, out, late, qualify=True)
        else:
            state, _ = _predict_window(shape, rows_of[0], infos, out, late)
        return infos, out, state, late
    assert shape.upstream is not None
    up = replace(shape.upstream, sides=shape.sides)
    infos, up_out, up_state, late = _chain_rows(up, landed, restarts)
    plan = downstream(infos, _operators(up))
    flat: list[Mapping[str, Any]] = []
    batch: list[int] = []
    times: list[int] = []
    valid: list[bool] = []
    for b in sorted(up_out):
        for r in up_out[b]:
            value = r.get(shape.time_key)
            if shape.time_from_window and value is not None:
                value = value[1]  # window_time(w): the end less 1 µs, 1 ms here
            flat.append(r)
            batch.append(b)
            valid.append(value is not None)
            times.append(0 if value is None else _ms(value) - (1 if shape.time_from_window else 0))
    keys = np.empty(len(flat), dtype=object)
    keys[:] = [f"row{k}" for k in range(len(flat))]
    group = np.empty(len(flat), dtype=object)
    group[:] = [repr(tuple(r.get(g) for g in shape.groups)) for r in flat]
    rows = Rows.from_arrays(
        np.asarray(batch, dtype=np.int64),
        np.asarray(times, dtype=np.int64),
        keys,
        group,
        valid=np.asarray(valid, dtype=bool),
        data_batches=len(infos),
    )
    out = {}
    state, _ = _predict_window(shape, (rows, flat), plan, out, {})
    return infos, out, np.asarray(up_state) + np.asarray(state), late


def _prediction_chain(shape: Shape, landed: Landed, restarts: frozenset[int]) -> Prediction:
    infos, out, state, late = _chain_rows(shape, landed, restarts)
    return _prediction(shape, infos, out, state, late)


# --- output modes, session windows, keys without a window, dropDuplicates ----------------------


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


_COLLECT_SET_SIZE = r"size\(collect_set\((\S+#\d+L?(?:-T\d+ms)?), 0, 0(?:, \w+)?\), \w+\)"
"""``size(collect_set(col))`` as the analyzed plan prints it."""


def _modes_shape(
    agg: P.Node, inputs: Mapping[str, Any], mode: str, policy: Policy, project: Any
) -> Shape | None:
    """Recognise an aggregation the append-mode window path does not cover, or return None."""
    grouping, outputs = agg.lists()[:2]
    node = agg.child()
    spec: WindowSpec | None = None
    window_attr: str | None = None
    gap_ms: int | None = None
    while node.name in ("Filter", "Project", "Expand"):
        if node.name == "Filter":
            if re.search(r"\.end > \S+\.start", node.args):
                raise NotModelled(
                    "the model's ModelAnswer covers session_window with a fixed gap; a gap "
                    "computed per row is modelled by streamlab.model.session (gaps=...) only"
                )
            if not re.fullmatch(r"isnotnull\([^()]+\)", node.args.strip()):
                raise NotModelled(_not_modelled(node))
        elif "precisetimestampconversion" in node.args:
            m = re.search(r"\+ cast\((\d+ \w+) as interval\) as timestamp\)", node.args)
            if m and " % " not in node.args:
                gap_ms = _interval_ms(m.group(1))
                named = re.search(r"\) AS ([^,\]\s]+)", node.args[m.end() :])
                window_attr = P.name_of(named.group(1)) if named else "session_window"
            else:
                spec, window_attr = _window_of(node)
        elif node.name == "Project" and all(P.is_attr(e) for e in node.lists()[0]):
            pass
        else:
            raise NotModelled(_not_modelled(node))
        node = node.child()
    dedup_keys: tuple[str, ...] | None = None
    node = _skip_alias(node)
    if node.name == "DeduplicateWithinWatermark":
        dedup_keys = tuple(P.name_of(k) for k in node.lists()[0])
        node = node.child()
    try:
        side, _ = _side(node, inputs)
    except NotModelled:
        plain = _unwatermarked_side(node, inputs)
        if plain is None or spec is not None or gap_ms is not None or dedup_keys is not None:
            raise
        side = plain
    time_attr = next((n for n, src in side.names.items() if src == side.time), None)
    groups: list[str] = []
    time_key = False
    for g in grouping:
        name = P.name_of(g)
        if name == window_attr:
            continue
        if not P.is_attr(g):
            raise NotModelled(f"the model does not cover grouping by the expression {g}")
        if name == time_attr:
            time_key = True
            continue
        groups.append(side.names.get(name, name))
    kind = (
        "session"
        if gap_ms is not None
        else ("window" if spec is not None else ("time" if time_key else "none"))
    )
    if kind in ("window", "session") and time_key:
        raise NotModelled("the model does not cover grouping by a window and the event time")
    aggs: list[Agg] = []
    cols: list[tuple[str, str]] = []
    group_names: list[str] = []
    collect_set = False
    for out in outputs:
        expr, name = P.alias(out)
        if P.is_attr(expr):
            src = P.name_of(expr)
            if src == window_attr:
                cols.append(("window", name))
            elif time_key and src == time_attr:
                cols.append(("time", name))
            else:
                cols.append((f"group:{side.names.get(src, src)}", name))
                group_names.append(name)
            continue
        m = re.fullmatch(_COLLECT_SET_SIZE, expr)
        if m:
            col = P.name_of(m.group(1))
            cols.append((f"agg:{len(aggs)}", name))
            aggs.append(Agg("distinct", side.names.get(col, col), name))
            collect_set = True
            continue
        m = re.fullmatch(r"(\w+)\((.*)\)", expr)
        if m is None or m.group(1).lower() not in _AGGS:
            raise NotModelled(f"the model does not cover the aggregate {expr}")
        arg = m.group(2).strip()
        cols.append((f"agg:{len(aggs)}", name))
        if m.group(1) == "count" and arg == "1":
            aggs.append(Agg("count", None, name))
        elif P.is_attr(arg):
            col = P.name_of(arg)
            aggs.append(Agg(m.group(1).replace("mean", "avg"), side.names.get(col, col), name))
        else:
            raise NotModelled(f"the model does not cover the aggregate {expr}")
    if kind == "window" and mode == "append" and not collect_set:
        return None  # the append-mode window path (_window_shape) covers it
    from streamlab.model.modes import ModeRefused, OutputMode, SessionSpec, check_mode

    grouping_spec = spec if kind == "window" else (SessionSpec(gap_ms or 1) if gap_ms else None)
    try:
        check_mode(grouping_spec, OutputMode(mode), time_in_keys=time_key, has_keys=bool(groups))
    except ModeRefused as exc:
        raise NotModelled(f"Spark refuses this query, and so does the model: {exc}") from None
    if dedup_keys is not None:
        dedup_keys = tuple(side.names.get(k, k) for k in dedup_keys)
    return Shape(
        "modes",
        (side,),
        window=spec,
        window_name=window_attr or "window",
        groups=tuple(groups),
        group_names=tuple(group_names),
        aggs=tuple(aggs),
        dedup_keys=dedup_keys,
        policy=policy,
        project=project,
        modes=ModesPlan(mode, kind, gap_ms or 0, tuple(cols)),
    )


def _distinct_shape(node: P.Node, inputs: Mapping[str, Any], policy: Policy, project: Any) -> Shape:
    """``withWatermark(...).dropDuplicates(keys)``: the keys, with or without the event time."""
    keys = tuple(P.name_of(k) for k in node.lists()[0])
    side, cols = _side(node.child(), inputs)
    input_keys = tuple(side.names.get(k, k) for k in keys)
    return Shape(
        "distinct",
        (side,),
        dedup_keys=input_keys,
        side_columns=(cols,),
        policy=policy,
        project=project,
        modes=ModesPlan("append", "time" if side.time in input_keys else "none"),
    )


def _predict_modes(
    shape: Shape, landed: Landed, restarts: frozenset[int]
) -> tuple[list[BatchInfo], dict[int, list[dict[str, Any]]], Any, dict[int, list[dict[str, Any]]]]:
    """Run the model for a ``modes`` or ``distinct`` shape: batches, rows per batch, state, late."""
    from streamlab.model.distinct import drop_duplicates
    from streamlab.model.modes import OutputMode, SessionSpec, aggregate_modes

    assert shape.modes is not None
    plan = shape.modes
    n = len(landed)
    side = shape.sides[0]
    batches = [list(rows) if name == side.input else [] for name, rows in landed]
    out: dict[int, list[dict[str, Any]]] = {}
    late: dict[int, list[dict[str, Any]]] = {}
    if shape.kind == "distinct":
        keys = shape.dedup_keys or ()
        model: list[list[tuple[str, int | None, str]]] = []
        flat: list[Mapping[str, Any]] = []
        for rows in batches:
            part = []
            for r in rows:
                flat.append(r)
                t = r.get(side.time)
                part.append((repr(tuple(r.get(k) for k in keys)), _ms(t) if t else None, ""))
            model.append(part)
        mrows = Rows.from_batches(model)
        infos = _mode_plan(shape, mrows, n, restarts, no_data=True)
        dd = drop_duplicates(mrows, infos, time_in_key=plan.grouping == "time")
        spark_of = _spark_of(infos)
        for i in range(len(mrows)):
            if dd.outcome[i] == KEPT:
                out.setdefault(spark_of[int(mrows.batch[i])], []).append(
                    _side_row(shape, 0, flat[i])
                )
            elif dd.outcome[i] == DEDUP_LATE:
                late.setdefault(int(mrows.batch[i]), []).append(dict(flat[i]))
        return infos, out, dd.state_rows, late
    mrows, flat = _model_rows(shape, 0, batches)
    if not side.time:  # no watermark: event time plays no part
        mrows = replace(mrows, valid=np.ones(len(mrows), dtype=bool))
    mode = OutputMode(plan.mode)
    infos = _mode_plan(shape, mrows, n, restarts, no_data=mode is not OutputMode.COMPLETE)
    reached = mrows.valid.copy()
    state = np.zeros(len(infos), dtype=np.int64)
    if shape.dedup_keys is not None:
        dd = deduplicate(mrows, infos, side.delay_ms)
        reached = dd.outcome == KEPT
        state = state + dd.state_rows
        for i in np.flatnonzero(dd.outcome == DEDUP_LATE).tolist():
            late.setdefault(int(mrows.batch[i]), []).append(dict(flat[i]))
    grouping: Any = (
        shape.window
        if plan.grouping == "window"
        else (SessionSpec(plan.gap_ms) if plan.grouping == "session" else None)
    )
    res = aggregate_modes(
        mrows,
        reached,
        infos,
        grouping,
        mode,
        aggs=(),
        time_key=plan.grouping == "time",
        keep_members=True,
    )
    state = state + res.state_rows
    counted = set(res.row[~res.late].tolist())
    for lost in sorted(set(res.row[res.late].tolist()) - counted):
        late.setdefault(int(mrows.batch[lost]), []).append(dict(flat[lost]))
    for k in range(len(res.emit_batch)):
        members = [flat[i] for i in res.members[k].tolist()]
        first = members[0] if members else {}
        start, end = int(res.emit_start[k]), int(res.emit_end[k])
        row: dict[str, Any] = {}
        for what, name in plan.outputs:
            if what == "window":
                row[name] = (_dt(start), _dt(end))
            elif what == "time":
                row[name] = _dt(start)
            elif what.startswith("group:"):
                row[name] = first.get(what[6:])
            else:
                a = shape.aggs[int(what[4:])]
                row[name] = _aggregate_ext(a, members)
        out.setdefault(int(res.emit_batch[k]), []).append(row)
    return infos, out, state, late


def _mode_plan(
    shape: Shape, rows: Rows, n: int, restarts: frozenset[int], *, no_data: bool
) -> list[BatchInfo]:
    maxima = [batch_maxima(rows.batch, rows.time_ms, rows.valid, n)]
    return plan_batches(
        [InputWatermark(shape.sides[0].input, shape.sides[0].delay_ms)],
        maxima,
        data_batches=n,
        policy=shape.policy,
        trigger=Trigger.PROCESSING_TIME,
        restarts=restarts,
        no_data_batches=no_data,
    )


def _aggregate_ext(a: Agg, rows: list[Mapping[str, Any]]) -> Any:
    if a.func == "distinct":
        return len({r[a.column] for r in rows if a.column and r.get(a.column) is not None})
    return _aggregate(a, rows)


def _prediction_modes(shape: Shape, landed: Landed, restarts: frozenset[int]) -> Prediction:
    infos, out, state, late = _predict_modes(shape, landed, restarts)
    return _prediction(shape, infos, out, state, late)


def _describe_modes(shape: Shape) -> str:
    assert shape.modes is not None
    plan = shape.modes
    delay = _dur(shape.sides[0].delay_ms)
    if shape.kind == "distinct":
        with_time = "with" if plan.grouping == "time" else "without"
        return f"dropDuplicates {with_time} the event time in the key, watermark delay {delay}"
    if plan.grouping == "session":
        what = f"session windows with a {_dur(plan.gap_ms)} gap"
    elif plan.grouping == "window" and shape.window is not None:
        w = shape.window
        kind = "tumbling" if w.tumbling else f"sliding every {_dur(w.slide_ms)}"
        what = f"{_dur(w.size_ms)} {kind} windows"
    elif plan.grouping == "time":
        what = "groups keyed by the event time"
    else:
        what = "groups without a window"
    return f"{what} in {plan.mode} mode, watermark delay {delay}"


def _refuse_second_watermark(below: P.Node) -> None:
    """Spark 4 fails a query with two ``withWatermark`` on one stream; so does the model."""
    node = below
    while node.name in ("Project", "Filter", "SubqueryAlias"):
        node = node.child()
    if node.name == "EventTimeWatermark":
        raise NotModelled(
            "the query calls withWatermark twice on one stream: Spark 4 fails it once the "
            "watermark moves ('Redefining watermark is disallowed', with "
            "spark.sql.streaming.statefulOperator.allowMultiple on, the default); keep one "
            "withWatermark per input"
        )


def _unwatermarked_side(node: P.Node, inputs: Mapping[str, Any]) -> Side | None:
    """Return the input read without ``withWatermark`` (renames only), or ``None``."""
    renames: list[dict[str, str]] = []
    node = _skip_alias(node)
    while node.name == "Project":
        try:
            renames.append(_renames(node))
        except NotModelled:
            return None
        node = _skip_alias(node.child())
    if node.name != "StreamingRelation":
        return None
    name = _input_of(node, inputs)
    m_cols = re.search(r"\], \[([^\]]*)\]", node.args)
    cols = [P.name_of(c) for c in P.split_top(m_cols.group(1))] if m_cols else []
    mapping = {c: c for c in cols}
    for r in reversed(renames):
        mapping = {new: mapping[old] for new, old in r.items() if old in mapping}
    return Side(name, "", 0, mapping)

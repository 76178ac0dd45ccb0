"""Reading a query's analyzed plan into a shape the model knows, or refusing it in one line.

The refusal names what the model does not cover, or the rule by which Spark refuses the query.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from streamlab.durations import to_millis
from streamlab.errors import StreamlabError
from streamlab.model.watermark import Policy
from streamlab.model.windows import WindowSpec
from streamlab.testing import plan as P
from streamlab.testing.oracle.shapes import (
    _AGGS,
    Agg,
    ModesPlan,
    NotModelled,
    Shape,
    Side,
    _at,
    _ms,
)


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


_TYPED_JOINS = {"RightOuter": "right_outer", "FullOuter": "full_outer", "LeftSemi": "left_semi"}
"""Join types of the analyzed plan modelled by :func:`streamlab.model.joins.join_typed`."""


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

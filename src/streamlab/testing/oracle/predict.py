"""Running the model for a shape over the landed data: the rows Spark must emit, batch by batch.

Each prediction carries the watermarks of every batch, the state rows and the rows lost as late.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from streamlab.model.aggregate import aggregate
from streamlab.model.chain import Produce, downstream, passthrough
from streamlab.model.dedup import KEPT, deduplicate
from streamlab.model.dedup import LATE as DEDUP_LATE
from streamlab.model.events import Rows
from streamlab.model.join import LATE as JOIN_LATE
from streamlab.model.join import JoinCondition, join
from streamlab.model.watermark import BatchInfo, InputWatermark, Trigger, batch_maxima, plan_batches
from streamlab.testing.oracle.recognise import _WINDOW_COLUMN, _projector
from streamlab.testing.oracle.shapes import Agg, Landed, ModelBatch, Prediction, Shape, _dt, _ms


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


def predict(shape: Shape, landed: Landed, restarts: frozenset[int] = frozenset()) -> Prediction:
    """Run the model for ``shape`` over every landed batch."""
    if shape.kind in ("modes", "distinct"):
        return _prediction_modes(shape, landed, restarts)
    if shape.kind == "chain":
        return _prediction_chain(shape, landed, restarts)
    sides = shape.sides
    rows_of, infos = _planned(shape, landed, restarts)
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


def _planned(
    shape: Shape, landed: Landed, restarts: frozenset[int]
) -> tuple[list[tuple[Rows, list[Mapping[str, Any]]]], list[BatchInfo]]:
    """Return each side's model rows and the query's plan of batches, as a live trigger runs."""
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
    return rows_of, infos


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
        rows_of, infos = _planned(shape, landed, restarts)
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

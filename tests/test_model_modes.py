"""The model's output modes, session windows, plain dropDuplicates and restarts, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from streamlab.model import Rows, Trigger, WindowSpec
from streamlab.model.distinct import drop_duplicates
from streamlab.model.modes import (
    AggFunc,
    ModeRefused,
    OutputMode,
    SessionSpec,
    aggregate_modes,
    check_mode,
)
from streamlab.model.watermark import InputWatermark, batch_maxima, plan_batches

S = 1000


def plan(rows: Rows, delay_ms: int, **kw: object) -> list:  # type: ignore[type-arg]
    maxima = batch_maxima(rows.batch, rows.time_ms, rows.valid, rows.data_batches)
    return plan_batches(
        [InputWatermark("e", delay_ms)], [maxima], data_batches=rows.data_batches, **kw
    )  # type: ignore[arg-type]


def test_update_mode_emits_changed_windows_with_their_value_so_far() -> None:
    rows = Rows.from_batches(
        [[("a", 10 * S, "x"), ("b", 11 * S, "x")], [("c", 12 * S, "x"), ("d", 30 * S, "x")]]
    )
    out = aggregate_modes(
        rows, rows.valid, plan(rows, 5 * S), WindowSpec(5 * S, 5 * S), OutputMode.UPDATE
    )
    assert list(zip(out.emit_batch.tolist(), out.emit_start.tolist(), strict=True)) == [
        (0, 10 * S),
        (1, 10 * S),
        (1, 30 * S),
    ]
    assert out.values["count"].tolist() == [2.0, 3.0, 1.0]
    # The no-data batch (watermark 25 s) removes [10 s, 15 s) without emitting it.
    assert out.state_rows.tolist() == [1, 2, 1]


def test_complete_mode_keeps_and_emits_everything_and_drops_nothing() -> None:
    rows = Rows.from_batches([[("a", 10 * S, "x")], [("b", 60 * S, "x")], [("c", 10 * S, "x")]])
    batches = plan(rows, 0, no_data_batches=False)
    assert len(batches) == 3
    out = aggregate_modes(rows, rows.valid, batches, WindowSpec(5 * S, 5 * S), OutputMode.COMPLETE)
    assert out.emit_batch.tolist() == [0, 1, 1, 2, 2]
    assert out.values["count"].tolist() == [1.0, 1.0, 1.0, 2.0, 1.0]
    assert not out.late.any()


def test_aggregates_skip_nulls() -> None:
    rows = Rows.from_batches([[("a", S, "x"), ("b", S, "x"), ("c", S, "y")]])
    v = np.array([3.0, np.nan, np.nan])
    aggs = [AggFunc("count"), AggFunc("count", "v"), AggFunc("sum", "v"), AggFunc("avg", "v")]
    aggs += [AggFunc("min", "v"), AggFunc("max", "v"), AggFunc("distinct", "v")]
    out = aggregate_modes(
        rows, rows.valid, plan(rows, 0), None, OutputMode.UPDATE, aggs=aggs, values={"v": v}
    )
    got = {k: [None if np.isnan(x) else x for x in col.tolist()] for k, col in out.values.items()}
    assert got == {
        "count": [2.0, 1.0],
        "count(v)": [1.0, 0.0],
        "sum(v)": [3.0, None],
        "avg(v)": [3.0, None],
        "min(v)": [3.0, None],
        "max(v)": [3.0, None],
        "distinct(v)": [1.0, 0.0],
    }


def test_sessions_merge_touching_and_across_batches() -> None:
    rows = Rows.from_batches(
        [[("a", 10 * S, "k"), ("b", 15 * S, "k")], [("c", 20 * S, "k"), ("d", 40 * S, "k")], []]
    )
    batches = plan(rows, 0)
    out = aggregate_modes(rows, rows.valid, batches, SessionSpec(5 * S), OutputMode.APPEND)
    # 10 s and 15 s touch, 20 s touches [10 s, 20 s): one session [10 s, 25 s) of three rows.
    assert out.emit_start.tolist() == [10 * S]
    assert out.emit_end.tolist() == [25 * S]
    assert out.values["count"].tolist() == [3.0]


def test_dynamic_gap_leaves_out_rows_with_no_gap() -> None:
    rows = Rows.from_batches([[("a", 10 * S, "k"), ("b", 12 * S, "k"), ("c", 30 * S, "k")]])
    gaps = np.array([1 * S, 0, 5 * S], dtype=np.int64)
    out = aggregate_modes(
        rows,
        rows.valid,
        plan(rows, 0, no_data_batches=False),
        SessionSpec(0),
        OutputMode.COMPLETE,
        gaps=gaps,
    )
    assert list(zip(out.emit_start.tolist(), out.emit_end.tolist(), strict=True)) == [
        (10 * S, 11 * S),
        (30 * S, 35 * S),
    ]


def test_late_session_rows_are_dropped_by_their_own_end() -> None:
    rows = Rows.from_batches([[("a", 40 * S, "k")], [], [("b", 3 * S, "k"), ("c", 30 * S, "k")]])
    out = aggregate_modes(
        rows, rows.valid, plan(rows, 10 * S), SessionSpec(5 * S), OutputMode.APPEND
    )
    # Late watermark 30 s from batch 2: [3 s, 8 s) is late; [30 s, 35 s) is not.
    assert out.late.tolist() == [False, True, False]
    assert out.dropped.sum() == 1


@pytest.mark.parametrize(
    ("grouping", "mode", "match"),
    [
        (None, OutputMode.APPEND, "never closes"),
        (SessionSpec(S), OutputMode.UPDATE, "not supported for session windows"),
    ],
)
def test_refused_like_spark(grouping: object, mode: OutputMode, match: str) -> None:
    with pytest.raises(ModeRefused, match=match):
        check_mode(grouping, mode)  # type: ignore[arg-type]


def test_plain_dropduplicates_with_and_without_the_time_in_the_key() -> None:
    copy = ("k1@10", 10 * S, "")
    rows = Rows.from_batches([[copy, copy], [("z@40", 40 * S, "")], [copy]])
    live = plan(rows, 5 * S, trigger=Trigger.PROCESSING_TIME)
    with_time = drop_duplicates(rows, live, time_in_key=True)
    assert with_time.outcome.tolist() == [0, 2, 0, 1]  # the re-sent copy is late, not new
    assert with_time.expired_batch.tolist()[0] == 3  # the no-data batch at 35 s removes k1
    keyed = Rows.from_batches([[("k1", 10 * S, "")], [("z", 40 * S, "")], [("k1", 38 * S, "")]])
    without = drop_duplicates(keyed, plan(keyed, 5 * S), time_in_key=False)
    assert without.outcome.tolist() == [0, 0, 2]  # the key never leaves state
    assert without.state_rows.tolist()[-1] == 2


def test_a_restart_forgets_each_inputs_watermark() -> None:
    inputs = [InputWatermark("imps", 5 * S), InputWatermark("clicks", 5 * S)]
    maxima = [[100 * S, None, None], [None, 50 * S, 60 * S]]
    plain = plan_batches(inputs, maxima, data_batches=3)
    restarted = plan_batches(inputs, maxima, data_batches=3, restarts=frozenset({2}))
    assert plain[-1].next_watermark == 55 * S
    assert restarted[-1].next_watermark == 45 * S  # impressions count as 0 again


def test_the_reason_names_the_output_mode_the_test_expects() -> None:
    from datetime import datetime

    from streamlab.testing.explain import explain_difference
    from streamlab.testing.oracle import Agg, ModesPlan, Oracle, Shape, Side
    from streamlab.testing.rows import Column, normalize

    shape = Shape(
        "modes",
        (Side("input", "t", 10 * S, {"k": "k", "t": "t"}),),
        groups=("k",),
        group_names=("k",),
        aggs=(Agg("count", None, "count"),),
        modes=ModesPlan("complete", "none", 0, (("group:k", "k"), ("agg:0", "count"))),
    )
    oracle = Oracle(shape, ["k", "count"])
    landed = [
        ("input", [{"k": "a", "t": datetime(2026, 1, 1, 0, 0, 1)}]),
        ("input", [{"k": "b", "t": datetime(2026, 1, 1, 0, 0, 2)}]),
    ]
    pred = oracle.predict(landed)
    assert [b.rows for b in pred.batches] == [
        [{"k": "a", "count": 1}],
        [{"k": "a", "count": 1}, {"k": "b", "count": 1}],
    ]
    columns = [Column("k", "other"), Column("count", "other")]
    # The test's author wrote update-mode rows: only b in the second batch.
    expected = [normalize(("b", 1), columns)]
    history = [(lambda p: p.rows_since(1), expected)]
    why = explain_difference(
        oracle, landed, columns, history, emitted_in=lambda _: None, model_answer=False
    )
    assert why is not None
    assert "the test expects the rows of update mode; the query runs in complete mode" in why

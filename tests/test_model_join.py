"""Stream-stream join: time range, state bounds, NULL rows of the left outer join."""

from __future__ import annotations

from streamlab.model import JoinCondition, ModelConfig, Policy, Rows, simulate
from streamlab.model import join as J

S = 1000


def run(imps, clicks, outer=False, policy=Policy.MIN, delay=2 * S, upper=10 * S):  # type: ignore[no-untyped-def]
    n = max(len(imps), len(clicks))
    imps = list(imps) + [[]] * (n - len(imps))
    clicks = list(clicks) + [[]] * (n - len(clicks))
    left = Rows.from_batches([[(i, t, i) for i, t in b] for b in imps])
    right = Rows.from_batches([[(i, t, c) for c, i, t in b] for b in clicks])
    cfg = ModelConfig(
        pipeline="stream_join", delay_ms=delay, policy=policy, join=JoinCondition(0, upper, outer)
    )
    return simulate({"impressions": left, "clicks": right}, cfg)


def test_range_is_inclusive_at_both_ends() -> None:
    out = run(
        [[("i1", 10 * S)]],
        [
            [
                ("c0", "i1", 10 * S),
                ("c1", "i1", 20 * S),
                ("c2", "i1", 20 * S + 1),
                ("c3", "i1", 10 * S - 1),
            ]
        ],
    )
    assert [(i, j) for i, j, _ in out.join.pairs] == [(0, 0), (0, 1)]


def test_outer_null_row_when_the_impression_leaves_state() -> None:
    # Impression 10 s, range 10 s: it leaves state once 10 s <= E - 10 s - 1 ms, i.e. when the
    # eviction watermark passes 20 s; with both inputs at 40 s - 2 s, batch 2 evicts with 38 s.
    out = run([[("i1", 10 * S)], [("i2", 40 * S)]], [[], [("c", "zz", 40 * S)]], outer=True)
    assert out.join.null_rows == [(0, 2)]
    assert out.join.left_outcome.tolist() == [J.UNMATCHED, J.WAITING]


def test_min_policy_with_an_idle_side_never_emits_null_rows() -> None:
    imps = [[("i1", 10 * S)], [("i2", 40 * S)], [("i3", 60 * S)]]
    assert run(imps, [], outer=True).join.null_rows == []
    assert run(imps, [], outer=True, policy=Policy.MAX).join.null_rows != []


def test_left_row_past_the_bound_still_meets_the_batch_s_clicks() -> None:
    # Both inputs reach 50 s in batch 0, so batch 1 evicts with 48 s but filters late rows with
    # 0. Impression i2 (4 s) is on time yet past its bound (4 s <= 48 s - 10 s - 1 ms): Spark 4
    # stores left rows anyway, so click c (6 s, past its own bound 48 s - 1 ms, never stored)
    # still finds it in the same batch. The pair is emitted; i2 then leaves state matched.
    out = run(
        [[("i0", 50 * S)], [("i2", 4 * S)]],
        [[("z", "q", 50 * S)], [("c", "i2", 6 * S)]],
        outer=True,
    )
    assert [(i, j, b) for i, j, b in out.join.pairs] == [(1, 1, 1)]
    assert out.join.right_outcome.tolist() == [J.WAITING, J.JOINED]

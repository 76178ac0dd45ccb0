"""The vectorized stream-stream join agrees with a row-by-row statement of the same rules.

``tests/support/join_reference.py`` walks the batches one row at a time, with a hash map and a
heap of state per side, as the rules in :mod:`streamlab.model.join` read. Drawn inputs cover
keys held by many rows on both sides, rows with no time, late rows, restarts, every trigger
and policy, and lower bounds on either side of zero; every field of the outcome must agree.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streamlab.model import join as J
from streamlab.model.events import Rows
from streamlab.model.watermark import InputWatermark, Policy, Trigger, batch_maxima, plan_batches
from tests.support.join_reference import join_row_by_row

S = 1000
side_rows = st.lists(
    st.lists(
        st.tuples(
            st.sampled_from(["k1", "k2", "k3", "k4"]), st.one_of(st.none(), st.integers(0, 60))
        ),
        max_size=6,
    ),
    min_size=1,
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(
    side_rows,
    side_rows,
    st.sampled_from([0, 2, 5]),
    st.sampled_from([0, 3]),
    st.sampled_from([(0, 10), (-5, 5), (2, 8), (0, 0)]),
    st.booleans(),
    st.sampled_from(list(Policy)),
    st.sampled_from(list(Trigger)),
    st.frozensets(st.integers(1, 4), max_size=2),
)
def test_the_vectorized_join_is_the_row_by_row_join(
    left_batches: list[list[tuple[str, int | None]]],
    right_batches: list[list[tuple[str, int | None]]],
    left_delay: int,
    right_delay: int,
    bounds: tuple[int, int],
    outer: bool,
    policy: Policy,
    trigger: Trigger,
    restarts: frozenset[int],
) -> None:
    n = max(len(left_batches), len(right_batches))
    left = Rows.from_batches(
        [[(k, t * S if t is not None else None, k) for k, t in b] for b in left_batches]
        + [[]] * (n - len(left_batches))
    )
    right = Rows.from_batches(
        [
            [(k, t * S if t is not None else None, f"c{i}") for i, (k, t) in enumerate(b)]
            for b in right_batches
        ]
        + [[]] * (n - len(right_batches))
    )
    plan = plan_batches(
        [InputWatermark("l", left_delay * S), InputWatermark("r", right_delay * S)],
        [
            batch_maxima(left.batch, left.time_ms, left.valid, n),
            batch_maxima(right.batch, right.time_ms, right.valid, n),
        ],
        data_batches=n,
        policy=policy,
        trigger=trigger,
        restarts=frozenset(r for r in restarts if r < n),
    )
    condition = J.JoinCondition(bounds[0] * S, bounds[1] * S, outer)
    got = J.join(left, right, plan, condition)
    want = join_row_by_row(left, right, plan, condition)
    assert got.pairs == want.pairs
    assert got.null_rows == want.null_rows
    assert got.left_outcome.tolist() == want.left_outcome.tolist()
    assert got.right_outcome.tolist() == want.right_outcome.tolist()
    assert got.left_evicted.tolist() == want.left_evicted.tolist()
    assert got.right_evicted.tolist() == want.right_evicted.tolist()
    assert got.state_rows.tolist() == want.state_rows.tolist()

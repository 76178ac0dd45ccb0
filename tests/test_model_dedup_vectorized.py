"""The vectorized deduplication agrees with a row-by-row statement of the same rules.

``tests/support/dedup_reference.py`` walks each key's rows in order, with the row that holds
the key and the batch its hold ends, as the rules in :mod:`streamlab.model.dedup` read. Drawn
inputs cover keys re-sent across many batches (so a key is held, expires and is held again),
rows with no time, late rows, restarts and every trigger; every field of the outcome must agree.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from streamlab.model.dedup import deduplicate
from streamlab.model.events import Rows
from streamlab.model.watermark import InputWatermark, Trigger, batch_maxima, plan_batches
from tests.support.dedup_reference import deduplicate_row_by_row

S = 1000
batches = st.lists(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c"]), st.one_of(st.none(), st.integers(0, 80))),
        max_size=6,
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=300, deadline=None)
@given(
    batches,
    st.sampled_from([0, 2, 5, 20]),
    st.sampled_from(list(Trigger)),
    st.frozensets(st.integers(1, 7), max_size=2),
)
def test_the_vectorized_deduplication_is_the_row_by_row_one(
    drawn: list[list[tuple[str, int | None]]],
    delay: int,
    trigger: Trigger,
    restarts: frozenset[int],
) -> None:
    rows = Rows.from_batches(
        [[(k, t * S if t is not None else None, "") for k, t in b] for b in drawn]
    )
    n = len(drawn)
    plan = plan_batches(
        [InputWatermark("e", delay * S)],
        [batch_maxima(rows.batch, rows.time_ms, rows.valid, n)],
        data_batches=n,
        trigger=trigger,
        restarts=frozenset(r for r in restarts if r < n),
    )
    got = deduplicate(rows, plan, delay * S)
    want = deduplicate_row_by_row(rows, plan, delay * S)
    assert got.outcome.tolist() == want.outcome.tolist()
    assert got.duplicate_of.tolist() == want.duplicate_of.tolist()
    assert got.expired_batch.tolist() == want.expired_batch.tolist()
    assert got.state_rows.tolist() == want.state_rows.tolist()

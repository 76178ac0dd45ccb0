"""The accounting's parts and when it closes (plain data; the Spark side is in
tests/test_pipelines.py, tests/test_summary.py and tests/test_kill_restart.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streamlab.run.accounting import Accounting

counts = st.integers(min_value=0, max_value=10**7)


@given(counts, counts, counts, counts, counts, st.integers(min_value=1, max_value=100))
def test_duplicates_are_rows_in_minus_rows_kept(
    quarantined: int, dups: int, late: int, emitted: int, open_: int, batches: int
) -> None:
    total = quarantined + dups + late + emitted + open_
    acct = Accounting.from_durable_state(
        input_events=total,
        quarantined=quarantined,
        late_captured=late,
        counted_emitted=emitted,
        counted_open=open_,
        duplicates_reported=dups,
        batches=batches,
        batches_captured=batches,
    )
    assert acct.duplicates_removed == dups
    assert acct.closes and acct.problems == []
    # A kill that cut progress events off leaves Spark's count unknown, nothing else.
    unknown = Accounting.from_durable_state(
        input_events=total,
        quarantined=quarantined,
        late_captured=late,
        counted_emitted=emitted,
        counted_open=open_,
        batches=batches,
        batches_captured=batches,
    )
    assert unknown.closes and unknown.duplicates_reported is None


def test_it_does_not_close_when_spark_disagrees_rows_are_missing_or_batches_unchecked() -> None:
    base = {
        "input_events": 100,
        "quarantined": 2,
        "late_captured": 8,
        "counted_emitted": 70,
        "counted_open": 15,
        "batches": 4,
        "batches_captured": 4,
    }
    assert Accounting.from_durable_state(**base, duplicates_reported=5).closes
    disagree = Accounting.from_durable_state(**base, duplicates_reported=6)
    assert disagree.problems == ["Spark reported 6 duplicates removed"]
    # More rows counted than came in: the duplicates would be negative.
    extra = Accounting.from_durable_state(**{**base, "counted_emitted": 90})
    assert extra.problems == ["duplicates_removed is negative (-15)"]
    unchecked = Accounting.from_durable_state(**{**base, "batches_captured": 3})
    assert unchecked.problems == ["only 3 of 4 batches were checked for late rows"]
    assert not unchecked.to_dict()["closes"]

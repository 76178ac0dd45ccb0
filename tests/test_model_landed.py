"""The model's reading of landed time text agrees with the quarantine's rule, value for value."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from streamlab.ingest.rules import parse_time_text
from streamlab.model.landed import parse_times

moments = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59))
well_formed = moments.map(lambda m: m.strftime("%Y-%m-%d %H:%M:%S").rjust(19, "0"))
# Every field out of its range at times: month 13, day 31 of a 30-day month, Feb 29 of a
# non-leap year, hour 24, second 60, year 0000.
fields = st.tuples(
    st.integers(0, 9999),
    st.integers(0, 19),
    st.integers(0, 39),
    st.integers(0, 29),
    st.integers(0, 69),
    st.integers(0, 69),
).map(lambda f: "{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}".format(*f))
shaped = st.text(alphabet="0123456789-: T", min_size=17, max_size=21)
odd = st.sampled_from(
    ["", "2026-01-01", "2026-01-01T09:00:00", "２０２６-01-01 09:00:00", "2026-01-01 09:00:00Z"]
)
values = st.lists(st.one_of(well_formed, fields, shaped, odd, st.none()), max_size=40)


@given(values)
def test_parse_times_is_the_quarantine_rule(texts: list[str | None]) -> None:
    ms, valid = parse_times(texts)
    want = [parse_time_text(t) for t in texts]
    assert valid.tolist() == [w is not None for w in want]
    assert ms.tolist() == [w or 0 for w in want]


def test_a_known_moment() -> None:
    text = "2024-02-29 23:59:59"
    want = int(datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC).timestamp() * 1000)
    assert parse_times([text])[0].tolist() == [want]

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamlab.durations import describe, spark_interval, to_millis
from streamlab.errors import StreamlabError


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("10 minutes", 600_000),
        ("10m", 600_000),
        ("1h30m", 5_400_000),
        ("90s", 90_000),
        ("0s", 0),
        ("1500 milliseconds", 1500),
        ("interval 5 seconds", 5000),
        ("2 days", 172_800_000),
    ],
)
def test_text_durations(text: str, ms: int) -> None:
    assert to_millis(text) == ms


def test_numbers_are_seconds_and_timedeltas_are_exact() -> None:
    assert to_millis(90) == 90_000
    assert to_millis(timedelta(minutes=10)) == 600_000


@pytest.mark.parametrize("bad", ["", "ten minutes", "10 parsecs", "10m and more", "-5m", True])
def test_bad_durations_name_the_option(bad: object) -> None:
    with pytest.raises(StreamlabError, match="watermark delay"):
        to_millis(bad, what="watermark delay")  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=10**10))
def test_round_trips_through_text(ms: int) -> None:
    assert to_millis(describe(ms)) == ms
    assert to_millis(spark_interval(ms)) == ms

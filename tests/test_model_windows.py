"""Window assignment: half-open windows, tumbling and sliding, slides that do not divide."""

from __future__ import annotations

import numpy as np
import pytest

from streamlab.errors import StreamlabError
from streamlab.model.windows import WindowSpec, assign


def starts(t: int, spec: WindowSpec) -> list[int]:
    _, s = assign(np.array([t], dtype=np.int64), spec)
    return sorted(s.tolist())


def test_tumbling_windows_are_half_open() -> None:
    spec = WindowSpec(5_000, 5_000)
    assert starts(4_999, spec) == [0]
    assert starts(5_000, spec) == [5_000]


def test_sliding_window_holds_size_over_slide_windows() -> None:
    assert starts(12_000, WindowSpec(10_000, 5_000)) == [5_000, 10_000]
    assert starts(7_000, WindowSpec(600_000, 60_000)) == [-540_000 + i * 60_000 for i in range(10)]


def test_size_not_a_multiple_of_the_slide() -> None:
    # 7 s windows every 3 s: 12 s is in [6, 13), [9, 16) and [12, 19) but not in [3, 10).
    assert starts(12_000, WindowSpec(7_000, 3_000)) == [6_000, 9_000, 12_000]
    # 14 s is in [9, 16) and [12, 19) only: [6, 13) ended.
    assert starts(14_000, WindowSpec(7_000, 3_000)) == [9_000, 12_000]


def test_parse_and_reject() -> None:
    assert WindowSpec.of("10m", "5m") == WindowSpec(600_000, 300_000)
    assert WindowSpec.of("5m").tumbling
    with pytest.raises(StreamlabError, match="--slide"):
        WindowSpec.of("5m", "10m")

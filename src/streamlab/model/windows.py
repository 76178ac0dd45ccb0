"""Which tumbling or sliding windows an event time falls in, as Spark's ``window()`` puts it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from streamlab.durations import Duration, to_millis
from streamlab.errors import StreamlabError

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class WindowSpec:
    """A ``window(event_time, size, slide, start)`` grouping, in milliseconds."""

    size_ms: int
    """The window length."""
    slide_ms: int
    """How far consecutive windows start apart; equal to ``size_ms`` for tumbling windows."""
    start_ms: int = 0
    """The offset of window starts from the epoch (``startTime``)."""

    def __post_init__(self) -> None:
        """Reject windows Spark rejects too."""
        if self.size_ms <= 0 or self.slide_ms <= 0:
            raise StreamlabError("--window and --slide must be positive durations such as '5m'")
        if self.slide_ms > self.size_ms:
            raise StreamlabError(
                f"--slide ({self.slide_ms} ms) must not exceed --window ({self.size_ms} ms)"
            )
        if abs(self.start_ms) >= self.slide_ms:
            raise StreamlabError("the window start offset must be smaller than the slide")

    @classmethod
    def of(cls, size: Duration, slide: Duration | None = None) -> WindowSpec:
        """Build a window from durations: ``WindowSpec.of("10m", "5m")``.

        >>> WindowSpec.of("10 minutes", "5 minutes")
        WindowSpec(size_ms=600000, slide_ms=300000, start_ms=0)
        """
        size_ms = to_millis(size, what="--window")
        slide_ms = size_ms if slide is None else to_millis(slide, what="--slide")
        return cls(size_ms, slide_ms)

    @property
    def tumbling(self) -> bool:
        """Whether windows do not overlap."""
        return self.size_ms == self.slide_ms

    @property
    def overlapping(self) -> int:
        """How many windows may contain one time: ``ceil(size / slide)``."""
        return -(-self.size_ms // self.slide_ms)


def assign(time_ms: IntArray, spec: WindowSpec) -> tuple[IntArray, IntArray]:
    """Return ``(row, start)``: one pair per window each time falls in, rows in input order.

    Follows Spark's ``TimeWindowing`` rule (``ResolveTimeWindows`` in Spark 4): the latest
    start is ``ts - (ts - startTime + slide) % slide``; the candidates are it and the
    ``ceil(size / slide) - 1`` starts before it, kept when ``start <= ts < start + size``
    (windows are half-open). Times are assumed not negative, where Java's ``%`` and numpy's agree.

    >>> rows, starts = assign(np.array([7_000], dtype=np.int64), WindowSpec(10_000, 5_000))
    >>> starts.tolist()
    [5000, 0]
    """
    t = np.asarray(time_ms, dtype=np.int64)
    last = t - (t - spec.start_ms + spec.slide_ms) % spec.slide_ms
    if spec.tumbling:
        return np.arange(len(t), dtype=np.int64), last
    k = spec.overlapping
    rows = np.repeat(np.arange(len(t), dtype=np.int64), k)
    starts = (last[:, None] - np.arange(k, dtype=np.int64)[None, :] * spec.slide_ms).ravel()
    inside = (starts <= t[rows]) & (t[rows] < starts + spec.size_ms)
    return rows[inside], starts[inside]

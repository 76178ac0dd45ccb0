"""Why a check failed, in event-time terms: the variant of the query the test expects.

When the expected rows were written by hand and the query emitted others, the model is run
for variants of the query's shape (another watermark delay, tumbling instead of sliding
windows or the reverse, with or without ``dropDuplicatesWithinWatermark``, inner instead of
left outer); a variant that reproduces the expected rows names the difference, and the first
window that moved says when each side emits it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from streamlab.durations import in_words
from streamlab.errors import StreamlabError
from streamlab.testing.oracle import Landed, Oracle, Prediction, Shape
from streamlab.testing.rows import Column, Norm, difference, normalize, render_value

_DELAYS_MS = (0, 1, 2, 3, 5, 10, 15, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600)
"""Watermark delays tried, in seconds."""


def explain_difference(
    oracle: Oracle,
    landed: Landed,
    columns: Sequence[Column],
    checks: Sequence[tuple[Callable[[Prediction], list[dict[str, Any]]], Sequence[Norm]]],
    *,
    emitted_in: Callable[[Callable[[Norm], bool]], int | None],
    model_answer: bool,
) -> str | None:
    """Return the event-time reason for a failed check, or ``None`` when none is known.

    ``checks`` are the test's checks with explicit rows so far, the failed one last; a
    variant explains the failure when it reproduces every one of them.
    """
    actual = oracle.predict(landed)
    expected = checks[-1][1] if checks else []
    if model_answer:
        return (
            f"Spark and streamlab's model disagree on this query ({oracle.shape.describe()}): "
            "this is a gap in the model; please report it with this test"
        )
    # Structural variants first; among watermark delays that fit, the one nearest the query's
    # own (the fitting delays form a range, and the test's author had its edge in mind).
    fits: list[tuple[int, Prediction, str]] = []
    for variant, what, distance in _variants(oracle.shape, expected, columns):
        try:
            pred = Oracle(variant, oracle.columns).predict(landed)
            ok = all(
                not difference(want, [normalize(r, columns) for r in select(pred)])
                for select, want in checks
            )
        except StreamlabError:
            continue
        if ok:
            fits.append((distance, pred, what))
            if distance == 0:
                break
    if not fits:
        return None
    _, pred, what = min(fits, key=lambda f: f[0])
    timing = _timing(pred, actual, columns, expected, emitted_in)
    return f"{timing}{what}"


def _variants(
    shape: Shape, expected: Sequence[Norm], columns: Sequence[Column]
) -> Iterator[tuple[Shape, str, int]]:
    """Yield (variant, what differs, distance): 0 for structural changes, else the delay's."""
    sides = shape.sides
    if shape.kind == "join":
        if not shape.outer:
            yield (
                replace(shape, outer=True),
                "the test expects a left outer join; the query's is inner",
                0,
            )
        else:
            yield (
                replace(shape, outer=False),
                "the test expects an inner join; the query's is left outer",
                0,
            )
    if shape.kind == "modes" and shape.modes is not None:
        for mode in ("append", "update", "complete"):
            if mode != shape.modes.mode:
                yield (
                    replace(shape, modes=replace(shape.modes, mode=mode)),
                    f"the test expects the rows of {mode} mode; the query runs in "
                    f"{shape.modes.mode} mode",
                    0,
                )
    if shape.kind == "window" and shape.window is not None:
        w = shape.window
        for spec in _windows(shape, expected, columns):
            if spec != w:
                yield (
                    replace(shape, window=spec),
                    f"the test expects {_window_words(spec)} windows; the query's are "
                    f"{_window_words(w)}",
                    0,
                )
        if shape.dedup_keys is None:
            inputs = sorted(sides[0].names.values())
            for key in [*([k] for k in inputs if k != sides[0].time), inputs]:
                yield (
                    replace(shape, dedup_keys=tuple(key)),
                    "the test expects duplicates removed before counting "
                    f"(dropDuplicatesWithinWatermark({key!r})); the query counts every copy",
                    0,
                )
        else:
            yield (
                replace(shape, dedup_keys=None),
                "the test expects every copy counted; the query removes duplicates first",
                0,
            )
    for i, side in enumerate(sides):
        for seconds in _DELAYS_MS:
            ms = seconds * 1000
            if ms == side.delay_ms:
                continue
            moved = list(sides)
            moved[i] = replace(side, delay_ms=ms)
            which = f" on {side.input}" if len(sides) > 1 else ""
            yield (
                replace(shape, sides=tuple(moved)),
                f"its watermark delay{which} is {in_words(side.delay_ms)}, not {in_words(ms)}",
                1 + abs(ms - side.delay_ms),
            )


def _windows(shape: Shape, expected: Sequence[Norm], columns: Sequence[Column]) -> list[Any]:
    """Window specs the expected rows point at: their size, and slides that fit their starts."""
    from streamlab.model.windows import WindowSpec

    assert shape.window is not None
    w = shape.window
    idx = next((i for i, c in enumerate(columns) if c.kind == "window"), None)
    sizes = {w.size_ms}
    starts: set[int] = set()
    if idx is not None:
        for r in expected:
            pair = r[idx]
            if isinstance(pair, tuple) and all(isinstance(v, datetime) for v in pair):
                s, e = (_ms(v) for v in pair)
                sizes.add(e - s)
                starts.add(s)
    out = []
    for size in sorted(sizes):
        slides = {size, w.slide_ms}
        if len(starts) > 1:
            g = 0
            for s in starts:
                g = math.gcd(g, s - min(starts))
            if 0 < g < size:
                slides.add(g)
        if size == w.size_ms and w.tumbling:
            slides.update(size // k for k in (2, 3, 4, 5) if size % k == 0)
        for slide in sorted(slides):
            if 0 < slide <= size:
                try:
                    out.append(WindowSpec(size, slide, w.start_ms % slide))
                except StreamlabError:
                    continue
    return out


def _timing(
    variant: Prediction,
    actual: Prediction,
    columns: Sequence[Column],
    expected: Sequence[Norm],
    emitted_in: Callable[[Callable[[Norm], bool]], int | None],
) -> str:
    """Say when the first expected window is emitted by the expected variant and by Spark."""
    idx = next((i for i, c in enumerate(columns) if c.kind == "window"), None)
    if idx is None or not variant.emitted:
        return ""
    for key, batch in sorted(variant.emitted.items(), key=lambda kv: kv[1]):
        start, end = key[0], key[1]
        if not any(isinstance(r[idx], tuple) and r[idx] == (start, end) for r in expected):
            continue
        wm = variant.batches[batch].eviction_watermark
        pair = (start, end)

        def same_window(r: Norm, pair: tuple[Any, Any] = pair) -> bool:
            return bool(r[idx] == pair)

        got = emitted_in(same_window)
        if got == batch:
            continue
        day = start.date()
        head = (
            f"window [{render_value(start, day)}, {render_value(end, day)}) was expected in "
            f"batch {batch} when the watermark reached {render_value(_dt(wm), day)}; "
        )
        if got is None:
            now = actual.next_watermark
            return head + (
                f"your query has not emitted it (its watermark is {render_value(_dt(now), day)}): "
            )
        return head + f"your query emitted it in batch {got}: "
    return ""


def _window_words(spec: Any) -> str:
    if spec.tumbling:
        return f"{in_words(spec.size_ms)} tumbling"
    return f"{in_words(spec.size_ms)} sliding every {in_words(spec.slide_ms)}"


def _ms(v: datetime) -> int:
    return round(v.replace(tzinfo=UTC).timestamp() * 1000)


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)

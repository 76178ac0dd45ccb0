"""Experiments on a lab's data through the model: what a watermark delay or a window costs.

Every number here comes from :func:`streamlab.model.simulate`, so a sweep over five delays
costs five model runs, not five Spark runs. :func:`sweep` trades completeness (the share of
events counted) against state size and how long after a window's end it is emitted;
:func:`compare_windows` sets tumbling against sliding windows on the same data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from streamlab.errors import StreamlabError
from streamlab.model import ModelConfig, Result, Rows, WindowSpec, simulate
from streamlab.model.fates import Fate, mask
from streamlab.settings import SWEEP_DELAYS

DEFAULT_DELAYS = SWEEP_DELAYS
"""The delays ``streamlab sweep`` tries unless told otherwise."""


@dataclass(frozen=True)
class Outcome:
    """What one windowed count over the lab's events gives, by the model."""

    delay_ms: int
    """The watermark delay."""
    window_ms: int
    """The window length."""
    slide_ms: int
    """The window slide (equal to the length for tumbling windows)."""
    events: int
    """Distinct events with a valid time (duplicates counted once)."""
    counted: int
    """Distinct events counted in at least one window, emitted or still open."""
    completeness: float
    """``counted / events``: the share of events the results include."""
    late_dropped: int
    """Distinct events counted in no window because they came too late."""
    partly_dropped: int
    """Events counted in some windows but dropped from others (sliding windows only)."""
    emitted_windows: int
    """Windows (per group) emitted by the end of the run."""
    open_windows: int
    """Windows (per group) still waiting in state for the watermark."""
    state_max: int
    """Most rows held in state after any batch (dedup keys and windows)."""
    state_mean: float
    """Mean rows held in state after a batch."""
    emit_delay_median_s: float | None
    """Median processing time from a window's end to its emission, in seconds."""
    emit_delay_max_s: float | None
    """Longest processing time from a window's end to its emission, in seconds."""

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as JSON-ready data."""
        return asdict(self)


def batch_times_ms(result: Result, data_batch_times_ms: Sequence[int]) -> list[int]:
    """Return when each Spark batch ran: a no-data batch runs right after the batch before it."""
    times: list[int] = []
    last = data_batch_times_ms[0] if data_batch_times_ms else 0
    for info in result.batches:
        if info.data_batch is not None and info.data_batch < len(data_batch_times_ms):
            last = data_batch_times_ms[info.data_batch]
        times.append(last)
    return times


def outcome(result: Result, data_batch_times_ms: Sequence[int]) -> Outcome:
    """Summarize a ``windowed_agg`` model run as one :class:`Outcome`."""
    agg = result.aggregate
    if agg is None:
        raise StreamlabError("experiments need the windowed_agg pipeline")
    events = result.inputs["events"]
    valid_keys = {k for k, ok in zip(events.key.tolist(), events.valid.tolist(), strict=True) if ok}
    # An event is its key: a duplicate is counted through its first arrival. A valid event
    # counted in no window was dropped as late, by the dedup operator's filter or the window's.
    fates = result.fates
    counted_keys = set(events.key[mask(fates, Fate.COUNTED, Fate.PARTLY_DROPPED)].tolist())
    dropped_keys = set(events.key[mask(fates, Fate.PARTLY_DROPPED, Fate.DROPPED_LATE)].tolist())
    emitted = [w for w in agg.windows if w.emitted_batch is not None]
    when = batch_times_ms(result, data_batch_times_ms)
    delays = [
        (when[w.emitted_batch] - w.end) / 1000 for w in emitted if w.emitted_batch is not None
    ]
    state = result.state_rows
    return Outcome(
        delay_ms=result.config.delay_ms,
        window_ms=result.config.window.size_ms,
        slide_ms=result.config.window.slide_ms,
        events=len(valid_keys),
        counted=len(counted_keys),
        completeness=len(counted_keys) / len(valid_keys) if valid_keys else 1.0,
        late_dropped=len(valid_keys - counted_keys),
        partly_dropped=len(dropped_keys & counted_keys),
        emitted_windows=len(emitted),
        open_windows=len(agg.windows) - len(emitted),
        state_max=int(state.max()) if len(state) else 0,
        state_mean=float(state.mean()) if len(state) else 0.0,
        emit_delay_median_s=float(np.median(delays)) if delays else None,
        emit_delay_max_s=float(max(delays)) if delays else None,
    )


def sweep(
    events: Rows,
    delays_ms: Sequence[int],
    base: ModelConfig,
    data_batch_times_ms: Sequence[int],
) -> list[Outcome]:
    """Return the outcome of the windowed count for each watermark delay, by the model.

    >>> rows = Rows.from_batches([[("a", 60_000, "x")], [("b", 61_000, "x")], [("c", 1_000, "x")]])
    >>> times = [0, 60_000, 120_000]
    >>> [round(o.completeness, 2) for o in sweep(rows, [0, 120_000], ModelConfig(), times)]
    [0.67, 1.0]
    """
    if not delays_ms:
        raise StreamlabError("--delays needs at least one delay, e.g. --delays 0s,5m,10m")
    if base.pipeline != "windowed_agg":
        raise StreamlabError("sweep runs the windowed_agg pipeline")
    return [
        outcome(simulate({"events": events}, replace(base, delay_ms=d)), data_batch_times_ms)
        for d in delays_ms
    ]


def compare_windows(
    events: Rows,
    size_ms: int,
    slide_ms: int,
    base: ModelConfig,
    data_batch_times_ms: Sequence[int],
) -> dict[str, tuple[Outcome, Result]]:
    """Return tumbling windows of ``size_ms`` against sliding ones of ``size_ms``/``slide_ms``."""
    if slide_ms >= size_ms:
        raise StreamlabError(
            f"--slide must be shorter than --window to compare sliding with tumbling windows "
            f"(got {slide_ms // 1000}s and {size_ms // 1000}s)"
        )
    out: dict[str, tuple[Outcome, Result]] = {}
    for name, spec in (
        ("tumbling", WindowSpec(size_ms, size_ms)),
        ("sliding", WindowSpec(size_ms, slide_ms)),
    ):
        result = simulate({"events": events}, replace(base, window=spec))
        out[name] = (outcome(result, data_batch_times_ms), result)
    return out


@dataclass(frozen=True)
class JoinCost:
    """What one watermark delay on both join inputs gives ``stream_join``, by the model."""

    delay_ms: int
    """The ``withWatermark`` delay of impressions and clicks."""
    impressions: int
    """Impressions with a valid time."""
    clicks: int
    """Clicks with a valid time."""
    late_impressions: int
    """Impressions the join drops as late."""
    late_clicks: int
    """Clicks the join drops as late (their click is lost to the CTR)."""
    pairs: int
    """(impression, click) pairs the join emits by the end of the run."""
    pairs_possible: int
    """Pairs of the same impression within the click window, whatever their lateness."""
    null_rows: int
    """Impressions the left outer join emits without a click (evicted unmatched)."""
    join_state_max: int
    """Most rows the join holds in state after any batch (both sides)."""
    ctr_windows_emitted: int
    """``stream_join/ctr`` windows (per ad) written by the end of the run."""
    ctr_windows_open: int
    """Windows still waiting for the join's output watermark."""
    ctr_emitted: float | None
    """Clicked impressions / impressions over the written windows."""
    ctr_possible: float | None
    """The same over every impression, had nothing been late or still waiting."""
    ctr_emit_delay_median_s: float | None
    """Median processing time from a CTR window's end to its writing, in seconds."""

    def to_dict(self) -> dict[str, Any]:
        """Return the cost as JSON-ready data."""
        return asdict(self)


def join_cost(result: Result, data_batch_times_ms: Sequence[int]) -> JoinCost:
    """Summarize a ``stream_join`` model run (with its ``ctr`` query) as one :class:`JoinCost`."""
    from streamlab.model.join import LATE

    if result.join is None or result.ctr is None:
        raise StreamlabError("join costs need the stream_join pipeline with its ctr query")
    imps, clicks = result.inputs["impressions"], result.inputs["clicks"]
    chain = result.ctr
    cond = result.config.join
    by_key: dict[object, list[int]] = {}
    for j in np.flatnonzero(clicks.valid).tolist():
        by_key.setdefault(clicks.key[j], []).append(int(clicks.time_ms[j]))
    possible = 0
    clicked: set[object] = set()
    for i in np.flatnonzero(imps.valid).tolist():
        t = int(imps.time_ms[i])
        hits = sum(
            1 for c in by_key.get(imps.key[i], ()) if t + cond.lower_ms <= c <= t + cond.upper_ms
        )
        possible += hits
        if hits:
            clicked.add(imps.key[i])
    all_imps = {imps.key[i] for i in np.flatnonzero(imps.valid).tolist()}
    written = [w for w in chain.windows if w.emitted_batch is not None]
    shown = sum(w.impressions for w in written)
    when = batch_times_ms(result, data_batch_times_ms)
    delays = [
        (when[w.emitted_batch] - w.window_end) / 1000
        for w in written
        if w.emitted_batch is not None
    ]
    state = result.join.state_rows
    return JoinCost(
        delay_ms=result.config.delay_of("impressions"),
        impressions=int(imps.valid.sum()),
        clicks=int(clicks.valid.sum()),
        late_impressions=int((chain.join.left_outcome == LATE).sum()),
        late_clicks=int((chain.join.right_outcome == LATE).sum()),
        pairs=len(result.join.pairs),
        pairs_possible=possible,
        null_rows=len(chain.join.null_rows),
        join_state_max=int(state.max()) if len(state) else 0,
        ctr_windows_emitted=len(written),
        ctr_windows_open=len(chain.windows) - len(written),
        ctr_emitted=sum(w.clicked_impressions for w in written) / shown if shown else None,
        ctr_possible=len(clicked) / len(all_imps) if all_imps else None,
        ctr_emit_delay_median_s=float(np.median(delays)) if delays else None,
    )


def join_sweep(
    inputs: dict[str, Rows],
    delays_ms: Sequence[int],
    base: ModelConfig,
    data_batch_times_ms: Sequence[int],
) -> list[JoinCost]:
    """Return what each delay (on both inputs) costs the join and the CTR, by the model.

    >>> imps = Rows.from_batches([[("i1", 60_000, "ad")], [("i2", 400_000, "ad")]])
    >>> clicks = Rows.from_batches([[], [("i1", 70_000, "c1"), ("i2", 401_000, "c2")]])
    >>> base = ModelConfig(pipeline="stream_join", window=WindowSpec(300_000, 300_000))
    >>> costs = join_sweep({"impressions": imps, "clicks": clicks}, [0, 600_000], base, [0, 1])
    >>> [(c.delay_ms, c.pairs, c.late_clicks) for c in costs]
    [(0, 2, 0), (600000, 2, 0)]
    """
    if not delays_ms:
        raise StreamlabError("--delays needs at least one delay, e.g. --delays 0s,5m,10m")
    if base.pipeline != "stream_join":
        raise StreamlabError("the join sweep runs the stream_join pipeline")
    out = []
    for d in delays_ms:
        cfg = replace(base, delay_ms=d, delays_ms={"impressions": d, "clicks": d})
        out.append(join_cost(simulate(inputs, cfg), data_batch_times_ms))
    return out

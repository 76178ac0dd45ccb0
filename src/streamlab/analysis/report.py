"""The lab as pictures: an HTML page with PNG charts of what the watermark did, and cost.

Charts, all from the model (:mod:`streamlab.model`):

- the watermark timeline: every event by arrival order and event time, the late and eviction
  watermarks each batch ran with, and the events dropped as late or as duplicates;
- state rows after each batch;
- the count of every window, emitted or still open;
- the sweep's trade-off: completeness, state and emission delay against the watermark delay;
- tumbling against sliding windows on the same data.

``report.json`` beside the page lists every chart's series and their sizes, so a script (or a
test) can check what was drawn without reading pixels.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import numpy.typing as npt

from streamlab.analysis.experiments import Outcome
from streamlab.durations import describe
from streamlab.lab.files import atomic_write_text
from streamlab.model import Result
from streamlab.model.fates import Fate, mask
from streamlab.model.watermark import (
    eviction_array,
    late_by_data_batch,
    spark_batch_of,
)

MAX_POINTS = 20_000
"""Points per chart series before sampling: the timeline draws at most twice this many events,
sampled evenly and in the same proportion for every series."""


@dataclass
class Chart:
    """One chart of the report: its file and the series drawn in it."""

    name: str
    title: str
    file: str
    caption: str
    series: dict[str, int] = field(default_factory=dict)
    """Series name -> number of points drawn."""


def _dates(ms: npt.NDArray[np.int64]) -> npt.NDArray[np.datetime64]:
    return (np.asarray(ms, dtype=np.int64)).astype("datetime64[ms]")


def _sample(index: npt.NDArray[np.int64], limit: int = MAX_POINTS) -> npt.NDArray[np.int64]:
    if len(index) <= limit:
        return index
    return index[np.linspace(0, len(index) - 1, limit).astype(np.int64)]


def row_fates(result: Result) -> dict[str, npt.NDArray[np.bool_]]:
    """Return boolean masks over the events: ``counted``, ``late``, ``duplicate``."""
    fates = result.fates
    return {
        "counted": mask(fates, Fate.COUNTED, Fate.PARTLY_DROPPED),
        "late": mask(fates, Fate.LATE, Fate.DROPPED_LATE),
        "duplicate": mask(fates, Fate.DUPLICATE),
    }


def timeline_chart(result: Result, out: Path) -> Chart:
    """Draw every event by arrival and event time against the watermarks of its batch."""
    events = result.inputs["events"]
    fates = row_fates(result)
    x = np.arange(len(events))
    late_wm = late_by_data_batch(result.batches, events.data_batches)[events.batch]
    evict = eviction_array(result.batches)[spark_batch_of(result.batches, events.data_batches)]
    evict_wm = evict[events.batch]
    fig, ax = plt.subplots(figsize=(12, 5.5))
    chart = Chart(
        "watermark_timeline",
        "Watermark timeline",
        "watermark_timeline.png",
        "Each dot is an event, in the order it arrived (left to right) and at its event "
        "time (up). Red crosses were dropped as late, grey plusses as duplicates. "
        "The lines are the watermarks each batch ran with: rows and windows at or "
        "behind the late watermark are dropped; windows up to the eviction watermark "
        "are emitted and their state removed.",
    )
    styles = {
        "counted": {"s": 6, "c": "tab:blue", "marker": "o", "alpha": 0.5, "linewidths": 0},
        "duplicate": {"s": 22, "c": "0.45", "marker": "+"},
        "late": {"s": 26, "c": "tab:red", "marker": "x"},
    }
    # One sampling fraction for every series, so the picture keeps the proportions.
    fraction = min(1.0, 2 * MAX_POINTS / max(1, len(events)))
    for name, style in styles.items():
        every = np.flatnonzero(fates[name] & events.valid)
        index = _sample(every, max(1, round(len(every) * fraction)))
        label = f"{name} ({int((fates[name] & events.valid).sum()):,})"
        if len(index) < int(fates[name].sum()):
            label += ", sampled"
        ax.scatter(x[index], _dates(events.time_ms[index]), label=label, **style)  # type: ignore[arg-type]
        chart.series[name] = len(index)
    step = _sample(np.arange(len(events)), 4 * MAX_POINTS)
    for name, values, color in (
        ("late watermark", late_wm, "tab:orange"),
        ("eviction watermark", evict_wm, "tab:green"),
    ):
        shown = values[step] > 0
        ax.step(
            x[step][shown],
            _dates(values[step][shown]),
            where="post",
            color=color,
            linewidth=1.6,
            label=name,
        )
        chart.series[name] = int(shown.sum())
    for b in range(1, events.data_batches):
        first = np.searchsorted(events.batch, b)
        ax.axvline(float(first), color="0.85", linewidth=0.8, zorder=0)
    ax.set_xlabel("arrival order (one landed batch between grey lines)")
    ax.set_ylabel("event time (UTC)")
    ax.yaxis.set_major_formatter(_clock())
    ax.set_title(
        f"Watermark timeline: delay {describe(result.config.delay_ms)}, "
        f"{result.config.trigger.value} trigger"
    )
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    _save(fig, out / chart.file)
    return chart


def state_chart(result: Result, out: Path) -> Chart:
    """Draw the rows each operator holds in state after every batch."""
    chart = Chart(
        "state_rows",
        "State after each batch",
        "state_rows.png",
        "Rows held in state after each micro-batch: deduplication keys wait for the "
        "watermark to pass their expiry, windows wait for it to pass their end.",
    )
    fig, ax = plt.subplots(figsize=(10, 4))
    batches = np.arange(len(result.batches))
    bottom = np.zeros(len(batches))
    parts = []
    if result.dedup is not None:
        parts.append(("dedup keys", result.dedup.state_rows, "tab:purple"))
    if result.aggregate is not None:
        parts.append(("open windows", result.aggregate.state_rows, "tab:blue"))
    for name, rows, color in parts:
        ax.bar(batches, rows, bottom=bottom, color=color, label=name)
        bottom = bottom + rows
        chart.series[name] = len(rows)
    ax.set_xlabel("micro-batch (Spark's batch id)")
    ax.set_ylabel("rows in state")
    ax.set_xticks(batches)
    ax.set_title("State rows per batch")
    ax.legend(fontsize=8)
    _save(fig, out / chart.file)
    return chart


def windows_chart(result: Result, out: Path) -> Chart:
    """Draw each window's count per group, open windows hatched."""
    chart = Chart(
        "window_counts",
        "Window counts",
        "window_counts.png",
        "The count of each window and event type. Solid bars were emitted (final); "
        "hatched bars are windows still open in state, waiting for the watermark.",
    )
    agg = result.aggregate
    fig, ax = plt.subplots(figsize=(12, 4.5))
    if agg is not None and agg.windows:
        groups = sorted({w.group for w in agg.windows})
        starts = sorted({w.start for w in agg.windows})
        position = {s: i for i, s in enumerate(starts)}
        bottom = np.zeros(len(starts))
        colors = plt.get_cmap("tab10")
        for g, group in enumerate(groups):
            heights = np.zeros(len(starts))
            open_ = np.zeros(len(starts), dtype=bool)
            for w in agg.windows:
                if w.group == group:
                    heights[position[w.start]] = w.count
                    open_[position[w.start]] |= w.emitted_batch is None
            bars = ax.bar(
                np.arange(len(starts)), heights, bottom=bottom, color=colors(g), label=group
            )
            for bar, is_open in zip(bars, open_, strict=True):
                if is_open:
                    bar.set_hatch("//")
                    bar.set_alpha(0.55)
            bottom += heights
            chart.series[group] = int((heights > 0).sum())
        labels = [datetime.fromtimestamp(s / 1000, UTC).strftime("%H:%M") for s in starts]
        every = max(1, len(starts) // 24)
        ax.set_xticks(np.arange(len(starts))[::every], labels[::every], rotation=45)
        ax.legend(fontsize=8, ncols=min(5, len(groups)))
    ax.set_xlabel("window start (UTC)")
    ax.set_ylabel("events counted")
    spec = result.config.window
    kind = "tumbling" if spec.tumbling else f"sliding every {describe(spec.slide_ms)}"
    ax.set_title(f"Counts per {describe(spec.size_ms)} window ({kind})")
    _save(fig, out / chart.file)
    return chart


def sweep_chart(points: Sequence[Outcome], out: Path) -> Chart:
    """Draw completeness, state and emission delay against the watermark delay."""
    chart = Chart(
        "sweep",
        "What a watermark delay costs",
        "sweep.png",
        "Left: the share of events counted rises with the delay, and so does the "
        "state held. Right: results come later, since a window is emitted only once "
        "the watermark passes its end.",
    )
    minutes = [p.delay_ms / 60_000 for p in points]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    left.plot(
        minutes,
        [100 * p.completeness for p in points],
        "o-",
        color="tab:blue",
        label="events counted (%)",
    )
    left.set_xlabel("watermark delay (minutes)")
    left.set_ylabel("events counted (%)", color="tab:blue")
    twin = left.twinx()
    twin.plot(
        minutes, [p.state_max for p in points], "s--", color="tab:purple", label="most state rows"
    )
    twin.set_ylabel("most rows in state", color="tab:purple")
    left.set_title("Completeness and state")
    medians = [
        p.emit_delay_median_s / 60 if p.emit_delay_median_s is not None else np.nan for p in points
    ]
    maxima = [p.emit_delay_max_s / 60 if p.emit_delay_max_s is not None else np.nan for p in points]
    right.plot(minutes, medians, "o-", color="tab:green", label="median")
    right.plot(minutes, maxima, "^--", color="tab:olive", label="longest")
    right.set_xlabel("watermark delay (minutes)")
    right.set_ylabel("minutes from window end to emission")
    right.set_title("Emission delay")
    right.legend(fontsize=8)
    chart.series = {
        "completeness": len(points),
        "state_max": len(points),
        "emit_delay_median": int(np.isfinite(medians).sum()),
        "emit_delay_max": int(np.isfinite(maxima).sum()),
    }
    _save(fig, out / chart.file)
    return chart


def compare_chart(results: dict[str, Result], out: Path) -> Chart:
    """Draw the total count per window start for tumbling and sliding windows."""
    chart = Chart(
        "compare_windows",
        "Tumbling against sliding windows",
        "compare_windows.png",
        "Events counted per window start, all event types together. Sliding windows "
        "overlap, so each event counts in several of them and the line is smoother.",
    )
    fig, ax = plt.subplots(figsize=(12, 4))
    for (name, result), style in zip(results.items(), ("o-", "s--"), strict=False):
        if result.aggregate is None:
            continue
        totals: dict[int, int] = {}
        for w in result.aggregate.windows:
            totals[w.start] = totals.get(w.start, 0) + w.count
        starts = sorted(totals)
        spec = result.config.window
        label = f"{name} {describe(spec.size_ms)}" + (
            "" if spec.tumbling else f" every {describe(spec.slide_ms)}"
        )
        ax.plot(
            _dates(np.array(starts)), [totals[s] for s in starts], style, label=label, markersize=3
        )
        chart.series[name] = len(starts)
    ax.xaxis.set_major_formatter(_clock())
    ax.set_xlabel("window start (UTC)")
    ax.set_ylabel("events counted")
    ax.set_title("Tumbling against sliding windows")
    ax.legend(fontsize=8)
    _save(fig, out / chart.file)
    return chart


def _clock() -> Any:
    return mdates.DateFormatter("%H:%M")  # type: ignore[no-untyped-call]


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_page(
    out: Path,
    title: str,
    summary: dict[str, Any],
    charts: Sequence[Chart],
    tables: dict[str, list[dict[str, Any]]],
) -> Path:
    """Write ``index.html`` and ``report.json`` in ``out``; return the page's path.

    The page is ``resources/templates/report.html.j2``, rendered with every value escaped.
    """
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("streamlab", "resources/templates"),
        autoescape=True,
        keep_trailing_newline=True,
    )
    text = env.get_template("report.html.j2").render(
        title=title, summary=summary, charts=charts, tables=tables
    )
    page = out / "index.html"
    atomic_write_text(page, text)
    atomic_write_text(
        out / "report.json",
        json.dumps(
            {
                "title": title,
                "summary": summary,
                "charts": {
                    c.name: {"file": c.file, "title": c.title, "series": c.series} for c in charts
                },
            },
            indent=2,
            default=str,
        ),
    )
    return page

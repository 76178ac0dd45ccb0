"""``streamlab sweep``, ``compare-windows`` and ``report``: experiments and pictures."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from streamlab.cli._common import (
    PIPELINE_DEFAULTS,
    JsonOpt,
    OldWatermarkOpt,
    RootOpt,
    WatermarkDelayOpt,
    either,
    emit,
    lab_paths,
    new_table,
    status,
    with_default,
)
from streamlab.cli.explain import build_config, build_settings
from streamlab.durations import describe, to_millis
from streamlab.errors import LabNotReadyError, StreamlabError
from streamlab.lab.paths import LabPaths
from streamlab.settings import SWEEP_DELAYS

if TYPE_CHECKING:
    from rich.console import Console

    from streamlab.analysis.experiments import JoinCost, Outcome
    from streamlab.model import Rows

WindowOpt = Annotated[
    str | None,
    typer.Option("--window", help=with_default("Window size", PIPELINE_DEFAULTS.window_ms)),
]
SlideOpt = Annotated[str | None, typer.Option("--slide", help="Window slide [the size].")]
TriggerOpt = Annotated[
    str, typer.Option("--trigger", help="available-now, or an interval such as 10s.")
]
DelaysOpt = Annotated[
    str, typer.Option("--delays", help="Comma-separated watermark delays to try.")
]


def lab_events(paths: LabPaths) -> tuple[Rows, list[int]]:
    """Return the lab's landed events and the processing time of each landed batch (ms)."""
    from streamlab.model.landed import load_source
    from streamlab.raw.landing import read_lab

    cfg = read_lab(paths)
    if cfg is None:
        raise LabNotReadyError(f"no lab at {paths.root}: run 'streamlab setup' first")
    events = load_source(paths, "events")
    times = [
        int(cfg.batch_time(b).replace(tzinfo=UTC).timestamp() * 1000)
        for b in range(events.data_batches)
    ]
    return events, times


def parse_delays(text: str) -> list[int]:
    """Parse ``--delays 0s,1m,5m`` into milliseconds, in the order given, without repeats."""
    delays = [to_millis(part, what="--delays") for part in text.split(",") if part.strip()]
    if not delays:
        raise StreamlabError("--delays needs at least one delay, e.g. --delays 0s,5m,10m")
    return list(dict.fromkeys(delays))


def _outcome_row(o: Outcome) -> list[str]:
    def minutes(seconds: float | None) -> str:
        return "-" if seconds is None else f"{seconds / 60:.1f}"

    return [
        describe(o.delay_ms),
        f"{o.completeness:.1%}",
        str(o.late_dropped),
        str(o.state_max),
        f"{o.state_mean:.0f}",
        minutes(o.emit_delay_median_s),
        minutes(o.emit_delay_max_s),
        f"{o.emitted_windows}/{o.emitted_windows + o.open_windows}",
    ]


def _join_costs(
    paths: LabPaths, delays: list[int], window: str | None, trigger: str, times: list[int]
) -> list[JoinCost]:
    """Return the join sweep over the lab's impressions and clicks (empty without them)."""
    from streamlab.analysis.experiments import join_sweep
    from streamlab.model.landed import load_source
    from streamlab.raw.landing import landed_batches

    if not landed_batches(paths, "impressions") or not landed_batches(paths, "clicks"):
        return []
    inputs = {name: load_source(paths, name) for name in ("impressions", "clicks")}
    base = build_config("stream_join", window=window, trigger=trigger)
    return join_sweep(inputs, delays, base, times)


def _join_table(costs: list[JoinCost]) -> Any:
    def share(x: float | None) -> str:
        return "-" if x is None else f"{x:.1%}"

    table = new_table(
        title="The same delays on the join's impressions and clicks (stream_join, stream_join/ctr)"
    )
    for header in (
        "delay",
        "pairs joined",
        "late clicks",
        "no-click rows",
        "join state max",
        "CTR windows written",
        "CTR written",
        "CTR of all data",
        "CTR emit median (min)",
    ):
        table.add_column(header, justify="right")
    for c in costs:
        median = c.ctr_emit_delay_median_s
        table.add_row(
            describe(c.delay_ms),
            f"{c.pairs}/{c.pairs_possible}",
            str(c.late_clicks),
            str(c.null_rows),
            str(c.join_state_max),
            f"{c.ctr_windows_emitted}/{c.ctr_windows_emitted + c.ctr_windows_open}",
            share(c.ctr_emitted),
            share(c.ctr_possible),
            "-" if median is None else f"{median / 60:.1f}",
        )
    return table


_DELAYS = ",".join(SWEEP_DELAYS)
_OUTCOME_HEADERS = [
    "delay",
    "counted",
    "late",
    "state max",
    "state mean",
    "emit median (min)",
    "emit max (min)",
    "windows emitted",
]


def register(app: typer.Typer) -> None:
    """Add ``sweep``, ``compare-windows`` and ``report`` to ``app``."""

    @app.command("sweep")
    def sweep_command(
        root: RootOpt = None,
        delays: DelaysOpt = _DELAYS,
        window: WindowOpt = None,
        slide: SlideOpt = None,
        trigger: TriggerOpt = "available-now",
        confirm: Annotated[
            str | None,
            typer.Option(
                "--confirm", help="Delays to confirm with a real Spark run, e.g. 10m or 0s,10m."
            ),
        ] = None,
        json: JsonOpt = False,
    ) -> None:
        """Trade completeness against state and latency over watermark delays, by the model."""
        from streamlab.analysis.experiments import sweep
        from streamlab.model import ModelConfig, Trigger, simulate

        paths = lab_paths(root)
        wanted = parse_delays(delays)
        settings = build_settings(window=window, slide=slide)
        base = build_config("windowed_agg", window=window, slide=slide, trigger=trigger)
        checks = parse_delays(confirm) if confirm else []
        if checks and (not base.window.tumbling or base.trigger != Trigger.AVAILABLE_NOW):
            raise StreamlabError(
                "--confirm runs the lab's tumbling query with AvailableNow: "
                "drop --slide and --trigger to confirm"
            )
        events, times = lab_events(paths)
        points = sweep(events, wanted, base, times)
        costs = _join_costs(paths, wanted, window, trigger, times)
        confirmed = []
        if checks:
            from streamlab.checks.confirm import confirm as run_confirm
            from streamlab.spark.session import lab_session

            with status("Confirming with Spark...", show=not json):
                spark = lab_session(paths.root)
                for delay in checks:
                    chosen = replace(settings, watermark_delay_ms=delay)
                    result = simulate({"events": events}, ModelConfig.from_settings(chosen))
                    confirmed.append(run_confirm(spark, paths, chosen, result))

        def render(out: Console) -> None:
            table = new_table(
                title=f"Watermark delays on {len(events):,} landed events "
                f"({describe(base.window.size_ms)} windows)"
            )
            for header in _OUTCOME_HEADERS:
                table.add_column(header, justify="right")
            for point in points:
                table.add_row(*_outcome_row(point))
            out.print(table)
            if costs:
                out.print(_join_table(costs))
            for c in confirmed:
                mark = "✓" if c.matches else "✗"
                verdict = "identical" if c.matches else f"they differ: {c.difference}"
                out.print(
                    f"{mark} {describe(c.delay_ms)} run in Spark: {c.spark_windows} windows "
                    f"emitted, the model says {c.model_windows}; {verdict}"
                )
            out.print(
                "A longer delay counts more late events but holds more state and emits "
                "each window later. `streamlab report` draws it."
            )

        data = {
            "points": [p.to_dict() for p in points],
            "confirmed": [c.to_dict() for c in confirmed],
            "join": [c.to_dict() for c in costs],
        }
        emit(data, json, render)
        if not all(c.matches for c in confirmed):
            raise typer.Exit(1)

    @app.command("compare-windows")
    def compare_command(
        root: RootOpt = None,
        window: Annotated[str, typer.Option("--window", help="Window size.")] = describe(
            PIPELINE_DEFAULTS.sliding_window_ms
        ),
        slide: Annotated[
            str, typer.Option("--slide", help="Slide of the sliding windows.")
        ] = describe(PIPELINE_DEFAULTS.slide_ms),
        watermark_delay: WatermarkDelayOpt = None,
        watermark: OldWatermarkOpt = None,
        trigger: TriggerOpt = "available-now",
        json: JsonOpt = False,
    ) -> None:
        """Set tumbling against sliding windows on the same data, by the model."""
        from streamlab.analysis.experiments import compare_windows

        paths = lab_paths(root)
        base = build_config(
            "windowed_agg", watermark=either(watermark_delay, watermark), trigger=trigger
        )
        size = to_millis(window, what="--window")
        step = to_millis(slide, what="--slide")
        events, times = lab_events(paths)
        both = compare_windows(events, size, step, base, times)

        def render(out: Console) -> None:
            table = new_table(
                title=f"{describe(size)} windows: tumbling against sliding every "
                f"{describe(step)}, delay {describe(base.delay_ms)}"
            )
            table.add_column("")
            for header in _OUTCOME_HEADERS[1:]:
                table.add_column(header, justify="right")
            table.add_column("partly dropped", justify="right")
            for name, (o, _) in both.items():
                table.add_row(name, *_outcome_row(o)[1:], str(o.partly_dropped))
            out.print(table)
            out.print(
                "Sliding windows count each event in several windows: more rows, more "
                "state, and a late event can count in one window and miss another."
            )

        emit({name: o.to_dict() for name, (o, _) in both.items()}, json, render)

    @app.command("report")
    def report_command(
        root: RootOpt = None,
        out: Annotated[
            Path | None, typer.Option("--out", help="Folder for the report [<root>/report].")
        ] = None,
        watermark_delay: WatermarkDelayOpt = None,
        watermark: OldWatermarkOpt = None,
        window: WindowOpt = None,
        slide: SlideOpt = None,
        trigger: TriggerOpt = "available-now",
        delays: DelaysOpt = _DELAYS,
        json: JsonOpt = False,
    ) -> None:
        """Write an HTML report with charts of the watermark, state, windows and the sweep."""
        paths = lab_paths(root)
        base = build_config(
            "windowed_agg",
            watermark=either(watermark_delay, watermark),
            window=window,
            slide=slide,
            trigger=trigger,
        )
        wanted = parse_delays(delays)
        from streamlab.raw.landing import read_lab

        if read_lab(paths) is None:  # refused before the report's folder is made
            raise LabNotReadyError(f"no lab at {paths.root}: run 'streamlab setup' first")
        folder = out or paths.root / "report"
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StreamlabError(
                f"cannot write the report to {folder} ({exc.strerror}): "
                "pass --out with a writable folder"
            ) from exc
        with status("Modelling the lab and drawing charts...", show=not json):
            page, data = build_report(paths, folder, base, wanted)

        def render(console: Console) -> None:
            console.print(f"Report written: {page}")
            for chart in data["charts"].values():
                console.print(f"  {chart['title']}: {folder / chart['file']}")

        emit({"page": str(page), **data}, json, render)


def build_report(paths: LabPaths, folder: Path, base: Any, delays: list[int]) -> tuple[Path, Any]:
    """Model the lab, draw every chart into ``folder`` and write the page; return both."""
    import json as json_module

    from streamlab.analysis import report as charts
    from streamlab.analysis.experiments import compare_windows, sweep
    from streamlab.model import simulate

    events, times = lab_events(paths)
    result = simulate({"events": events}, base)
    points = sweep(events, delays, base, times)
    size = base.window.size_ms
    slide = base.window.slide_ms if base.window.slide_ms < size else max(size // 2, 1)
    compared = compare_windows(events, size, slide, replace(base), times)
    drawn = [
        charts.timeline_chart(result, folder),
        charts.state_chart(result, folder),
        charts.windows_chart(result, folder),
        charts.sweep_chart(points, folder),
        charts.compare_chart({k: r for k, (_, r) in compared.items()}, folder),
    ]
    here = next((p for p in points if p.delay_ms == base.delay_ms), None)
    summary = {
        "lab": str(paths.root),
        "events landed": f"{len(events):,} rows in {events.data_batches} batches",
        "watermark delay": describe(base.delay_ms),
        "window": describe(size)
        + ("" if base.window.tumbling else f" every {describe(base.window.slide_ms)}"),
        "trigger": str(base.trigger.value),
        "micro-batches": len(result.batches),
    }
    if here is not None:
        summary["events counted"] = f"{here.counted:,} of {here.events:,} ({here.completeness:.1%})"
    tables: dict[str, list[dict[str, Any]]] = {
        "Batches": [
            {
                "batch": b.batch,
                "landed batch": "-" if b.data_batch is None else b.data_batch,
                "late watermark": _ts(b.late_watermark),
                "eviction watermark": _ts(b.eviction_watermark),
                "state rows": int(result.state_rows[i]),
            }
            for i, b in enumerate(result.batches)
        ],
        "Sweep": [dict(zip(_OUTCOME_HEADERS, _outcome_row(p), strict=True)) for p in points],
    }
    page = charts.write_page(folder, "streamlab report", summary, drawn, tables)
    return page, json_module.loads((folder / "report.json").read_text())


def _ts(ms: int) -> str:
    return "-" if ms <= 0 else datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")

"""``streamlab explain``: what Spark does with every landed event, batch by batch, per the model."""

from __future__ import annotations

from dataclasses import replace
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
    emit_json_with_items,
    lab_paths,
    new_table,
    with_default,
)
from streamlab.durations import to_millis
from streamlab.errors import StreamlabError
from streamlab.settings import PipelineConfig, Trigger

if TYPE_CHECKING:
    from rich.console import Console

    from streamlab.model import ModelConfig


def build_settings(
    *,
    watermark: str | None = None,
    window: str | None = None,
    slide: str | None = None,
    click_window: str | None = None,
) -> PipelineConfig:
    """Turn the model commands' options into the pipelines' settings (defaults where not given).

    ``--watermark-delay`` is every input's delay (for ``stream_join`` both streams');
    ``--window`` with ``--slide`` makes sliding windows (``sliding_window_ms``, ``slide_ms``).
    """
    from streamlab.model import WindowSpec

    settings = PipelineConfig.from_options(
        watermark_delay=watermark,
        impressions_delay=watermark,
        clicks_delay=watermark,
        window=window,
        click_window=click_window,
    )
    if slide is not None:
        spec = WindowSpec(settings.window_ms, to_millis(slide, what="--slide"))
        settings = replace(settings, sliding_window_ms=spec.size_ms, slide_ms=spec.slide_ms)
    return settings


def build_config(
    pipeline: str,
    *,
    watermark: str | None = None,
    window: str | None = None,
    slide: str | None = None,
    trigger: str = "available-now",
    policy: str = "min",
    join: str = "inner",
    click_window: str | None = None,
    no_dedup: bool = False,
) -> ModelConfig:
    """Turn the command's options into the model, through :func:`build_settings`."""
    from streamlab.model import PIPELINES, ModelConfig, Policy

    if pipeline not in PIPELINES:
        raise StreamlabError(f"unknown pipeline {pipeline!r}: choose one of {', '.join(PIPELINES)}")
    if policy not in ("min", "max"):
        raise StreamlabError(f"--policy {policy!r} is not min or max: write --policy min")
    if join not in ("inner", "left-outer"):
        raise StreamlabError(f"--join {join!r} is not inner or left-outer: write --join inner")
    settings = build_settings(
        watermark=watermark, window=window, slide=slide, click_window=click_window
    )
    return ModelConfig.from_settings(
        settings,
        pipeline,
        sliding=slide is not None,
        trigger=Trigger.parse(trigger),
        policy=Policy(policy),
        deduplicate=not no_dedup,
        outer=join == "left-outer",
    )


def _render(data: dict[str, Any]) -> Any:
    def render(console: Console) -> None:
        table = new_table(title=f"{data['pipeline']}: micro-batches ({data['trigger']})")
        for col in ("batch", "landed", "late watermark", "eviction watermark", "state rows"):
            table.add_column(col)
        for b in data["batches"]:
            landed = "no data" if b["landed_batch"] is None else f"batch_{b['landed_batch']:04d}"
            table.add_row(
                str(b["batch"]),
                landed,
                _short(b["late_watermark"]),
                _short(b["eviction_watermark"]),
                str(b["state_rows"]),
            )
        console.print(table)
        fates = data["fates"]
        console.print("Fates: " + ", ".join(f"{k} {v}" for k, v in sorted(fates.items())))
        if data["windows"]:
            wt = new_table(title="windows")
            for col in ("start", "end", "event_type", "count", "emitted by batch"):
                wt.add_column(col)
            for w in data["windows"]:
                emitted = "open" if w["emitted_batch"] is None else str(w["emitted_batch"])
                wt.add_row(
                    _short(w["start"]), _short(w["end"]), w["event_type"], str(w["count"]), emitted
                )
            console.print(wt)
        if data.get("join"):
            nulls = sum(1 for r in data["join"] if r["click_id"] is None)
            console.print(f"Join output: {len(data['join']) - nulls} pairs, {nulls} NULL rows")
        if data.get("ctr_windows"):
            console.print(_ctr_line(data["ctr_windows"], data["ctr_window"]))

    return render


def _ctr_line(windows: list[dict[str, Any]], size: str) -> str:
    written = [w for w in windows if w["emitted_batch"] is not None]
    imps = sum(w["impressions"] for w in written)
    clicked = sum(w["clicked_impressions"] for w in written)
    rate = f"{clicked / imps:.1%}" if imps else "-"
    return (
        f"stream_join/ctr ({size} windows per ad): {len(written)} written, "
        f"{len(windows) - len(written)} still open; CTR of the written ones {rate} "
        f"({clicked} of {imps} impressions clicked)"
    )


def _short(iso_time: str) -> str:
    """``2026-01-01T09:00:00.000Z`` -> ``2026-01-01 09:00:00`` (milliseconds kept if any)."""
    text = iso_time.replace("T", " ").removesuffix("Z")
    return text.removesuffix(".000")


def register(app: typer.Typer) -> None:
    """Add the ``explain`` command to ``app``."""

    @app.command("explain")
    def explain(
        pipeline: Annotated[
            str, typer.Argument(help="windowed_agg, dedup or stream_join.")
        ] = "windowed_agg",
        watermark_delay: WatermarkDelayOpt = None,
        watermark: OldWatermarkOpt = None,
        window: Annotated[
            str | None,
            typer.Option("--window", help=with_default("Window size", PIPELINE_DEFAULTS.window_ms)),
        ] = None,
        slide: Annotated[
            str | None, typer.Option("--slide", help="Window slide [default: the size].")
        ] = None,
        trigger: Annotated[
            str,
            typer.Option("--trigger", help="available-now, or an interval such as 10s."),
        ] = "available-now",
        policy: Annotated[
            str, typer.Option("--policy", help="Multiple-watermark policy: min or max.")
        ] = "min",
        join: Annotated[
            str, typer.Option("--join", help="stream_join type: inner or left-outer.")
        ] = "inner",
        click_window: Annotated[
            str | None,
            typer.Option(
                "--click-window",
                help=with_default(
                    "stream_join: a click 0 to this long after", PIPELINE_DEFAULTS.click_window_ms
                ),
            ),
        ] = None,
        no_dedup: Annotated[
            bool, typer.Option("--no-dedup", help="windowed_agg without deduplication.")
        ] = False,
        event: Annotated[
            str | None, typer.Option("--event", help="Tell the story of one event id.")
        ] = None,
        root: RootOpt = None,
        json_mode: JsonOpt = False,
    ) -> None:
        """Explain, per the reference model, each landed batch, event and window."""
        from streamlab.model.explain import event_chunks, event_rows, events, explain_lab, report
        from streamlab.model.story import story

        config = build_config(
            pipeline,
            watermark=either(watermark_delay, watermark),
            window=window,
            slide=slide,
            trigger=trigger,
            policy=policy,
            join=join,
            click_window=click_window,
            no_dedup=no_dedup,
        )
        result = explain_lab(lab_paths(root), config)
        if event is not None:
            text = story(result, event)
            chosen = {
                "event_id": event,
                "story": text,
                "events": events(result, event_rows(result, event)),
            }
            emit(chosen, json_mode, lambda console: console.print(text))
            return
        data = report(result, details=False)  # a person is shown the counts of fates
        if json_mode:  # every event's details, written a chunk at a time
            emit_json_with_items(data, "events", event_chunks(result))
        else:
            emit(data, json_mode, _render(data))

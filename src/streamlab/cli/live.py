"""``streamlab live`` (events landing in real time, with the dashboard) and ``streamlab ui``."""

from __future__ import annotations

import json as jsonlib
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from streamlab.cli._common import (
    JsonOpt,
    MasterOpt,
    RemoteOpt,
    RootOpt,
    emit,
    err_console,
    lab_paths,
    status,
)
from streamlab.cli._dashboard import dashboard
from streamlab.cli.pipelines import PipelinesArg, ResetOpt
from streamlab.durations import to_millis
from streamlab.errors import StreamlabError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from rich.console import Console

    from streamlab.lab.paths import LabPaths
    from streamlab.live.collect import Collector
    from streamlab.pipelines.config import PipelineConfig

DEFAULT_PORT = 8765


def _scaled(flag: str, what: str) -> Any:
    return typer.Option(
        flag, help=f"{what} [default: the lab's, scaled to --every (see 'How fast')]."
    )


DelayOpt = Annotated[str | None, _scaled("--watermark-delay", "Events' watermark delay")]
WindowOpt = Annotated[str | None, _scaled("--window", "Tumbling window")]
SlidingOpt = Annotated[str | None, _scaled("--sliding-window", "Sliding window size")]
SlideOpt = Annotated[str | None, _scaled("--slide", "Sliding window slide")]
ImpDelayOpt = Annotated[str | None, _scaled("--impressions-delay", "Impressions' delay")]
ClkDelayOpt = Annotated[str | None, _scaled("--clicks-delay", "Clicks' watermark delay")]
ClickWindowOpt = Annotated[str | None, _scaled("--click-window", "A click joins 0 to this after")]
MaxSkewOpt = Annotated[str | None, _scaled("--max-skew", "Quarantine events this far ahead")]
PortOpt = Annotated[int, typer.Option("--port", help="Serve the dashboard on 127.0.0.1:PORT.")]
OpenOpt = Annotated[bool, typer.Option("--open", help="Open the dashboard in a web browser.")]
SparkUiOpt = Annotated[
    bool, typer.Option("--spark-ui", help="Enable Spark's own UI and link to it from the page.")
]
SPARK_UI_PORT = 4040


def spark_ui_config() -> dict[str, str]:
    """Return the settings that turn Spark's UI on (on loopback, next free port from 4040)."""
    return {
        "spark.ui.enabled": "true",
        "spark.ui.port": str(SPARK_UI_PORT),
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
    }


def _spark_ui_url(spark: SparkSession) -> str | None:
    try:
        url = spark.sparkContext.uiWebUrl
    except Exception:  # Spark Connect: the UI is the server's
        return None
    return str(url) if url else None


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
"""Ctrl-C, and what ``timeout``, ``kill`` and service managers send: both stop a run cleanly."""


@contextmanager
def stop_on_signals(
    stop: threading.Event, signals: tuple[signal.Signals, ...] = STOP_SIGNALS
) -> Iterator[None]:
    """Make Ctrl-C and SIGTERM set ``stop`` while the block runs; a second one interrupts.

    The run then ends between two checks, never inside a Spark call (PySpark's own SIGINT
    handler would cancel every job, and the queries would fail; SIGTERM's default would end
    Python at once and leave Spark's shutdown hook to stop the queries mid-batch, with a Java
    stack trace). The previous handlers are put back afterwards.
    """

    def interrupt(signum: int, frame: Any) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()

    previous = {s: signal.signal(s, interrupt) for s in signals}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextmanager
def _interrupt_on_sigterm() -> Iterator[None]:
    """Make SIGTERM raise ``KeyboardInterrupt``, as Ctrl-C does, while the block runs.

    ``ui`` uses it while it serves (it writes nothing, and has nothing to stop cleanly).
    """

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _pipeline_config(defaults: dict[str, str], given: dict[str, str | None]) -> PipelineConfig:
    from streamlab.pipelines.config import PipelineConfig

    merged = {k: (given.get(k) if given.get(k) is not None else v) for k, v in defaults.items()}
    return PipelineConfig.from_options(**merged)


def live(
    pipelines: PipelinesArg = None,
    root: RootOpt = None,
    every: Annotated[str, typer.Option("--every", help="Land a batch this often.")] = "5s",
    rate: Annotated[str, typer.Option("--rate", help="Events a second, e.g. 200/s.")] = "200/s",
    duration: Annotated[
        str | None, typer.Option("--duration", help="Stop after this long [default: Ctrl-C].")
    ] = None,
    case: Annotated[
        list[str] | None,
        typer.Option(
            "--case",
            help="Bring about a troubleshooting case a few batches in: late-burst, idle, skew, "
            "state (a delay too long for the rate). Repeatable.",
        ),
    ] = None,
    port: PortOpt = DEFAULT_PORT,
    open_browser: OpenOpt = False,
    spark_ui: SparkUiOpt = False,
    watermark_delay: DelayOpt = None,
    window: WindowOpt = None,
    sliding_window: SlidingOpt = None,
    slide: SlideOpt = None,
    impressions_delay: ImpDelayOpt = None,
    clicks_delay: ClkDelayOpt = None,
    click_window: ClickWindowOpt = None,
    max_skew: MaxSkewOpt = None,
    reset: ResetOpt = False,
    master: MasterOpt = None,
    remote: RemoteOpt = None,
    json: JsonOpt = False,
) -> None:
    """Land events in real time, run every pipeline on them, and show it all in a browser.

    How fast: the lab's clock runs faster. With --every 5s, one batch of the lab (5 minutes)
    lands every 5 seconds, and the windows (5 s), watermark delays (10 s), lateness (5-30 s)
    and the skew bound (5 s) shrink alike. Ctrl-C stops between batches; run it again on the
    same --root to continue from the checkpoints.
    """
    from streamlab.cli.pipelines import _live, pipeline_session_config
    from streamlab.lab.lock import RootLock, command_line
    from streamlab.live.collect import WATERMARK_OF
    from streamlab.live.feed import Feed, prepare_live_lab
    from streamlab.live.server import check_port
    from streamlab.live.settings import LiveSettings, parse_every, parse_rate
    from streamlab.pipelines.config import Trigger
    from streamlab.pipelines.registry import select_pipelines

    started = time.monotonic()
    paths = lab_paths(root)
    chosen = select_pipelines(pipelines)
    settings = LiveSettings(
        every_ms=parse_every(every),
        rate=parse_rate(rate),
        duration_ms=None if duration is None else to_millis(duration, what="--duration"),
        cases=tuple(case or ()),
    )
    cfg = _pipeline_config(
        settings.pipeline_defaults(),
        {
            "watermark_delay": watermark_delay,
            "window": window,
            "sliding_window": sliding_window,
            "slide": slide,
            "impressions_delay": impressions_delay,
            "clicks_delay": clicks_delay,
            "click_window": click_window,
            "max_skew": max_skew,
        },
    )
    paths.ensure_writable()
    # SIGTERM asks for a clean stop from the start: while Spark starts, the run then starts no
    # query (Ctrl-C before Spark is up interrupts at once, as in any command).
    stop = threading.Event()
    with stop_on_signals(stop, (signal.SIGTERM,)), RootLock(paths, command_line()):
        check_port(port)
        restarted = prepare_live_lab(paths, settings, reset=reset)
        # A live run's state is bounded by its watermark: the state store is chosen by its
        # size (HDFS-backed for the live rates), whose cold first batch costs less.
        extra = pipeline_session_config(paths, choose_state_store=True)
        if spark_ui:
            extra.update(spark_ui_config())
        feed = Feed(paths, settings, cfg.watermark_delay_ms)
        # The page is up, and batches land, while Spark starts.
        with (
            dashboard(
                paths,
                cfg,
                mode="live",
                port=port,
                open_browser=open_browser,
                feed=feed,
                every_ms=settings.every_ms,
                thresholds=settings.thresholds(),
                show=not json,
            ) as collector,
        ):
            feed.backlog = collector.backlog
            try:
                feed.start()
                with status("Starting Spark...", show=not json):
                    from streamlab.spark.session import lab_session

                    spark = lab_session(paths.root, master=master, remote=remote, config=extra)
                collector.spark = spark
                collector.spark_ui = _spark_ui_url(spark) if spark_ui else None
                from streamlab.run.runner import run_pipelines

                seen: dict[str, dict[str, Any]] = {}
                left = None
                if settings.duration_ms is not None:
                    left = max(1.0, settings.duration_ms / 1000 - (time.monotonic() - started))
                # Ctrl-C and SIGTERM end the run between two checks (see stop_on_signals);
                # installed after the session, whose start installs PySpark's own handler.
                with _live(not json) as observers, stop_on_signals(stop):
                    observers.append(_warn_on_change(collector, seen, show=not json))
                    result = run_pipelines(
                        spark,
                        paths,
                        chosen,
                        config=cfg,
                        trigger=Trigger(settings.every_ms),
                        observers=observers,
                        duration=left,
                        stop=stop,
                        # The pictures' watermarks first: the page's first picture needs them.
                        first=tuple(dict.fromkeys(WATERMARK_OF.values())),
                    )
            finally:
                feed.stop()
            if feed.error is not None:
                raise StreamlabError(f"the live feed stopped: {feed.error}")
            collector.refresh(verdict=True)
            final = collector.state()
    data = {
        "root": str(paths.root),
        "restarted": restarted,
        "settings": settings.to_dict(),
        "pipeline_config": cfg.to_dict(),
        "landed": {
            s: len([b for b in feed.landed if b.source == s])
            for s in ("events", "impressions", "clicks")
        },
        "batches": final.get("batch"),
        "watermarks": final.get("watermarks"),
        "late_events": final.get("late_events", {}).get("total", 0),
        "warnings_seen": list(seen.values()),
        "verdict": final.get("verdict"),
        "run": result.to_dict(),
        "ok": result.ok,
        "seconds": round(time.monotonic() - started, 2),
    }

    def render(out: Console) -> None:
        from streamlab.cli.pipelines import _accounting_of, _render_accounting, _summary_table

        out.print(_summary_table(data["run"]))
        _render_accounting(out, _accounting_of(data["run"]))
        for w in data["warnings_seen"]:
            out.print(f"! {w['query']}: {w['symptom'].replace('_', ' ')}: {w['detail']}")
        out.print(
            f"Landed {data['landed']['events']} batches in {data['seconds']:.0f} s. "
            f"Next: streamlab ui --root {paths.root}, streamlab verify, streamlab live (restarts)"
        )

    emit(data, json, render)
    if not result.ok:
        raise typer.Exit(1)


def _warn_on_change(collector: Collector, seen: dict[str, dict[str, Any]], *, show: bool) -> Any:
    """Return an observer that prints each new live warning once on stderr (and keeps it)."""

    def observe(record: dict[str, Any]) -> None:
        for w in collector.state().get("warnings", []):
            key = f"{w['query']}:{w['symptom']}"
            if key not in seen:
                seen[key] = w
                if show:
                    err_console.print(
                        f"[yellow]warning[/yellow] {w['query']}: {w['symptom'].replace('_', ' ')}: "
                        f"{w['detail']}. Fix: {w['remedy']}"
                    )

    return observe


def _finished_config(paths: LabPaths) -> tuple[PipelineConfig, int | None]:
    """Return the settings the lab's tumbling query ran with, and a live lab's interval."""
    from streamlab.pipelines.config import PipelineConfig
    from streamlab.pipelines.registry import TUMBLING
    from streamlab.run.checkpoint import SETTINGS_FILE

    values: dict[str, Any] = {}
    file = paths.checkpoint(TUMBLING) / SETTINGS_FILE
    if file.exists():
        try:
            recorded = jsonlib.loads(file.read_text()).get("settings") or {}
            known = PipelineConfig.__dataclass_fields__
            values = {k: v for k, v in recorded.items() if k in known}
        except (OSError, ValueError, AttributeError):
            values = {}
    every = None
    try:
        lab = jsonlib.loads(paths.lab_file.read_text())
        every = (lab.get("live") or {}).get("every_ms")
    except (OSError, ValueError, AttributeError):
        every = None
    return PipelineConfig(**values), every


def ui(
    root: RootOpt = None,
    port: PortOpt = DEFAULT_PORT,
    open_browser: OpenOpt = False,
    duration: Annotated[
        str | None, typer.Option("--duration", help="Serve this long [default: Ctrl-C].")
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Show a finished lab in the dashboard, read-only (nothing is written to the lab)."""
    paths = lab_paths(root)
    if not paths.lab_file.exists():
        raise StreamlabError(f"no lab under {paths.root}: run 'streamlab lab' or 'streamlab live'")
    seconds = None if duration is None else to_millis(duration, what="--duration") / 1000
    from streamlab.live.server import check_port

    check_port(port)
    cfg, every = _finished_config(paths)
    with dashboard(
        paths, cfg, mode="ui", port=port, open_browser=open_browser, every_ms=every, show=not json
    ) as collector:

        def verdict() -> None:
            from streamlab.spark.session import lab_session

            try:
                collector.spark = lab_session(paths.root)
                collector.refresh(verdict=True)
            except Exception:  # the page shows the lab without the model's verdict
                return

        threading.Thread(target=verdict, name="streamlab-ui-verdict", daemon=True).start()
        started = time.monotonic()
        try:
            with _interrupt_on_sigterm():  # SIGTERM ends it as Ctrl-C does
                while seconds is None or time.monotonic() - started < seconds:
                    time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        state = collector.state()
    emit(
        {"root": str(paths.root), "batch": state.get("batch"), "warnings": state.get("warnings")},
        json,
        lambda out: out.print("Dashboard stopped."),
    )


def register(app: typer.Typer) -> None:
    """Add ``live`` and ``ui`` to ``app``."""
    app.command()(live)
    app.command()(ui)

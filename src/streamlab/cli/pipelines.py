"""Commands that run and watch the pipelines: ``run``, ``lab``, ``status``, ``doctor``."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from streamlab.cli._common import (
    PIPELINE_DEFAULTS,
    JsonOpt,
    MasterOpt,
    RemoteOpt,
    RootOpt,
    WatermarkDelayOpt,
    emit,
    lab_paths,
    new_table,
    status,
    stderr_console,
    with_default,
)
from streamlab.durations import to_millis
from streamlab.errors import StreamlabError
from streamlab.lab.paths import PIPELINES, LabPaths
from streamlab.pipelines.config import PipelineConfig, Trigger

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from streamlab.run.runner import RunResult

PipelinesArg = Annotated[
    list[str] | None,
    typer.Argument(
        help=f"Pipelines to run: {', '.join(PIPELINES)} [default: all].", show_default=False
    ),
]
TriggerOpt = Annotated[
    str,
    typer.Option(
        "--trigger",
        help="available-now (process what has landed, then stop) or an interval such as 10s.",
    ),
]
DelayOpt = WatermarkDelayOpt
WindowOpt = Annotated[
    str | None,
    typer.Option("--window", help=with_default("Tumbling window", PIPELINE_DEFAULTS.window_ms)),
]
SlidingOpt = Annotated[
    str | None,
    typer.Option(
        "--sliding-window",
        help=with_default("Sliding window size", PIPELINE_DEFAULTS.sliding_window_ms),
    ),
]
SlideOpt = Annotated[
    str | None,
    typer.Option("--slide", help=with_default("Sliding window slide", PIPELINE_DEFAULTS.slide_ms)),
]
ImpDelayOpt = Annotated[
    str | None,
    typer.Option(
        "--impressions-delay",
        help=with_default("Impressions' watermark delay", PIPELINE_DEFAULTS.impressions_delay_ms),
    ),
]
ClkDelayOpt = Annotated[
    str | None,
    typer.Option(
        "--clicks-delay",
        help=with_default("Clicks' watermark delay", PIPELINE_DEFAULTS.clicks_delay_ms),
    ),
]
ClickWindowOpt = Annotated[
    str | None,
    typer.Option(
        "--click-window",
        help=with_default("A click joins 0 to this long after", PIPELINE_DEFAULTS.click_window_ms),
    ),
]
MaxSkewOpt = Annotated[
    str | None,
    typer.Option(
        "--max-skew",
        help=with_default(
            "Quarantine events whose time runs this far ahead of processing time, or 'off'",
            PIPELINE_DEFAULTS.max_skew_ms,
        ),
    ),
]
ResetOpt = Annotated[
    bool, typer.Option("--reset", help="Start the chosen pipelines over (checkpoints, tables).")
]


def _config(**given: str | None) -> PipelineConfig:
    return PipelineConfig.from_options(**given)


def _when(ms: int | None) -> str:
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


class LiveView:
    """A terminal table of each query's batch, input, watermark and state, kept current."""

    def __init__(self, console: Console) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        from rich.live import Live

        self.live = Live(self._table(), console=console, refresh_per_second=4, transient=False)

    def __call__(self, record: dict[str, Any]) -> None:
        """Take one progress record (a listener observer)."""
        with self._lock:
            row = self.rows.setdefault(str(record["query"]), {"input": 0})
            row["batch"] = record["batch"]
            row["input"] += int(record["input_rows"])
            row["watermark"] = str(record["watermark"]).replace("T", " ")[:19]
            row["state"] = record["state_rows"]
            self.live.update(self._table())

    def _table(self) -> Table:
        table = new_table(title="streamlab: running queries", title_justify="left")
        for column in ("query", "batch", "input rows", "watermark", "state rows"):
            table.add_column(column)
        for name, row in sorted(self.rows.items()):
            table.add_row(
                name, str(row["batch"]), str(row["input"]), row["watermark"], str(row["state"])
            )
        return table


@contextmanager
def _live(show: bool) -> Iterator[list[Callable[[dict[str, Any]], None]]]:
    if not show or not stderr_console().is_terminal:
        yield []
        return
    view = LiveView(stderr_console())
    with view.live:
        yield [view]


def pipeline_session_config(paths: LabPaths, *, choose_state_store: bool = False) -> dict[str, str]:
    """Return the Spark settings a fresh local session for the pipelines starts with.

    The lab's micro-batches are small: one shuffle partition halves the state store and
    sink tasks of every stateful batch (fixed by each query's checkpoint at its first run).
    The JIT is chosen by the size of the work (:mod:`streamlab.spark.tuning`): C1 only for a
    small lab, which spends far less CPU warming up (the guide-sized lab: 70 -> 46 JVM CPU
    seconds, benchmarks/bench_lab.py), and the full tiered JIT for long runs. With
    ``choose_state_store`` the state store of the queries' first runs is chosen by the state
    size too (``streamlab live``: its state is bounded by the watermark, and the HDFS-backed
    store's first batch is cheaper, docs/live.md).
    """
    import os

    from streamlab.spark.settings import default_config
    from streamlab.spark.tuning import session_settings

    java = default_config(paths, os.cpu_count() or 2)["spark.driver.extraJavaOptions"]
    tuned = session_settings(paths, java, choose_state_store=choose_state_store)
    return {"spark.sql.shuffle.partitions": "1", **tuned}


def _check_run(
    paths: LabPaths,
    pipelines: list[str] | None,
    cfg: PipelineConfig,
    *,
    master: str | None,
    remote: str | None,
    reset: bool = False,
) -> list[str]:
    """Refuse before Spark starts: pipelines, lab data, the root's holder, checkpoints, URLs."""
    from streamlab.run.runner import check_run
    from streamlab.spark.session import check_target

    chosen = check_run(paths, pipelines, cfg, reset=reset)
    check_target(master, remote)
    return chosen


def _run(
    paths: LabPaths,
    pipelines: list[str] | None,
    cfg: PipelineConfig,
    trigger: Trigger,
    *,
    master: str | None,
    remote: str | None,
    duration: float | None,
    reset: bool,
    show: bool,
    ui_port: int | None = None,
) -> RunResult:
    from streamlab.run.runner import run_pipelines
    from streamlab.spark.session import lab_session

    if ui_port is not None:
        from streamlab.live.server import check_port

        check_port(ui_port)
    with status("Starting Spark...", show=show):
        spark = lab_session(
            paths.root, master=master, remote=remote, config=pipeline_session_config(paths)
        )
    with _dashboard(paths, cfg, trigger, spark, ui_port, show), _live(show) as observers:
        return run_pipelines(
            spark,
            paths,
            pipelines,
            config=cfg,
            trigger=trigger,
            observers=observers,
            duration=duration,
            reset=reset,
        )


@contextmanager
def _dashboard(
    paths: LabPaths,
    cfg: PipelineConfig,
    trigger: Trigger,
    spark: Any,
    port: int | None,
    show: bool,
) -> Iterator[None]:
    """Serve the dashboard (``--ui``) while the run goes on."""
    if port is None:
        yield
        return
    from streamlab.cli._dashboard import dashboard

    with dashboard(
        paths, cfg, mode="run", port=port, spark=spark, every_ms=trigger.interval_ms, show=show
    ):
        yield


def _summary_table(result: dict[str, Any]) -> Table:
    table = new_table(title="Pipelines", title_justify="left")
    for column in ("query", "batches", "in", "out", "dups", "late", "watermark", "state", "s"):
        table.add_column(column, overflow="fold")
    for p in result["pipelines"]:
        for q in p["queries"]:
            table.add_row(
                q["name"],
                str(len(q["batches"])),
                str(q["input_rows"]),
                str(q["table_rows"]),
                "?" if q["dropped_duplicates"] is None else str(q["dropped_duplicates"] or "-"),
                "-",
                _when(q["watermark_ms"])[11:] or "-",
                str(q["state_rows"]),
                f"{q['seconds']:.0f}",
            )
        if p["pipeline"] == "late_data":
            table.add_row(
                "late_data",
                "-",
                "-",
                str(p["late_captured"]),
                "-",
                str(p["late_captured"]),
                "-",
                "-",
                "-",
            )
    table.caption = (
        "in/out: rows read this run / rows in the table; dups: duplicates removed "
        "(?: a batch's progress was lost); "
        "late: late events captured; watermark: UTC time the next batch runs with"
    )
    return table


def _render_accounting(out: Console, acct: dict[str, Any] | None) -> None:
    if acct is None:
        return
    mark = "✓" if acct["closes"] else "✗"
    problems = acct.get("problems") or []
    out.print(
        f"{mark} Tumbling windows accounting: {acct['input_events']} input events = "
        f"{acct['quarantined']} quarantined + {acct['duplicates_removed']} duplicates removed + "
        f"{acct['late_captured']} late captured + {acct['counted_emitted']} counted in emitted "
        f"windows + {acct['counted_open']} counted in windows still open"
        + (f" ({'; '.join(problems)})" if problems else "")
    )


def _accounting_of(result: dict[str, Any]) -> dict[str, Any] | None:
    for p in result["pipelines"]:
        if p["accounting"] is not None:
            return dict(p["accounting"])
    return None


def run(
    pipelines: PipelinesArg = None,
    root: RootOpt = None,
    trigger: TriggerOpt = "available-now",
    watermark_delay: DelayOpt = None,
    window: WindowOpt = None,
    sliding_window: SlidingOpt = None,
    slide: SlideOpt = None,
    impressions_delay: ImpDelayOpt = None,
    clicks_delay: ClkDelayOpt = None,
    click_window: ClickWindowOpt = None,
    max_skew: MaxSkewOpt = None,
    duration: Annotated[
        str | None,
        typer.Option(help="With an interval trigger: stop after this long [default: Ctrl-C]."),
    ] = None,
    reset: ResetOpt = False,
    ui: Annotated[
        bool, typer.Option("--ui", help="Show the run in the dashboard (see --port).")
    ] = False,
    port: Annotated[
        int, typer.Option("--port", help="With --ui: serve the dashboard on 127.0.0.1:PORT.")
    ] = 8765,
    master: MasterOpt = None,
    remote: RemoteOpt = None,
    json: JsonOpt = False,
) -> None:
    """Run pipelines on the lab's data; again later, only newly landed batches are processed."""
    paths = lab_paths(root)
    cfg = _config(
        watermark_delay=watermark_delay,
        window=window,
        sliding_window=sliding_window,
        slide=slide,
        impressions_delay=impressions_delay,
        clicks_delay=clicks_delay,
        click_window=click_window,
        max_skew=max_skew,
    )
    trig = Trigger.parse(trigger)
    seconds = None if duration is None else to_millis(duration, what="--duration") / 1000
    if seconds is not None and trig.available_now:
        raise StreamlabError("--duration needs an interval trigger, e.g. --trigger 10s")
    chosen = _check_run(paths, pipelines, cfg, master=master, remote=remote, reset=reset)
    if paths.lab_file.exists():  # a lab moved from another root: refused before Spark starts
        from streamlab.run.runner import claim_root

        claim_root(paths, chosen, reset=reset)
    result = _run(
        paths,
        chosen,
        cfg,
        trig,
        master=master,
        remote=remote,
        duration=seconds,
        reset=reset,
        show=not json,
        ui_port=port if ui else None,
    ).to_dict()

    def render(out: Console) -> None:
        out.print(_summary_table(result))
        _render_accounting(out, _accounting_of(result))
        out.print(f"Done in {result['seconds']:.1f} s. Next: streamlab status, streamlab doctor")

    emit(result, json, render)
    if not result["ok"]:
        raise typer.Exit(1)


def lab(
    root: RootOpt = None,
    watermark_delay: DelayOpt = None,
    window: WindowOpt = None,
    sliding_window: SlidingOpt = None,
    slide: SlideOpt = None,
    max_skew: MaxSkewOpt = None,
    reset: ResetOpt = False,
    master: MasterOpt = None,
    remote: RemoteOpt = None,
    json: JsonOpt = False,
) -> None:
    """Run the whole lab: set up if needed, every pipeline, verification, summary."""
    started = time.monotonic()
    from streamlab.cli.lab import choose_generator_config, describe_origin
    from streamlab.raw.landing import read_lab
    from streamlab.raw.provision import setup_lab
    from streamlab.spark.session import check_target

    paths = lab_paths(root)
    cfg = _config(
        watermark_delay=watermark_delay,
        window=window,
        sliding_window=sliding_window,
        slide=slide,
        max_skew=max_skew,
    )
    check_target(master, remote)
    setup = None
    origin: dict[str, Any] | None = None
    if reset or read_lab(paths) is None:
        # A reset happens inside setup's hold on the root: never under a running pipeline.
        gen, origin = choose_generator_config(paths, reset=reset)
        setup = setup_lab(paths, gen, reset=reset)
    from streamlab.run.runner import claim_root

    claim_root(paths, list(PIPELINES), reset=False)  # a lab moved elsewhere: refused here
    _check_run(paths, None, cfg, master=master, remote=remote)
    result = _run(
        paths,
        None,
        cfg,
        Trigger(),
        master=master,
        remote=remote,
        duration=None,
        reset=False,
        show=not json,
    )
    from streamlab.checks.verify import verify_lab
    from streamlab.spark.session import lab_session

    spark = lab_session(
        paths.root, master=master, remote=remote, config=pipeline_session_config(paths)
    )
    report = verify_lab(spark, paths)
    data = {
        "root": str(paths.root),
        "setup": None
        if setup is None
        else {"reset": reset, "settings": origin, "generated": setup.generated},
        "verify": report.to_dict(),
        "run": result.to_dict(),
        "ok": bool(report.ok and result.ok),
        "seconds": round(time.monotonic() - started, 2),
    }
    from streamlab.cli.exercises import next_exercise

    nxt = next_exercise(paths)
    data["next_exercise"] = nxt

    def render(out: Console) -> None:
        if setup is not None and origin is not None:
            done = "Reset the lab and regenerated it" if reset else "Set up the lab"
            out.print(f"✓ {done} with {describe_origin(origin, reset=reset)}")
        checks = report.to_dict()["checks"]
        failed = [c for c in checks if not c["ok"]]
        out.print(
            f"{'✓' if not failed else '✗'} Lab data verified: "
            f"{len(checks) - len(failed)} of {len(checks)} checks pass"
        )
        for check in failed:
            out.print(f"  ✗ {check['name']}: {check['detail']}")
        run_data = result.to_dict()
        out.print(_summary_table(run_data))
        _render_accounting(out, _accounting_of(run_data))
        out.print(f"{'✅' if data['ok'] else '✗'} Lab finished in {data['seconds']:.1f} s")
        if nxt is not None:
            out.print(
                f"Practise: streamlab exercises start {nxt['number']} ({nxt['slug']}: "
                f"{nxt['concept']})"
            )

    emit(data, json, render)
    if not data["ok"]:
        raise typer.Exit(1)


def status_command(
    root: RootOpt = None, master: MasterOpt = None, remote: RemoteOpt = None, json: JsonOpt = False
) -> None:
    """Per pipeline: last batch, watermark, state rows and table rows, read from disk."""
    from streamlab.run.status import lab_status
    from streamlab.spark.session import check_target, lab_session

    paths = lab_paths(root)
    if not paths.checkpoints.is_dir():
        raise StreamlabError(f"no checkpoints under {paths.root}: run 'streamlab run' first")
    check_target(master, remote)
    with status("Reading checkpoints and state...", show=not json):
        found = [
            p.to_dict()
            for p in lab_status(
                None,
                paths,
                start_spark=lambda: lab_session(paths.root, master=master, remote=remote),
            )
        ]

    def render(out: Console) -> None:
        table = new_table(title="Pipelines", title_justify="left")
        for column in ("pipeline", "query", "last batch", "watermark", "state", "table rows"):
            table.add_column(column)
        for p in found:
            for q in p["queries"]:
                state = ", ".join(f"{o['name']} {o['state_rows']}" for o in q["operators"])
                pending = f" (batch {q['pending_batch']} pending)" if q["pending_batch"] else ""
                table.add_row(
                    p["pipeline"],
                    q["name"],
                    ("-" if q["last_batch"] is None else str(q["last_batch"])) + pending,
                    q["watermark"] or "-",
                    state or "-",
                    f"{q['table']}: {q['table_rows']}",
                )
            if p["pipeline"] == "late_data":
                table.add_row(
                    "late_data",
                    "-",
                    f"{p['late_batches']} batches checked",
                    "-",
                    "-",
                    f"streaming_bronze.late_events: {p['late_rows']}",
                )
        out.print(table)

    emit(found, json, render)


def doctor(
    root: RootOpt = None,
    late_share: Annotated[
        float, typer.Option(help="Report late data from this share of input rows.")
    ] = 0.2,
    state_rows: Annotated[
        int, typer.Option(min=1, help="Report state growth from this many rows.")
    ] = 10_000,
    json: JsonOpt = False,
) -> None:
    """Read the progress log and diagnose the guide's troubleshooting cases."""
    from streamlab.run.doctor import Thresholds, diagnose_log
    from streamlab.run.progress import progress_log

    paths = lab_paths(root)
    if not 0 < late_share <= 1:
        raise StreamlabError(f"--late-share must be between 0 and 1, got {late_share}")
    findings = [
        f.to_dict()
        for f in diagnose_log(
            progress_log(paths), Thresholds(late_share=late_share, state_rows=state_rows)
        )
    ]

    def render(out: Console) -> None:
        if not findings:
            out.print("✓ No problems found in the progress log.")
            return
        for f in findings:
            out.print(f"✗ {f['query']}: {f['symptom'].replace('_', ' ')}")
            out.print(f"  {f['detail']}")
            out.print(f"  Remedy: {f['remedy']}")

    emit(findings, json, render)


def reset(
    pipelines: Annotated[
        list[str],
        typer.Argument(
            help=f"Pipelines to start over: {', '.join(PIPELINES)}.", show_default=False
        ),
    ],
    root: RootOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json: JsonOpt = False,
) -> None:
    """Remove pipelines' checkpoints and table data, so their next run starts over."""
    from streamlab.lab.lock import RootLock, command_line
    from streamlab.pipelines.registry import LATE_TABLE, queries_of, select_pipelines
    from streamlab.run.runner import claim_root, reset_pipelines

    paths = lab_paths(root)
    chosen = [p for p in select_pipelines(pipelines) if p in pipelines]
    specs = queries_of(chosen)
    late = {"late_data", "windowed_agg"} & set(chosen)
    tables = sorted({s.table for s in specs} | ({LATE_TABLE} if late else set()))
    if not yes:
        if not sys.stdin.isatty():
            raise StreamlabError(
                f"resetting removes the checkpoints and tables of {', '.join(chosen)}: "
                "pass --yes to confirm"
            )
        typer.confirm(f"Remove the checkpoints and the data of {', '.join(tables)}?", abort=True)
    with RootLock(paths, command_line()):
        claim_root(paths, chosen, reset=True, fix="or reset every pipeline to start them all over")
        reset_pipelines(paths, chosen)
    emit(
        {"reset": chosen, "tables": tables},
        json,
        lambda out: out.print(
            f"✓ Reset {', '.join(chosen)}: checkpoints and {', '.join(tables)} removed; "
            "the next run starts over"
        ),
    )


def register(app: typer.Typer) -> None:
    """Add ``run``, ``lab``, ``status``, ``doctor`` and ``reset`` to ``app``."""
    app.command()(run)
    app.command()(lab)
    app.command("status")(status_command)
    app.command()(doctor)
    app.command()(reset)

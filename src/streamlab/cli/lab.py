"""Commands that set up, verify and query a lab: ``setup``, ``verify``, ``sql``."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from streamlab.cli._common import (
    JsonOpt,
    MasterOpt,
    RemoteOpt,
    RootOpt,
    emit,
    lab_paths,
    new_table,
    progress_bar,
    status,
    to_jsonable,
)
from streamlab.durations import describe, to_millis
from streamlab.errors import StreamlabError
from streamlab.lab.paths import LabPaths
from streamlab.raw.config import GeneratorConfig, parse_base_time

if TYPE_CHECKING:
    from rich.console import Console

    from streamlab.raw.provision import SetupResult


def _seconds(value: str | None, option: str) -> int | None:
    if value is None:
        return None
    ms = to_millis(value, what=option)
    if ms % 1000:
        raise StreamlabError(f"{option} must be whole seconds, got {value!r}")
    return ms // 1000


_GENERATOR = GeneratorConfig()
_IN_SECONDS = {"lateness_min", "lateness_max", "batch_interval"}


def _generator_help(text: str, field_name: str) -> str:
    """Return a generator option's help with its default, from :class:`GeneratorConfig`."""
    value = getattr(_GENERATOR, field_name)
    shown = describe(value * 1000) if field_name in _IN_SECONDS else str(value)
    return f"{text} [default: {shown}]."


def choose_generator_config(
    paths: LabPaths, *, reset: bool = False, **given: Any
) -> tuple[GeneratorConfig, dict[str, Any]]:
    """Return the generator settings for ``given`` options, and where they came from.

    A new lab's base time defaults to now, to the minute, as the guide's generator uses the
    current time.

    The settings a lab records in ``lab.json`` stay unless an option changes them, also when
    the lab is reset: a reset lab is regenerated as it was. Without a record (a new lab, or a
    reset of one whose ``lab.json`` is damaged) the defaults apply. The second value says which:
    ``{"source": "lab.json" | "defaults", "overridden": [option, ...], "note": ...}``.
    """
    from streamlab.raw.landing import read_lab

    note = ""
    try:
        existing = read_lab(paths)
    except StreamlabError:
        if not reset:
            raise
        existing, note = None, f"{paths.lab_file.name} was damaged"
    values: dict[str, Any] = existing.to_dict() if existing else {}
    values.pop("base_time", None)
    overridden = [k for k, v in given.items() if v is not None]
    for key in overridden:
        values[key] = given[key]
    if given.get("base_time") is not None:
        values["base_time"] = parse_base_time(given["base_time"])
    elif existing is not None:
        values["base_time"] = existing.base_time
    else:
        now = datetime.now(UTC).replace(second=0, microsecond=0, tzinfo=None)
        values["base_time"] = now
    known = {f.name for f in fields(GeneratorConfig)}
    cfg = GeneratorConfig(**{k: v for k, v in values.items() if k in known})
    origin = {
        "source": "lab.json" if existing is not None else "defaults",
        "overridden": ["--" + k.replace("_", "-") for k in overridden],
        "note": note,
    }
    return cfg, origin


def describe_origin(origin: dict[str, Any], *, reset: bool) -> str:
    """Say in a few words which settings a setup used, e.g. "the lab's own (lab.json)"."""
    if origin["source"] == "lab.json":
        text = "its own recorded settings (lab.json)" if reset else "the lab's own (lab.json)"
    else:
        text = "the defaults" + (f" ({origin['note']})" if origin.get("note") else "")
    if origin["overridden"]:
        text += ", except " + ", ".join(origin["overridden"])
    return text


def _render_setup(result: SetupResult, origin: dict[str, Any], reset: bool) -> Any:
    def render(out: Console) -> None:
        written = {k: len(v) for k, v in result.generated.items()}
        cfg = result.config
        if reset:
            out.print(
                f"✓ Reset the lab at {result.root}: regenerated with "
                f"{describe_origin(origin, reset=True)}"
            )
        if result.changed:
            out.print(
                f"✓ Generated {written['events']} event, {written['impressions']} impression "
                f"and {written['clicks']} click batches under {result.root}"
            )
        else:
            out.print(f"✓ Lab at {result.root} is set up already ({cfg['batches']} batches)")
        out.print(f"✓ Databases: {', '.join(result.databases)}")
        out.print(f"✓ Checkpoint folders: {', '.join(result.checkpoints)}")
        if not reset:
            out.print(f"  settings: {describe_origin(origin, reset=False)}")
        out.print(
            f"  seed {cfg['seed']}, base time {cfg['base_time']}, {cfg['batches']} batches x "
            f"{cfg['events_per_batch']} events, late share {cfg['late_share']}, "
            f"duplicate share {cfg['duplicate_share']}"
        )
        out.print("Next: streamlab verify")

    return render


def setup(
    root: RootOpt = None,
    seed: Annotated[int | None, typer.Option(help=_generator_help("Random seed", "seed"))] = None,
    base_time: Annotated[
        str | None,
        typer.Option(help="Time of batch 0, UTC, e.g. 2026-01-01T09:00:00 [default: now]."),
    ] = None,
    batches: Annotated[
        int | None, typer.Option(help=_generator_help("Batches of each source", "batches"))
    ] = None,
    events_per_batch: Annotated[
        int | None, typer.Option(help=_generator_help("Events a batch", "events_per_batch"))
    ] = None,
    impressions_per_batch: Annotated[
        int | None,
        typer.Option(help=_generator_help("Impressions a batch", "impressions_per_batch")),
    ] = None,
    clicks_per_batch: Annotated[
        int | None, typer.Option(help=_generator_help("Clicks a batch", "clicks_per_batch"))
    ] = None,
    late_share: Annotated[
        float | None,
        typer.Option(help=_generator_help("Share of events that arrive late", "late_share")),
    ] = None,
    lateness_min: Annotated[
        str | None,
        typer.Option(help=_generator_help("Least lateness of a late event", "lateness_min")),
    ] = None,
    lateness_max: Annotated[
        str | None,
        typer.Option(help=_generator_help("Most lateness of a late event", "lateness_max")),
    ] = None,
    duplicate_share: Annotated[
        float | None,
        typer.Option(
            help=_generator_help("Re-sent events, as a share of a batch", "duplicate_share")
        ),
    ] = None,
    orphan_share: Annotated[
        float | None,
        typer.Option(help=_generator_help("Share of clicks without an impression", "orphan_share")),
    ] = None,
    batch_interval: Annotated[
        str | None, typer.Option(help=_generator_help("Time between two batches", "batch_interval"))
    ] = None,
    malformed_share: Annotated[
        float | None,
        typer.Option(
            help=_generator_help(
                "Extra event lines that are not JSON, as a share", "malformed_share"
            )
        ),
    ] = None,
    missing_field_share: Annotated[
        float | None,
        typer.Option(
            help=_generator_help(
                "Extra events without event_id or event_time", "missing_field_share"
            )
        ),
    ] = None,
    bad_time_share: Annotated[
        float | None,
        typer.Option(
            help=_generator_help("Extra events whose event_time does not parse", "bad_time_share")
        ),
    ] = None,
    future_share: Annotated[
        float | None,
        typer.Option(help=_generator_help("Extra events from a clock hours ahead", "future_share")),
    ] = None,
    reset: Annotated[
        bool, typer.Option("--reset", help="Remove the lab's data, checkpoints and tables first.")
    ] = False,
    master: MasterOpt = None,
    remote: RemoteOpt = None,
    json: JsonOpt = False,
) -> None:
    """Run Steps 1-4 of the guide: databases, events, impressions, clicks, checkpoint folders.

    Idempotent: what has landed is kept; more --batches than the lab has extends it.
    """
    paths = lab_paths(root)
    if not reset:  # a lab moved from another root: refused before anything is written
        from streamlab.lab.home import check_home

        check_home(paths, writing=True)
    cfg, origin = choose_generator_config(
        paths,
        reset=reset,
        seed=seed,
        base_time=base_time,
        batches=batches,
        events_per_batch=events_per_batch,
        impressions_per_batch=impressions_per_batch,
        clicks_per_batch=clicks_per_batch,
        late_share=late_share,
        lateness_min=_seconds(lateness_min, "--lateness-min"),
        lateness_max=_seconds(lateness_max, "--lateness-max"),
        duplicate_share=duplicate_share,
        orphan_share=orphan_share,
        batch_interval=_seconds(batch_interval, "--batch-interval"),
        malformed_share=malformed_share,
        missing_field_share=missing_field_share,
        bad_time_share=bad_time_share,
        future_share=future_share,
    )
    spark = None
    if master or remote:
        # Everything that can refuse does so before Spark starts.
        from streamlab.lab.lock import check_free
        from streamlab.raw.provision import check_compatible
        from streamlab.spark.session import check_target, lab_session

        paths.ensure_writable()
        check_free(paths)
        if not reset:
            check_compatible(paths, cfg)
        check_target(master, remote)
        spark = lab_session(paths.root, master=master, remote=remote)
    # The reset happens inside setup's hold on the root: never under a running pipeline.
    with progress_bar("Generating batches", 3 * cfg.batches, show=not json) as progress:
        from streamlab.raw.provision import setup_lab

        result = setup_lab(paths, cfg, spark=spark, reset=reset, progress=progress)
    emit(
        {
            "root": result.root,
            "reset": reset,
            "settings": origin,
            "generated": result.generated,
            "databases": result.databases,
            "checkpoints": result.checkpoints,
            "config": result.config,
        },
        json,
        _render_setup(result, origin, reset),
    )


def _render_verify(data: dict[str, Any]) -> Any:
    def render(out: Console) -> None:
        out.print("=" * 72)
        out.print("STREAMING TRANSFORMATIONS SETUP VERIFICATION")
        out.print("=" * 72)
        ev, imp, clk = data["events"], data["impressions"], data["clicks"]
        table = new_table(title="Lab data", title_justify="left")
        for column in ("source", "batches", "rows", "details"):
            table.add_column(column)
        share = ev["late"] / ev["rows"] if ev["rows"] else 0.0
        table.add_row(
            "events",
            str(ev["batches"]),
            str(ev["rows"]),
            f"{ev['late']} late ({share:.1%}), {ev['duplicates']} duplicates "
            f"reported apart, {ev['rows_total']} rows in files",
        )
        table.add_row("impressions", str(imp["batches"]), str(imp["rows"]), "")
        table.add_row(
            "clicks",
            str(clk["batches"]),
            str(clk["rows"]),
            f"{clk['orphans']} orphans; matched clicks "
            f"{clk['delay_min_s']}-{clk['delay_max_s']} s after their impression",
        )
        out.print(table)
        for source, rows in data["samples"].items():
            if rows:
                sample = new_table(title=f"Sample {source} (batch_0000)", title_justify="left")
                for column in rows[0]:
                    sample.add_column(column)
                for row in rows:
                    sample.add_row(*(str(v) for v in row.values()))
                out.print(sample)
        compared = [
            (name, v)
            for name, v in (data.get("model") or {}).items()
            if isinstance(v, dict) and "spark" in v and v.get("ran")
        ]
        if compared:
            truth = new_table(
                title="What Spark did, and what the model expected", title_justify="left"
            )
            for column in ("", "Spark", "model", ""):
                truth.add_column(column)
            for name, v in compared:
                truth.add_row(
                    name.replace("_", " "),
                    str(v["spark"]),
                    str(v["model"]),
                    "✓" if v["ok"] else "✗",
                )
            out.print(truth)
        checks = new_table(title="Checks", title_justify="left")
        for column in ("check", "", "detail"):
            checks.add_column(column)
        for check in data["checks"]:
            checks.add_row(check["name"], "✓" if check["ok"] else "✗", check["detail"])
        out.print(checks)
        if data["ok"]:
            out.print("✅ Setup Complete! Ready for watermarking and windowing exercises.")
        else:
            out.print("✗ Setup incomplete: see the failed checks above.")

    return render


def verify(
    root: RootOpt = None, master: MasterOpt = None, remote: RemoteOpt = None, json: JsonOpt = False
) -> None:
    """Run Step 6 of the guide: read the lab back through Spark and check it; exit 1 if not ok."""
    from streamlab.checks.verify import verify_lab
    from streamlab.spark.session import check_target, lab_session

    paths = lab_paths(root)
    from streamlab.raw.landing import read_lab

    if read_lab(paths) is None:
        raise StreamlabError(f"no lab at {paths.root}: run 'streamlab setup' first")
    check_target(master, remote)
    with status("Starting Spark and reading the lab...", show=not json):
        spark = lab_session(paths.root, master=master, remote=remote)
        data = verify_lab(spark, paths).to_dict()
    emit(data, json, _render_verify(data))
    if not data["ok"]:
        raise typer.Exit(1)


def sql(
    query: Annotated[
        str, typer.Argument(help='SQL to run, e.g. "SELECT * FROM streaming_gold.events_tumbling".')
    ],
    root: RootOpt = None,
    limit: Annotated[int, typer.Option(min=1, help="Most rows to print.")] = 1000,
    master: MasterOpt = None,
    remote: RemoteOpt = None,
    json: JsonOpt = False,
) -> None:
    """Run SQL against the lab's databases; --json prints a list of row objects."""
    from pyspark.errors import PySparkException

    from streamlab.spark.session import check_target, lab_session

    paths = lab_paths(root)
    if not query.strip():
        raise StreamlabError('no SQL given: write it like streamlab sql "SHOW DATABASES"')
    check_target(master, remote)
    spark = lab_session(paths.root, master=master, remote=remote)
    try:
        df = spark.sql(query)
        rows = df.limit(limit).collect()
    except PySparkException as exc:
        first = (str(exc).strip().splitlines() or ["invalid SQL"])[0]
        raise StreamlabError(f"the query failed: {first}") from exc
    records = [to_jsonable(r) for r in rows]

    def render(out: Console) -> None:
        table = new_table(show_lines=False)
        for column in df.columns:
            table.add_column(column)
        for record in records:
            table.add_row(*(_cell(v) for v in record.values()))
        out.print(table)
        out.print(f"{len(records)} row{'s' if len(records) != 1 else ''}")

    emit(records, json, render)


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_cell(v)}" for k, v in value.items()) + "}"
    return str(value)


def register(app: typer.Typer) -> None:
    """Add ``setup``, ``verify`` and ``sql`` to ``app``."""
    app.command()(setup)
    app.command()(verify)
    app.command()(sql)

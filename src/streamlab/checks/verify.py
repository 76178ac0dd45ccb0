"""Verifying a lab (the guide's Step 6): what landed, read back through Spark.

What Spark reads is checked against what the generator says it injected.

Every number is measured from the data as Spark reads it (schema, subfolders, parsed times),
then checked against the batch manifests: late events, duplicates and orphan clicks must match
exactly, every click on an existing impression must land within the click window after it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F

from streamlab.checks.compare import Check, first_extra_or_missing
from streamlab.errors import LabNotReadyError
from streamlab.ingest.quarantine import REASONS, bad_records, classify, read_lines, valid_records
from streamlab.ingest.schemas import SCHEMAS
from streamlab.lab.catalog import DATABASES, attach_catalog, table_ref
from streamlab.lab.paths import CHECKPOINTS, SOURCES, LabPaths
from streamlab.raw.landing import DATA_FILE, landed_batches, read_lab, read_manifests

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from streamlab.raw.generator import GeneratorConfig

SAMPLE_ROWS = {"events": 5, "impressions": 3, "clicks": 3}


@dataclass
class VerifyReport:
    """Everything ``streamlab verify`` measured, and whether the lab is as generated."""

    root: str
    events: dict[str, Any]
    impressions: dict[str, Any]
    clicks: dict[str, Any]
    databases: list[str]
    checkpoints: dict[str, bool]
    samples: dict[str, list[dict[str, Any]]]
    model: dict[str, Any] = field(default_factory=dict)
    """After a run: what Spark did next to what the model expected (:mod:`.groundtruth`)."""
    quarantine: dict[str, int] = field(default_factory=dict)
    """Lines that are not usable records, by reason (see :mod:`streamlab.ingest.quarantine`)."""
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether every check passed."""
        return all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> None:
        """Record one check."""
        self.checks.append(Check(name, ok, detail))

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-ready data (``ok`` included)."""
        data = asdict(self)
        data["ok"] = self.ok
        return data


def _events(df: DataFrame, lateness_min: int) -> dict[str, Any]:
    per_id = df.groupBy("event_id").agg(
        F.count(F.lit(1)).alias("copies"),
        F.min("processing_time").alias("first_seen"),
        F.min("event_time").alias("event_time"),
    )
    delay = F.unix_timestamp("first_seen") - F.unix_timestamp("event_time")
    row = per_id.agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum("copies").alias("rows_total"),
        F.sum(F.col("copies") - 1).alias("duplicates"),
        F.sum(F.when(delay >= lateness_min, 1).otherwise(0)).alias("late"),
    ).first()
    assert row is not None
    return {k: int(v or 0) for k, v in row.asDict().items()}


def _clicks(clicks: DataFrame, impressions: DataFrame, window_s: int) -> dict[str, Any]:
    joined = clicks.join(
        impressions.select("impression_id", "impression_time"), "impression_id", "left"
    )
    delay = F.unix_timestamp("click_time") - F.unix_timestamp("impression_time")
    matched = F.col("impression_time").isNotNull()
    row = joined.agg(
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.when(~matched, 1).otherwise(0)).alias("orphans"),
        F.min(F.when(matched, delay)).alias("delay_min_s"),
        F.max(F.when(matched, delay)).alias("delay_max_s"),
        F.sum(F.when(matched & ((delay < 0) | (delay > window_s)), 1).otherwise(0)).alias(
            "outside_window"
        ),
    ).first()
    assert row is not None
    return {k: (int(v) if v is not None else None) for k, v in row.asDict().items()}


def _sample(spark: SparkSession, paths: LabPaths, source: str) -> list[dict[str, Any]]:
    file = paths.batch(source, 0) / DATA_FILE
    if not file.exists():
        return []
    rows = spark.read.schema(SCHEMAS[source]).json(str(file)).limit(SAMPLE_ROWS[source]).collect()
    return [r.asDict() for r in rows]


def verify_lab(spark: SparkSession, paths: LabPaths) -> VerifyReport:
    """Measure the lab at ``paths`` through Spark and check it against its manifests."""
    cfg = read_lab(paths)
    if cfg is None:
        raise LabNotReadyError(f"no lab at {paths.root}: run 'streamlab setup' first")
    batches = {s: landed_batches(paths, s) for s in SOURCES}
    missing = [s for s in SOURCES if not batches[s]]
    if missing:
        raise LabNotReadyError(
            f"no {', '.join(missing)} batches under {paths.root}: run 'streamlab setup'"
        )
    classified = {
        s: classify(read_lines(spark, paths, s, streaming=False), s).cache() for s in SOURCES
    }
    records = {s: valid_records(classified[s], s, origin=False) for s in SOURCES}
    quarantined = [r.asDict() for s in SOURCES for r in bad_records(classified[s], s).collect()]
    attach_catalog(spark, paths)
    events = _events(records["events"], cfg.lateness_min)
    impressions_df = records["impressions"]
    clicks = _clicks(records["clicks"], impressions_df, cfg.click_window)
    impressions = {"rows": impressions_df.count()}
    for name, data in (("events", events), ("impressions", impressions), ("clicks", clicks)):
        data["batches"] = len(batches[name])

    listed = {d.name for d in spark.catalog.listDatabases()}
    report = VerifyReport(
        root=str(paths.root),
        events=events,
        impressions=impressions,
        clicks=clicks,
        databases=[d for d in DATABASES if d in listed],
        checkpoints={c: paths.checkpoint(c).is_dir() for c in CHECKPOINTS},
        samples={s: _sample(spark, paths, s) for s in SOURCES},
        quarantine=_quarantine_counts(quarantined),
    )
    _check(report, cfg, paths)
    _check_quarantine(report, quarantined, paths)
    _check_bad_records_table(spark, report, paths)
    from streamlab.checks.groundtruth import compare_with_model

    truth = compare_with_model(spark, paths)
    report.model = {k: v for k, v in truth.to_dict().items() if k not in ("checks", "root")}
    report.checks.extend(truth.checks)
    for frame in classified.values():
        frame.unpersist()
    return report


def _check_bad_records_table(spark: SparkSession, report: VerifyReport, paths: LabPaths) -> None:
    """After a run, the pipelines' ``bad_records`` table must hold exactly what was injected."""
    folder = table_ref(paths, "streaming_bronze.bad_records").path
    if not (folder / "_spark_metadata").is_dir():
        return  # the pipelines have not run
    rows = spark.read.parquet(str(folder)).select("batch", "reason", "raw").collect()
    found = sorted((r["batch"], r["reason"], r["raw"]) for r in rows)
    injected = sorted(
        (m["batch"], bad["reason"], bad["raw"])
        for m in read_manifests(paths, "events")
        for bad in m.get("bad", [])
    )
    report.add(
        "pipelines.bad_records",
        found == injected,
        f"{len(found)} rows in streaming_bronze.bad_records, {len(injected)} bad records injected"
        + ("" if found == injected else f" ({_first_difference(found, injected)})"),
    )


def _quarantine_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts = dict.fromkeys(REASONS, 0)
    for row in rows:
        counts[row["reason"]] += 1
    return counts


def _check_quarantine(report: VerifyReport, rows: list[dict[str, Any]], paths: LabPaths) -> None:
    injected = sorted(
        (m["batch"], bad["reason"], bad["raw"])
        for m in read_manifests(paths, "events")
        for bad in m.get("bad", [])
    )
    found = sorted((r["batch"], r["reason"], r["raw"]) for r in rows)
    report.add(
        "quarantine",
        found == injected,
        f"{len(found)} lines quarantined, {len(injected)} bad records injected"
        + ("" if found == injected else f" ({_first_difference(found, injected)})"),
    )


def _first_difference(found: list[Any], injected: list[Any]) -> str:
    first = first_extra_or_missing(found, injected)
    assert first is not None, "called only when the two differ"
    (batch, reason, _raw), extra = first
    what = "not injected but quarantined" if extra else "injected but not quarantined"
    return f"{what}: batch {batch} {reason}"


def _check(report: VerifyReport, cfg: GeneratorConfig, paths: LabPaths) -> None:
    """Check what was read against the generator settings and the batch manifests."""
    manifests = {s: read_manifests(paths, s) for s in SOURCES}
    injected: dict[str, Any] = {
        "late": sum(len(m["late"]) for m in manifests["events"]),
        "duplicates": sum(len(m["duplicates"]) for m in manifests["events"]),
        "orphans": sum(len(m["orphans"]) for m in manifests["clicks"]),
        "rows": {s: sum(m["rows"] for m in manifests[s]) for s in SOURCES},
    }
    ev, imp, clk = report.events, report.impressions, report.clicks
    for source, data in (("events", ev), ("impressions", imp), ("clicks", clk)):
        report.add(
            f"{source}.batches",
            data["batches"] == cfg.batches,
            f"{data['batches']} of {cfg.batches} batches landed",
        )
    expected_events = cfg.batches * cfg.events_per_batch
    report.add(
        "events.rows",
        ev["rows"] == expected_events,
        f"{ev['rows']} distinct events, expected {expected_events}",
    )
    report.add(
        "events.rows_total",
        ev["rows_total"] == injected["rows"]["events"],
        f"{ev['rows_total']} rows read, manifests list {injected['rows']['events']}",
    )
    report.add(
        "events.duplicates",
        ev["duplicates"] == injected["duplicates"],
        f"{ev['duplicates']} re-sent rows, {injected['duplicates']} injected",
    )
    report.add(
        "events.late",
        ev["late"] == injected["late"],
        f"{ev['late']} late events, {injected['late']} injected",
    )
    expected_imp = cfg.batches * cfg.impressions_per_batch
    report.add(
        "impressions.rows",
        imp["rows"] == expected_imp,
        f"{imp['rows']} impressions, expected {expected_imp}",
    )
    expected_clk = cfg.batches * cfg.clicks_per_batch
    report.add(
        "clicks.rows", clk["rows"] == expected_clk, f"{clk['rows']} clicks, expected {expected_clk}"
    )
    report.add(
        "clicks.orphans",
        clk["orphans"] == injected["orphans"],
        f"{clk['orphans']} clicks without an impression, {injected['orphans']} injected",
    )
    report.add(
        "clicks.window",
        clk["outside_window"] == 0,
        f"{clk['outside_window']} clicks outside 0-{cfg.click_window}s after their impression",
    )
    missing_db = [d for d in DATABASES if d not in report.databases]
    report.add(
        "databases",
        not missing_db,
        "all present" if not missing_db else f"missing: {', '.join(missing_db)}",
    )
    missing_ck = [c for c, ok in report.checkpoints.items() if not ok]
    report.add(
        "checkpoints",
        not missing_ck,
        "all present" if not missing_ck else f"missing: {', '.join(missing_ck)}",
    )

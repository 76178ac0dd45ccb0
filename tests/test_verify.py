"""The checks ``streamlab verify`` applies to what Spark measured, without Spark."""

from __future__ import annotations

import json
from dataclasses import replace

from streamlab.checks.verify import VerifyReport, _check
from streamlab.lab.catalog import DATABASES
from streamlab.lab.paths import CHECKPOINTS, LabPaths
from streamlab.raw.generator import GeneratorConfig
from streamlab.raw.provision import setup_lab
from tests.support.lab import BASE_TIME

SMALL = GeneratorConfig(
    base_time=BASE_TIME, batches=2, events_per_batch=20, impressions_per_batch=8, clicks_per_batch=4
)


def measured(paths: LabPaths) -> VerifyReport:
    """What Spark would measure on a sound lab, counted here from the files' manifests."""
    manifests = {
        s: [json.loads(f.read_text()) for f in sorted(paths.source(s).glob("*/_manifest.json"))]
        for s in ("events", "impressions", "clicks")
    }
    rows = {s: sum(m["rows"] for m in ms) for s, ms in manifests.items()}
    duplicates = sum(len(m["duplicates"]) for m in manifests["events"])
    return VerifyReport(
        root=str(paths.root),
        events={
            "batches": len(manifests["events"]),
            "rows": rows["events"] - duplicates,
            "rows_total": rows["events"],
            "duplicates": duplicates,
            "late": sum(len(m["late"]) for m in manifests["events"]),
        },
        impressions={"batches": len(manifests["impressions"]), "rows": rows["impressions"]},
        clicks={
            "batches": len(manifests["clicks"]),
            "rows": rows["clicks"],
            "orphans": sum(len(m["orphans"]) for m in manifests["clicks"]),
            "outside_window": 0,
        },
        databases=list(DATABASES),
        checkpoints=dict.fromkeys(CHECKPOINTS, True),
        samples={},
    )


def test_the_checks_take_the_batch_count_from_the_lab_settings(lab: LabPaths) -> None:
    setup_lab(lab, SMALL)
    report = measured(lab)
    _check(report, SMALL, lab)
    assert report.ok, [c for c in report.checks if not c.ok]
    # Settings that promise a third batch: the batch and row checks fail, naming the numbers.
    short = measured(lab)
    _check(short, replace(SMALL, batches=3), lab)
    failed = {c.name: c.detail for c in short.checks if not c.ok}
    assert failed["events.batches"] == "2 of 3 batches landed"
    assert failed["events.rows"] == f"{report.events['rows']} distinct events, expected 60"
    assert {"impressions.rows", "clicks.rows"} <= set(failed)

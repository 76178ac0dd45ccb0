"""The guide lab gives the tables and the accounting recorded before the package was reshaped.

``tests/data/guide_lab.json`` was written by ``streamlab lab`` on the guide's lab (seed 17, base
time 2026-01-01 09:00 UTC): every table's row count and a digest of its rows in a stable order,
the small gold tables and ``late_events`` row for row, each query's batches and rows, and the
accounting. A change to the code that changes what the lab computes fails here, table by table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.lab import GuideRun
from tests.support.tables import digest, records_of

pytestmark = pytest.mark.slow

RECORD = json.loads((Path(__file__).parent / "data" / "guide_lab.json").read_text())


@pytest.fixture(scope="module")
def now(guide_run: GuideRun) -> dict[str, Any]:
    run = guide_run.result.to_dict()
    return {
        "tables": records_of(guide_run.paths.root),
        "queries": {q["name"]: q for p in run["pipelines"] for q in p["queries"]},
        "late": {p["pipeline"]: p["late_captured"] for p in run["pipelines"]},
        "accounting": next(p["accounting"] for p in run["pipelines"] if p["accounting"]),
    }


@pytest.mark.parametrize("table", sorted(RECORD["tables"]))
def test_every_table_holds_the_recorded_rows(now: dict[str, Any], table: str) -> None:
    recorded = RECORD["tables"][table]
    rows = now["tables"][table]
    assert len(rows) == recorded["rows"]
    if "records" in recorded:
        assert rows == recorded["records"]
    assert digest(rows) == recorded["sha256"]


def test_no_table_is_new_or_missing(now: dict[str, Any]) -> None:
    assert sorted(now["tables"]) == sorted(RECORD["tables"])


def test_every_query_ran_the_recorded_batches_and_rows(now: dict[str, Any]) -> None:
    for name, recorded in RECORD["queries"].items():
        query = now["queries"][name]
        assert {k: query[k] for k in recorded} == recorded, name


def test_the_accounting_is_the_recorded_one(now: dict[str, Any]) -> None:
    # The accounting has gained fields since (the batches it checked, Spark's own count of
    # duplicates); every field recorded then must still hold its value.
    recorded = RECORD["accounting"]
    assert {k: now["accounting"].get(k) for k in recorded} == recorded
    assert now["accounting"]["duplicates_reported"] == recorded["duplicates_removed"]
    assert now["late"]["late_data"] == RECORD["late_captured"]["late_data"]

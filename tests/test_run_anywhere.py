"""The same lab, unchanged, on local Spark, on a standalone cluster and over Spark Connect.

One master with one 1-core worker and one Connect server start for the module (and are stopped
whatever happens, tests/support/servers.py). Each mode gets a lab root of its own with the same
generator settings; ``streamlab setup`` writes the same bytes everywhere (generation is Python,
not Spark), then ``streamlab lab`` runs every pipeline and the verification through the mode's
Spark. Every table must hold the same rows in all three modes, and the runs must report the
same numbers. The same stream tests of ``streamlab.testing`` give identical results in every
mode too (each mode in its own process, with its own session).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from streamlab.spark.daemons import Daemon, alive
from tests.support.processes import streamlab
from tests.support.servers import started_servers
from tests.support.tables import tables_of

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

# Six batches: enough for windows to close, late data, joins and dedup in every mode.
SETUP = [
    "--base-time",
    "2026-01-01T09:00:00",
    "--seed",
    "17",
    "--batch-interval",
    "300s",
    "--batches",
    "6",
]
MODES = ("local", "cluster", "connect")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A cluster (1 master, 1 worker of 1 core) and a local-mode Connect server."""
    yield from started_servers(tmp_path_factory.mktemp("servers"))


@pytest.fixture(scope="module")
def labs(
    servers: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    """Run the whole lab in each mode, at once, each in a root of its own."""
    flags = {
        "local": [],
        "cluster": ["--master", servers["cluster"]["master_url"]],
        "connect": ["--remote", servers["connect"]["url"]],
    }

    def run(mode: str) -> dict[str, Any]:
        root = tmp_path_factory.mktemp(f"lab-{mode}")
        setup = streamlab("setup", "--root", str(root), *SETUP, "--json", timeout=300)
        assert setup.returncode == 0, setup.stderr
        started = time.monotonic()
        lab = streamlab("lab", "--root", str(root), *flags[mode], "--json", timeout=900)
        assert lab.returncode == 0, f"{mode}: {lab.stderr[-2000:]}"
        seconds = time.monotonic() - started
        return {"root": root, "report": json.loads(lab.stdout), "seconds": seconds}

    with ThreadPoolExecutor(len(MODES)) as pool:
        futures = {mode: pool.submit(run, mode) for mode in MODES}
        return {mode: future.result() for mode, future in futures.items()}


def test_the_cluster_and_the_server_are_up_on_loopback(servers: dict[str, Any]) -> None:
    cluster, connect = servers["cluster"], servers["connect"]
    assert cluster["running"] and cluster["workers_registered"] == 1 and cluster["cores"] == 1
    assert cluster["master_url"].startswith("spark://127.0.0.1:")
    assert connect["running"] and connect["accepting"]
    assert connect["url"].startswith("sc://127.0.0.1:")
    status = streamlab("cluster", "status", "--root", str(servers["cluster_root"]), "--json")
    assert json.loads(status.stdout)["workers_alive"] == 1


def test_a_port_in_use_by_the_cluster_is_refused(servers: dict[str, Any], tmp_path: Path) -> None:
    port = servers["cluster"]["master_url"].rsplit(":", 1)[1]
    result = streamlab("cluster", "start", "--root", str(tmp_path), "--port", port, timeout=60)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and f"port {port}" in result.stderr


def test_every_mode_passes_the_whole_lab(labs: dict[str, dict[str, Any]]) -> None:
    print({mode: round(lab["seconds"], 1) for mode, lab in labs.items()})  # shown with -s
    for mode, lab in labs.items():
        report = lab["report"]
        assert report["ok"], f"{mode}: {report['verify']['checks']}"
        assert report["run"]["ok"], mode


def test_every_table_is_identical_in_every_mode(labs: dict[str, dict[str, Any]]) -> None:
    local = tables_of(labs["local"]["root"])
    expected = {
        "streaming_bronze.events",
        "streaming_silver.events_dedup",
        "streaming_gold.events_tumbling",
        "streaming_gold.events_sliding",
        "streaming_silver.ad_clicks",
    }
    assert expected <= set(local)
    assert all(len(local[name]) > 0 for name in expected)
    for mode in ("cluster", "connect"):
        other = tables_of(labs[mode]["root"])
        assert set(other) == set(local), mode
        for name, frame in local.items():
            theirs = other[name]
            assert list(theirs.columns) == list(frame.columns), f"{mode} {name}"
            assert len(theirs) == len(frame), f"{mode} {name}: {len(theirs)} != {len(frame)}"
            differ = ~(theirs.eq(frame) | (theirs.isna() & frame.isna())).all(axis=1)
            assert not differ.any(), (
                f"{mode} {name}: {int(differ.sum())} rows differ, first:\n"
                f"{theirs[differ].head(3)}\nlocal:\n{frame[differ].head(3)}"
            )


def _numbers(report: dict[str, Any]) -> dict[str, Any]:
    """The run's results without timings and paths."""
    out: dict[str, Any] = {}
    for pipeline in report["run"]["pipelines"]:
        out[pipeline["pipeline"]] = {
            "late_captured": pipeline["late_captured"],
            "accounting": pipeline["accounting"],
            "queries": [
                {k: v for k, v in q.items() if k != "seconds"} for q in pipeline["queries"]
            ],
        }
    out["checks"] = [(c["name"], c["ok"], c["detail"]) for c in report["verify"]["checks"]]
    return json.loads(json.dumps(out).replace(report["root"], "<root>"))


def test_the_runs_report_the_same_numbers(labs: dict[str, dict[str, Any]]) -> None:
    local = _numbers(labs["local"]["report"])
    for mode in ("cluster", "connect"):
        assert _numbers(labs[mode]["report"]) == local, mode


# --- the harness's stream tests in every mode ------------------------------------------------

SCENARIO = r"""
import json, sys
from pyspark.sql import functions as F
from streamlab.spark.session import lab_session
from streamlab.testing import (AddData, CheckAnswer, CheckNewAnswer, CrashAndRestart,
    ExpectLate, ExpectWatermark, ModelAnswer, StreamTest)

spark = lab_session(sys.argv[1], attach=False, config={"spark.sql.shuffle.partitions": "2"})

def counts(events):
    return (events.withWatermark("event_time", "10 seconds")
            .dropDuplicatesWithinWatermark(["id"])
            .groupBy(F.window("event_time", "10 seconds", "5 seconds")).count())

def joined(impressions, clicks):
    imps = impressions.withWatermark("imp_time", "5 seconds")
    cl = clicks.withWatermark("click_time", "5 seconds")
    return imps.join(cl, F.expr("imp_id = click_imp AND click_time BETWEEN imp_time AND "
                                "imp_time + interval 10 seconds"), "leftOuter")

t = lambda s: f"2026-01-01 00:00:{s:02d}"
one = StreamTest(spark, counts, schema="id string, event_time timestamp", expect_model=True).run(
    AddData([("a", t(1)), ("b", t(7)), ("a", t(1))]),
    CheckNewAnswer(),
    AddData([("c", t(30)), ("d", t(2))]),
    CheckNewAnswer(),
    CrashAndRestart(),
    AddData([("e", t(3)), ("f", t(45))]),
    ExpectLate([("e", t(3))]),
    ExpectWatermark(ModelAnswer()),
    CheckAnswer(),
)
two = StreamTest(spark, joined, inputs={"impressions": "imp_id string, imp_time timestamp",
                 "clicks": "click_id string, click_imp string, click_time timestamp"},
                 expect_model=True).run(
    AddData([("i1", t(1)), ("i2", t(2))], to="impressions"),
    AddData([("c1", "i1", t(4))], to="clicks"),
    AddData([("i9", t(40))], to="impressions"),
    AddData([("c9", "i9", t(41))], to="clicks"),
    CheckAnswer(),
)
def plain(run):
    rows = [{k: str(v) for k, v in r.items()} for r in run.answer]
    return {"rows": sorted(rows, key=json.dumps),
            "watermarks": [b.watermark_ms for _, b in sorted(run.batches.items())]}
print("RESULT " + json.dumps({"windows": plain(one), "join": plain(two)}))
"""


def run_mode(tmp: Path, env: dict[str, str]) -> dict[str, Any]:
    script = tmp / "scenario.py"
    script.write_text(SCENARIO)
    base = dict(os.environ)
    for key in ("SPARK_REMOTE", "STREAMLAB_MASTER"):
        base.pop(key, None)
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp / "lab")],
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    return dict(json.loads(line[len("RESULT ") :]))


@pytest.fixture(scope="module")
def local_result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_mode(tmp_path_factory.mktemp("harness-local"), {})


def test_a_standalone_cluster_gives_identical_results(
    servers: dict[str, Any], local_result: dict[str, Any], tmp_path: Path
) -> None:
    assert (
        run_mode(tmp_path, {"STREAMLAB_MASTER": servers["cluster"]["master_url"]}) == local_result
    )


def test_spark_connect_gives_identical_results(
    servers: dict[str, Any], local_result: dict[str, Any], tmp_path: Path
) -> None:
    assert run_mode(tmp_path, {"SPARK_REMOTE": servers["connect"]["url"]}) == local_result


# --- last: stopping ---------------------------------------------------------------------------


def test_stop_ends_exactly_the_started_processes(servers: dict[str, Any]) -> None:
    recorded = [
        Daemon(**{k: v for k, v in d.items() if k != "alive"})
        for key in ("cluster", "connect")
        for d in servers[key]["processes"]
    ]
    assert {d.role for d in recorded} == {"master", "worker-1", "connect-server"}
    for command, root in (("cluster", "cluster_root"), ("connect-server", "connect_root")):
        result = streamlab(command, "stop", "--root", str(servers[root]), "--json", timeout=120)
        assert result.returncode == 0, result.stderr
    assert not any(alive(d) for d in recorded)

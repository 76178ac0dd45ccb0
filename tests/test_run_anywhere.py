"""The same lab, unchanged, on local Spark, on a standalone cluster and over Spark Connect.

One master with one 1-core worker and one Connect server start for the module (and are stopped
whatever happens). Each mode gets a lab root of its own with the same generator settings;
``streamlab setup`` writes the same bytes everywhere (generation is Python, not Spark), then
``streamlab lab`` runs every pipeline and the verification through the mode's Spark. Every
table must hold the same rows in all three modes, and the runs must report the same numbers.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from streamlab.lab.paths import LabPaths
from streamlab.spark.cluster import stop_cluster
from streamlab.spark.connect import stop_connect_server
from streamlab.spark.daemons import Daemon, alive
from tests.support.ports import free_ports
from tests.support.processes import streamlab
from tests.support.tables import tables_of

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

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
    """A cluster (1 master, 1 worker of 1 core) and a local-mode Connect server, both stopped
    at the end whatever happens."""
    cluster_root = tmp_path_factory.mktemp("cluster")
    connect_root = tmp_path_factory.mktemp("connect")
    master_port, webui_port, connect_port = free_ports(1), free_ports(2), free_ports(1)
    cluster_args = ["cluster", "start", "--root", str(cluster_root), "--json"]
    cluster_args += ["--port", str(master_port), "--webui-port", str(webui_port)]
    cluster_args += ["--workers", "1", "--cores", "1", "--memory", "2g"]
    connect_args = ["connect-server", "start", "--root", str(connect_root), "--json"]
    connect_args += ["--port", str(connect_port)]
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(2) as pool:
            cluster_run = pool.submit(streamlab, *cluster_args, timeout=300)
            connect_run = pool.submit(streamlab, *connect_args, timeout=300)
            cluster, connect = cluster_run.result(), connect_run.result()
        assert cluster.returncode == 0, cluster.stderr
        assert connect.returncode == 0, connect.stderr
        print(f"cluster and Connect server up in {time.monotonic() - started:.1f} s")
        yield {
            "cluster_root": cluster_root,
            "connect_root": connect_root,
            "cluster": json.loads(cluster.stdout),
            "connect": json.loads(connect.stdout),
        }
    finally:
        streamlab("cluster", "stop", "--root", str(cluster_root), timeout=120)
        streamlab("connect-server", "stop", "--root", str(connect_root), timeout=120)
        # The library call is a no-op when the command above worked; it is the safety net.
        stop_cluster(LabPaths.resolve(cluster_root))
        stop_connect_server(LabPaths.resolve(connect_root))


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

"""The same stream tests give identical results locally, on a standalone cluster and over
Spark Connect (each mode in its own process, with its own session)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.ports import free_ports
from tests.support.processes import streamlab

# Two servers and three Spark sessions in their own processes: minutes on a busy machine.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]

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
    base = {k: v for k, v in __import__("os").environ.items()}
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
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    from streamlab.lab.paths import LabPaths
    from streamlab.spark.cluster import stop_cluster
    from streamlab.spark.connect import stop_connect_server

    cluster_root = tmp_path_factory.mktemp("harness-cluster")
    connect_root = tmp_path_factory.mktemp("harness-connect")
    master_port, webui_port, connect_port = free_ports(1), free_ports(2), free_ports(1)
    try:
        cluster = streamlab(
            "cluster", "start", "--root", str(cluster_root), "--json",
            "--port", str(master_port), "--webui-port", str(webui_port),
            "--workers", "1", "--cores", "1", "--memory", "2g", timeout=300,
        )  # fmt: skip
        assert cluster.returncode == 0, cluster.stderr
        connect = streamlab(
            "connect-server", "start", "--root", str(connect_root), "--json",
            "--port", str(connect_port), timeout=300,
        )  # fmt: skip
        assert connect.returncode == 0, connect.stderr
        yield {
            "cluster": f"spark://127.0.0.1:{master_port}",
            "connect": f"sc://127.0.0.1:{connect_port}",
        }
    finally:
        streamlab("cluster", "stop", "--root", str(cluster_root), timeout=120)
        streamlab("connect-server", "stop", "--root", str(connect_root), timeout=120)
        stop_cluster(LabPaths.resolve(cluster_root))
        stop_connect_server(LabPaths.resolve(connect_root))


@pytest.fixture(scope="module")
def local_result(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_mode(tmp_path_factory.mktemp("harness-local"), {})


def test_a_standalone_cluster_gives_identical_results(
    servers: dict[str, str], local_result: dict[str, Any], tmp_path: Path
) -> None:
    assert run_mode(tmp_path, {"STREAMLAB_MASTER": servers["cluster"]}) == local_result


def test_spark_connect_gives_identical_results(
    servers: dict[str, str], local_result: dict[str, Any], tmp_path: Path
) -> None:
    assert run_mode(tmp_path, {"SPARK_REMOTE": servers["connect"]}) == local_result

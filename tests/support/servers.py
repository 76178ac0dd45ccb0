"""One standalone cluster and one Spark Connect server for the whole test run.

Both start on free loopback ports the first time a test asks for them (together, in parallel)
and are stopped when the run ends, whatever happens: the modes tests of the lab and of the
harness share them instead of starting their own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from streamlab.lab.paths import LabPaths
from streamlab.spark.cluster import stop_cluster
from streamlab.spark.connect import stop_connect_server
from tests.support.ports import free_ports
from tests.support.processes import streamlab


def started_servers(base: Path) -> Iterator[dict[str, Any]]:
    """Start a cluster (1 master, 1 worker of 1 core) and a local-mode Connect server under
    ``base``; yield their roots and ``--json`` reports; stop both at the end."""
    cluster_root, connect_root = base / "cluster", base / "connect"
    cluster_root.mkdir(parents=True)
    connect_root.mkdir(parents=True)
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

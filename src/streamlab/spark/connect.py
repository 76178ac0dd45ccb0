"""A Spark Connect server for a lab, from the server class that ships inside PySpark 4.

``start_connect_server`` runs ``spark-submit`` with the server class, bound to 127.0.0.1, with
the lab's session settings (warehouse under the lab root, UTC, RocksDB state, shuffle
partitions, in-memory catalog), so a remote ``lab_session(root, remote="sc://127.0.0.1:15002")``
sees the lab's tables. The server's Python workers (UDFs, ``foreachBatch``, listeners) run this
interpreter. With ``master`` the server's queries run on a cluster
(``streamlab cluster start``).

>>> status = start_connect_server(LabPaths.resolve())  # doctest: +SKIP
>>> status.url  # doctest: +SKIP
'sc://127.0.0.1:15002'
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from streamlab.errors import StreamlabError
from streamlab.lab.paths import LabPaths
from streamlab.spark.daemons import (
    LOOPBACK,
    alive,
    daemon_env,
    daemons_of,
    launch,
    log_tail,
    reachable,
    read_state,
    require_free,
    spark_home,
    stop,
    write_state,
)
from streamlab.spark.settings import DEFAULT_PORT, ConnectConfig

SERVER_CLASS = "org.apache.spark.sql.connect.service.SparkConnectServer"
Progress = Callable[[str], None]


@dataclass
class ConnectStatus:
    """Where a lab's Connect server stands."""

    running: bool
    url: str | None = None
    """The URL clients pass as ``--remote``."""
    master: str | None = None
    pid: int | None = None
    log: str | None = None
    accepting: bool = False
    """Whether its port accepts connections."""
    processes: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the status as JSON-ready data."""
        return asdict(self)


def state_file(paths: LabPaths) -> Path:
    """Return the file recording the server's process and port."""
    return paths.root / "connect" / "state.json"


def server_settings(paths: LabPaths, master: str | None) -> dict[str, str]:
    """Return the Spark settings of the lab's Connect server."""
    from streamlab.spark.cluster import driver_settings
    from streamlab.spark.settings import default_config

    settings = default_config(paths, os.cpu_count() or 2)
    settings.update(
        {
            "spark.connect.grpc.binding.address": LOOPBACK,
            "spark.master.rest.enabled": "false",
        }
    )
    if master:
        settings.update(driver_settings(master))
    return settings


def start_connect_server(
    paths: LabPaths, config: ConnectConfig | None = None, progress: Progress | None = None
) -> ConnectStatus:
    """Start the lab's Connect server and return once it accepts connections.

    A server this lab started that still runs is left as it is; a port already taken fails
    with one line before anything starts.
    """
    cfg = config or ConnectConfig()
    say = progress or (lambda message: None)
    current = connect_status(paths)
    if current.running:
        current.note = "already running"
        return current
    require_free({"Spark Connect server": cfg.port}, "--port")
    if cfg.master:
        from streamlab.spark.cluster import check_master

        check_master(cfg.master)
    paths.ensure_writable()
    base = paths.root / "connect"
    master = cfg.master or f"local[{os.cpu_count() or 2}]"
    command = [
        str(spark_home() / "bin" / "spark-submit"),
        *("--class", SERVER_CLASS, "--name", "streamlab Spark Connect server"),
        *("--master", master),
    ]
    settings = server_settings(paths, cfg.master)
    settings["spark.connect.grpc.binding.port"] = str(cfg.port)
    for key, value in settings.items():
        command += ["--conf", f"{key}={value}"]
    env = daemon_env({"SPARK_LOG_DIR": str(base / "logs"), "SPARK_PID_DIR": str(base)})
    url = f"sc://{LOOPBACK}:{cfg.port}"
    say(f"Starting the Spark Connect server at {url} (master {master})")
    server = launch(
        "connect-server", command, SERVER_CLASS, cfg.port, base / "logs" / "server.log", env
    )
    write_state(
        state_file(paths),
        {"url": url, "master": master, "config": asdict(cfg), "daemons": [server.to_dict()]},
    )
    try:
        say("Waiting for the server to accept connections")
        deadline = time.monotonic() + cfg.timeout
        while not reachable(LOOPBACK, cfg.port, timeout=1.0):
            if not alive(server):
                raise StreamlabError(
                    f"the Spark Connect server stopped while starting ({log_tail(server.log)}): "
                    f"see {server.log}"
                )
            if time.monotonic() > deadline:
                raise StreamlabError(
                    f"the Spark Connect server did not accept connections within "
                    f"{cfg.timeout:.0f} s: see {server.log}"
                )
            time.sleep(0.5)
    except BaseException:
        stop(server)
        state_file(paths).unlink(missing_ok=True)
        raise
    say("Spark Connect server ready")
    return connect_status(paths)


def connect_status(paths: LabPaths) -> ConnectStatus:
    """Return whether the lab's Connect server runs, its URL and whether it accepts clients."""
    state = read_state(state_file(paths))
    daemons = daemons_of(state)
    if state is None or not daemons:
        return ConnectStatus(running=False, note="no Spark Connect server started for this lab")
    server = daemons[0]
    running = alive(server)
    return ConnectStatus(
        running=running,
        url=state.get("url"),
        master=state.get("master"),
        pid=server.pid,
        log=server.log,
        accepting=running and reachable(LOOPBACK, server.port, timeout=1.0),
        processes=[{**d.to_dict(), "alive": alive(d)} for d in daemons],
        note="" if running else "not running: 'streamlab connect-server start' starts it again",
    )


def stop_connect_server(paths: LabPaths) -> list[str]:
    """Stop the lab's Connect server (and the Python workers it started); return what stopped."""
    file = state_file(paths)
    stopped = [d.role for d in daemons_of(read_state(file)) if stop(d)]
    file.unlink(missing_ok=True)
    return stopped


def check_remote(url: str, timeout: float = 3.0) -> None:
    """Fail within ``timeout`` seconds, with one line, when no server listens at ``url``.

    The Spark Connect client retries an unreachable server for minutes before it gives up.
    """
    parsed = urlparse(url)
    try:
        port = parsed.port or DEFAULT_PORT
    except ValueError:
        port = -1
    if parsed.scheme != "sc" or not parsed.hostname or port < 0:
        raise StreamlabError(f"--remote {url!r} is not a Spark Connect URL like sc://HOST:PORT")
    if not reachable(parsed.hostname, port, timeout):
        raise StreamlabError(
            f"no Spark Connect server answers at {url}: start one with "
            "'streamlab connect-server start' or fix --remote"
        )

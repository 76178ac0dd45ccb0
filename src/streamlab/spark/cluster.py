"""A Spark standalone cluster on this machine, from the launcher inside the PySpark package.

``start_cluster`` starts one master and N workers with PySpark's own ``bin/spark-class``
(nothing to download), bound to 127.0.0.1, with their work and log folders under
``<root>/cluster/``, and waits until every worker has registered. ``stop_cluster`` stops exactly
the processes recorded in ``<root>/cluster/state.json``.

>>> status = start_cluster(LabPaths.resolve(), ClusterConfig(workers=1))  # doctest: +SKIP
>>> status.master_url  # doctest: +SKIP
'spark://127.0.0.1:7077'
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from streamlab.errors import StreamlabError
from streamlab.lab.paths import LabPaths
from streamlab.spark.daemons import (
    LOOPBACK,
    Daemon,
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
from streamlab.spark.settings import ClusterConfig

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
Progress = Callable[[str], None]


@dataclass
class ClusterStatus:
    """Where a lab's cluster stands."""

    running: bool
    """Whether the master process recorded for this lab runs."""
    master_url: str | None = None
    webui_url: str | None = None
    workers: int = 0
    """Worker processes recorded."""
    workers_alive: int = 0
    """Worker processes that run."""
    workers_registered: int = 0
    """Workers the master reports ALIVE (from its web UI's JSON)."""
    cores: int = 0
    """Cores the registered workers offer."""
    apps: list[str] = field(default_factory=list)
    """Running applications, by name."""
    processes: list[dict[str, Any]] = field(default_factory=list)
    """Each recorded process: role, pid, port, log and whether it is alive."""
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the status as JSON-ready data."""
        return asdict(self)


def state_file(paths: LabPaths) -> Path:
    """Return the file recording the cluster's processes and ports."""
    return paths.root / "cluster" / "state.json"


def start_cluster(
    paths: LabPaths, config: ClusterConfig | None = None, progress: Progress | None = None
) -> ClusterStatus:
    """Start a master and ``config.workers`` workers; return once every worker registered.

    A cluster this lab started that still runs is left as it is. A port already taken fails
    with one line before anything starts; a process that dies while starting stops the rest.
    """
    cfg = config or ClusterConfig()
    say = progress or (lambda message: None)
    current = cluster_status(paths)
    if current.running:
        current.note = "already running"
        return current
    worker_ui = [cfg.webui_port + 1 + i for i in range(cfg.workers)]
    ports = {"master": cfg.port, "master web UI": cfg.webui_port}
    ports.update({f"web UI of worker {i + 1}": p for i, p in enumerate(worker_ui)})
    require_free(ports, "--port/--webui-port")
    paths.ensure_writable()
    base = paths.root / "cluster"
    (base / "work").mkdir(parents=True, exist_ok=True)
    env = daemon_env(
        {
            "SPARK_LOG_DIR": str(base / "logs"),
            "SPARK_WORKER_DIR": str(base / "work"),
            "SPARK_PID_DIR": str(base),
            # The REST submission server would take port 6066 for every cluster on the machine.
            "SPARK_MASTER_OPTS": "-Dspark.master.rest.enabled=false",
        }
    )
    spark_class = str(spark_home() / "bin" / "spark-class")
    master_url = f"spark://{LOOPBACK}:{cfg.port}"
    say(f"Starting the master at {master_url}")
    master = launch(
        "master",
        [spark_class, MASTER_CLASS, *_flags(host=LOOPBACK, port=cfg.port, webui=cfg.webui_port)],
        MASTER_CLASS,
        cfg.port,
        base / "logs" / "master.log",
        env,
    )
    started: list[Daemon] = [master]
    _record(paths, cfg, started)
    try:
        _wait(cfg, started, lambda s: s.get("status") == "ALIVE", "the master", say)
        for i, ui_port in enumerate(worker_ui, start=1):
            say(f"Starting worker {i} of {cfg.workers} ({cfg.cores} core, {cfg.memory})")
            started.append(
                launch(
                    f"worker-{i}",
                    [
                        spark_class,
                        WORKER_CLASS,
                        master_url,
                        *_flags(host=LOOPBACK, cores=cfg.cores, memory=cfg.memory),
                        *_flags(webui=ui_port, work_dir=base / "work"),
                    ],
                    WORKER_CLASS,
                    ui_port,
                    base / "logs" / f"worker-{i}.log",
                    env,
                )
            )
            _record(paths, cfg, started)
        _wait(
            cfg,
            started,
            lambda s: int(s.get("aliveworkers", 0)) >= cfg.workers,
            f"{cfg.workers} worker(s) to register",
            say,
        )
    except BaseException:
        for daemon in reversed(started):
            stop(daemon)
        state_file(paths).unlink(missing_ok=True)
        raise
    say("Cluster ready")
    return cluster_status(paths)


def _flags(**options: object) -> list[str]:
    """Return command-line flags: ``webui=8080`` is ``--webui-port 8080``."""
    names = {"webui": "webui-port", "work_dir": "work-dir"}
    return [part for k, v in options.items() for part in (f"--{names.get(k, k)}", str(v))]


def _record(paths: LabPaths, cfg: ClusterConfig, daemons: list[Daemon]) -> None:
    write_state(
        state_file(paths),
        {
            "master_url": f"spark://{LOOPBACK}:{cfg.port}",
            "webui_url": f"http://{LOOPBACK}:{cfg.webui_port}",
            "config": asdict(cfg),
            "daemons": [d.to_dict() for d in daemons],
        },
    )


def _wait(
    cfg: ClusterConfig,
    daemons: list[Daemon],
    ready: Callable[[dict[str, Any]], bool],
    what: str,
    say: Progress,
) -> None:
    """Poll the master's JSON until ``ready``; fail early when a process dies."""
    say(f"Waiting for {what}")
    deadline = time.monotonic() + cfg.timeout
    while time.monotonic() < deadline:
        for daemon in daemons:
            if not alive(daemon):
                raise StreamlabError(
                    f"the cluster's {daemon.role} stopped while starting "
                    f"({log_tail(daemon.log)}): see {daemon.log}"
                )
        info = master_info(f"http://{LOOPBACK}:{cfg.webui_port}")
        if info is not None and ready(info):
            return
        time.sleep(0.5)
    raise StreamlabError(
        f"the cluster did not get ready within {cfg.timeout:.0f} s (waiting for {what}): "
        f"see the logs in {Path(daemons[0].log).parent}"
    )


def master_info(webui_url: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """Return the master's state from its web UI's JSON, or ``None`` if it does not answer."""
    try:
        import urllib.request  # only when asking a running master: keeps CLI start-up fast

        with urllib.request.urlopen(f"{webui_url}/json/", timeout=timeout) as response:
            data = json.loads(response.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def cluster_status(paths: LabPaths) -> ClusterStatus:
    """Return whether the lab's cluster runs, its URLs and how many workers registered."""
    state = read_state(state_file(paths))
    daemons = daemons_of(state)
    if state is None or not daemons:
        return ClusterStatus(running=False, note="no cluster started for this lab")
    processes = [{**d.to_dict(), "alive": alive(d)} for d in daemons]
    master = next((p for p in processes if p["role"] == "master"), None)
    workers = [p for p in processes if p["role"].startswith("worker")]
    result = ClusterStatus(
        running=bool(master and master["alive"]),
        master_url=state.get("master_url"),
        webui_url=state.get("webui_url"),
        workers=len(workers),
        workers_alive=sum(1 for p in workers if p["alive"]),
        processes=processes,
    )
    info = master_info(result.webui_url) if result.running and result.webui_url else None
    if info is not None:
        result.workers_registered = int(info.get("aliveworkers", 0))
        result.cores = int(info.get("cores", 0))
        result.apps = [str(a.get("name")) for a in info.get("activeapps", [])]
    if not result.running:
        result.note = "the master is not running: 'streamlab cluster start' starts it again"
    return result


def stop_cluster(paths: LabPaths) -> list[str]:
    """Stop the processes this lab's cluster started (workers first); return their roles."""
    file = state_file(paths)
    stopped = [d.role for d in reversed(daemons_of(read_state(file))) if stop(d)]
    file.unlink(missing_ok=True)
    return stopped


def check_master(url: str, timeout: float = 3.0) -> None:
    """Fail within ``timeout`` seconds, with one line, when no master listens at ``url``.

    Spark itself retries a missing master for a minute before it gives up.
    """
    for host, port in _addresses(url):
        if reachable(host, port, timeout):
            return
    raise StreamlabError(
        f"no Spark master answers at {url}: start one with 'streamlab cluster start' "
        "or fix --master"
    )


def _addresses(url: str) -> list[tuple[str, int]]:
    """Return the (host, port) pairs of a ``spark://`` URL (several for a standby master)."""
    found: list[tuple[str, int]] = []
    for address in url.removeprefix("spark://").split(","):
        parsed = urlparse(f"spark://{address}")
        try:
            port = parsed.port
        except ValueError:
            port = None
        if not url.startswith("spark://") or parsed.hostname is None or port is None:
            raise StreamlabError(f"--master {url!r} is not a master URL like spark://HOST:PORT")
        found.append((parsed.hostname, port))
    return found


def driver_settings(master: str) -> dict[str, str]:
    """Return the settings a driver needs for ``master``: on a loopback master, bind loopback.

    Executors connect back to the driver; by default it advertises the machine's host name,
    which may resolve to an outside interface.
    """
    if not master.startswith("spark://"):
        return {}
    if all(host in (LOOPBACK, "localhost") for host, _ in _addresses(master)):
        return {"spark.driver.host": LOOPBACK, "spark.driver.bindAddress": LOOPBACK}
    return {}


def wait_for_executors(spark: SparkSession, master: str, timeout: float = 120.0) -> None:
    """Fail with one line when the cluster gives the application no executor in ``timeout`` s.

    A standalone master queues an application while other applications hold every core (a
    Connect server on the same cluster, say); its queries would wait forever instead.
    """
    tracker = spark.sparkContext.statusTracker()
    deadline = time.monotonic() + timeout
    # The driver is listed among the executors: one more than that is a real executor.
    while len(tracker.getExecutorInfos()) < 2:
        if time.monotonic() > deadline:
            spark.stop()  # leave the master's queue
            raise StreamlabError(
                f"the cluster at {master} started no executor for streamlab within "
                f"{timeout:.0f} s: its cores are taken by other applications or it has no "
                "workers (see 'streamlab cluster status')"
            )
        time.sleep(0.5)

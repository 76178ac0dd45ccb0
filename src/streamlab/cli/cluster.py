"""Commands that run Spark beyond one process: ``cluster`` and ``connect-server``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from streamlab.cli._common import (
    JsonOpt,
    RootOpt,
    emit,
    lab_paths,
    stderr_console,
)
from streamlab.spark.settings import DEFAULT_PORT, ClusterConfig, ConnectConfig

if TYPE_CHECKING:
    from rich.console import Console

_CLUSTER = ClusterConfig()

cluster_app = typer.Typer(
    help="A Spark standalone cluster on this machine (master and workers on 127.0.0.1).",
    no_args_is_help=True,
)
connect_app = typer.Typer(
    help="A Spark Connect server for the lab, on 127.0.0.1.", no_args_is_help=True
)


def _progress(json_mode: bool) -> Any:
    """Return a callback that shows each step on stderr (quiet for --json)."""
    if json_mode:
        return None
    return lambda message: stderr_console().print(f"… {message}")


@cluster_app.command("start")
def cluster_start(
    root: RootOpt = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = _CLUSTER.workers,
    cores: Annotated[int, typer.Option(min=1, help="Cores each worker offers.")] = _CLUSTER.cores,
    memory: Annotated[
        str, typer.Option(help="Memory each worker offers, e.g. 2g.")
    ] = _CLUSTER.memory,
    port: Annotated[int, typer.Option(help="The master's port.")] = _CLUSTER.port,
    webui_port: Annotated[
        int, typer.Option(help="The master's web UI port; workers take the next ones.")
    ] = _CLUSTER.webui_port,
    json: JsonOpt = False,
) -> None:
    """Start a master and workers from PySpark's own launcher; wait until they registered."""
    from streamlab.spark.cluster import start_cluster

    config = ClusterConfig(
        workers=workers, cores=cores, memory=memory, port=port, webui_port=webui_port
    )
    status = start_cluster(lab_paths(root), config, _progress(json))

    def render(out: Console) -> None:
        prefix = "✓ Cluster already running" if status.note else "✓ Cluster running"
        out.print(f"{prefix}: {status.master_url} (web UI {status.webui_url})")
        out.print(f"  {status.workers_registered} worker(s) registered, {status.cores} core(s)")
        out.print(f"Use it: streamlab lab --master {status.master_url}")
        out.print("Stop it: streamlab cluster stop")

    emit(status.to_dict(), json, render)


@cluster_app.command("stop")
def cluster_stop(root: RootOpt = None, json: JsonOpt = False) -> None:
    """Stop exactly the master and workers 'cluster start' started for this lab."""
    from streamlab.spark.cluster import stop_cluster

    stopped = stop_cluster(lab_paths(root))

    def render(out: Console) -> None:
        out.print(f"✓ Stopped {', '.join(stopped)}" if stopped else "No cluster was running")

    emit({"stopped": stopped}, json, render)


@cluster_app.command("status")
def cluster_status_cmd(root: RootOpt = None, json: JsonOpt = False) -> None:
    """Show whether the lab's cluster runs, its URLs and the workers registered."""
    from streamlab.spark.cluster import cluster_status

    status = cluster_status(lab_paths(root))

    def render(out: Console) -> None:
        if not status.processes:
            out.print(status.note)
            return
        state = "running" if status.running else "not running"
        out.print(f"Cluster {state}: {status.master_url} (web UI {status.webui_url})")
        out.print(
            f"  workers: {status.workers_alive}/{status.workers} alive, "
            f"{status.workers_registered} registered, {status.cores} core(s)"
        )
        for proc in status.processes:
            mark = "✓" if proc["alive"] else "✗"
            out.print(f"  {mark} {proc['role']} pid {proc['pid']} log {proc['log']}")
        if status.apps:
            out.print(f"  applications: {', '.join(status.apps)}")

    emit(status.to_dict(), json, render)


@connect_app.command("start")
def connect_start(
    root: RootOpt = None,
    port: Annotated[int, typer.Option(help="The server's gRPC port.")] = DEFAULT_PORT,
    master: Annotated[
        str | None,
        typer.Option(help="Run the server's queries on this cluster, e.g. spark://HOST:7077."),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Start the Spark Connect server shipped in PySpark, with the lab's settings."""
    from streamlab.spark.connect import start_connect_server

    status = start_connect_server(lab_paths(root), ConnectConfig(port, master), _progress(json))

    def render(out: Console) -> None:
        prefix = "✓ Spark Connect server already running" if status.note else "✓ Spark Connect"
        out.print(f"{prefix} at {status.url} (master {status.master})")
        out.print(f"Use it: streamlab lab --remote {status.url}")
        out.print("Stop it: streamlab connect-server stop")

    emit(status.to_dict(), json, render)


@connect_app.command("stop")
def connect_stop(root: RootOpt = None, json: JsonOpt = False) -> None:
    """Stop exactly the Connect server 'connect-server start' started for this lab."""
    from streamlab.spark.connect import stop_connect_server

    stopped = stop_connect_server(lab_paths(root))

    def render(out: Console) -> None:
        out.print(f"✓ Stopped {', '.join(stopped)}" if stopped else "No server was running")

    emit({"stopped": stopped}, json, render)


@connect_app.command("status")
def connect_status_cmd(root: RootOpt = None, json: JsonOpt = False) -> None:
    """Show whether the lab's Connect server runs and accepts connections."""
    from streamlab.spark.connect import connect_status

    status = connect_status(lab_paths(root))

    def render(out: Console) -> None:
        if status.pid is None:
            out.print(status.note)
            return
        state = "running" if status.running else "not running"
        accepting = "accepting connections" if status.accepting else "not accepting connections"
        out.print(f"Spark Connect server {state} at {status.url}, {accepting}")
        out.print(f"  master {status.master}, pid {status.pid}, log {status.log}")

    emit(status.to_dict(), json, render)


def register(app: typer.Typer) -> None:
    """Add the ``cluster`` and ``connect-server`` command groups to ``app``."""
    app.add_typer(cluster_app, name="cluster")
    app.add_typer(connect_app, name="connect-server")

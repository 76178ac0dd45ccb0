"""The local cluster's commands without starting Spark: bad input, ports, process records.

Starting a real master and worker is covered by tests/test_run_anywhere.py.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streamlab.cli import app
from streamlab.errors import StreamlabError
from streamlab.lab.paths import LabPaths
from streamlab.spark.cluster import (
    ClusterConfig,
    check_master,
    cluster_status,
    driver_settings,
    state_file,
    stop_cluster,
)
from streamlab.spark.daemons import Daemon, alive, launch, port_taken, stop, write_state
from streamlab.spark.session import lab_session
from tests.support.ports import closed_port, listening_port

runner = CliRunner()


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port something listens on for the test's duration."""
    with listening_port() as port:
        yield port


def test_a_taken_port_fails_with_one_line_and_status_2(tmp_path: Path, taken_port: int) -> None:
    root = tmp_path / "lab"
    result = runner.invoke(
        app, ["cluster", "start", "--root", str(root), "--port", str(taken_port)]
    )
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1
    assert f"port {taken_port}" in message and "--port" in message
    assert not state_file(LabPaths.resolve(root)).exists()  # nothing was started


def test_a_taken_web_ui_port_is_named_too(tmp_path: Path, taken_port: int) -> None:
    free = closed_port()
    args = ["--port", str(free), "--webui-port", str(taken_port)]
    result = runner.invoke(app, ["cluster", "start", "--root", str(tmp_path), *args])
    assert result.exit_code == 2
    assert "web UI" in result.stderr and str(taken_port) in result.stderr


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(StreamlabError, match="512m or 2g"):
        ClusterConfig(memory="lots")
    with pytest.raises(StreamlabError, match="1 or more"):
        ClusterConfig(workers=0)


def test_an_unreachable_master_fails_within_seconds(tmp_path: Path) -> None:
    url = f"spark://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    with pytest.raises(StreamlabError, match="no Spark master answers") as info:
        lab_session(tmp_path, master=url)
    assert time.monotonic() - started < 10
    assert "\n" not in str(info.value)


def test_an_unreachable_master_on_the_command_line_is_one_line(tmp_path: Path) -> None:
    url = f"spark://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    result = runner.invoke(app, ["sql", "SELECT 1", "--root", str(tmp_path), "--master", url])
    assert time.monotonic() - started < 15
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "cluster start" in result.stderr


@pytest.mark.parametrize("url", ["spark://", "spark://host", "spark://host:port", "yarn"])
def test_a_master_url_must_name_host_and_port(url: str) -> None:
    with pytest.raises(StreamlabError, match="spark://HOST:PORT"):
        check_master(url)


def test_a_loopback_master_keeps_the_driver_on_loopback() -> None:
    assert driver_settings("spark://127.0.0.1:7077")["spark.driver.host"] == "127.0.0.1"
    assert driver_settings("spark://localhost:7077")["spark.driver.bindAddress"] == "127.0.0.1"
    assert driver_settings("spark://10.0.0.5:7077") == {}
    assert driver_settings("local[2]") == {}


def test_status_and_stop_without_a_cluster(tmp_path: Path) -> None:
    status = runner.invoke(app, ["cluster", "status", "--root", str(tmp_path), "--json"])
    assert status.exit_code == 0 and json.loads(status.stdout)["running"] is False
    stopped = runner.invoke(app, ["cluster", "stop", "--root", str(tmp_path), "--json"])
    assert stopped.exit_code == 0 and json.loads(stopped.stdout) == {"stopped": []}


def _living_in_group(pgid: int, patience: float = 5.0) -> list[int]:
    """Processes of group ``pgid`` that still run (not zombies: PID 1 here may never reap)."""
    deadline = time.monotonic() + patience
    while True:
        living = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                living.append(int(stat.parent.name))
        if not living or time.monotonic() > deadline:
            return living
        time.sleep(0.1)


def test_stop_ends_a_recorded_process_and_its_children(tmp_path: Path) -> None:
    # A stand-in for a JVM: a process group with a child, recognized by its command line.
    script = "import subprocess, time; subprocess.Popen(['sleep', '60']); time.sleep(60)"
    daemon = launch(
        "master",
        [sys.executable, "-c", script, "org.apache.spark.deploy.master.Master", "--port", "7077"],
        "org.apache.spark.deploy.master.Master",
        7077,
        tmp_path / "master.log",
        dict(os.environ),
    )
    try:
        assert alive(daemon)
        lab = LabPaths.resolve(tmp_path)
        write_state(state_file(lab), {"daemons": [daemon.to_dict()]})
        assert cluster_status(lab).running
        assert stop_cluster(lab) == ["master"]
        assert not alive(daemon)
        assert _living_in_group(daemon.pid) == [], "the child went with it"
        assert not state_file(lab).exists()
    finally:
        stop(daemon, timeout=2)


def test_a_reused_process_id_is_never_killed(tmp_path: Path) -> None:
    # The record names this very test process, which does not run a Spark master.
    stale = Daemon("master", os.getpid(), 7077, "org.apache.spark.deploy.master.Master", "x.log")
    lab = LabPaths.resolve(tmp_path)
    write_state(state_file(lab), {"daemons": [stale.to_dict()]})
    assert cluster_status(lab).running is False
    assert stop_cluster(lab) == []  # and this process is still here to check it


def test_another_spark_process_on_another_port_is_not_ours(tmp_path: Path) -> None:
    marker = "org.apache.spark.deploy.master.Master"
    script = "import time; time.sleep(30)"
    args = [sys.executable, "-c", script, marker, "--port", "17078"]
    daemon = launch("master", args, marker, 17078, tmp_path / "m.log", dict(os.environ))
    try:
        assert alive(daemon)
        assert not alive(Daemon("master", daemon.pid, 7077, marker, daemon.log))
        assert not stop(Daemon("master", daemon.pid, 1707, marker, daemon.log))
        assert alive(daemon)
    finally:
        stop(daemon, timeout=2)


def test_port_taken_sees_listeners(taken_port: int) -> None:
    assert port_taken(taken_port)
    assert not port_taken(closed_port())


class _Tracker:
    def getExecutorInfos(self) -> list[object]:
        return [object()]  # the driver only: the cluster gave no executor


class _Context:
    def statusTracker(self) -> _Tracker:
        return _Tracker()


class _Session:
    stopped = False
    sparkContext = _Context()

    def stop(self) -> None:
        self.stopped = True


def test_an_application_without_executors_fails_instead_of_waiting_forever() -> None:
    from streamlab.spark.cluster import wait_for_executors

    session = _Session()
    started = time.monotonic()
    with pytest.raises(StreamlabError, match="started no executor") as info:
        wait_for_executors(session, "spark://127.0.0.1:7077", timeout=0.5)  # type: ignore[arg-type]
    assert time.monotonic() - started < 5
    assert session.stopped  # it left the master's queue
    assert "\n" not in str(info.value)

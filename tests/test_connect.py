"""The Connect server's commands without starting Spark: bad input, ports, an absent server.

Starting a real server and running the lab through it is covered by tests/test_run_anywhere.py.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from streamlab.cli import app
from streamlab.errors import StreamlabError
from streamlab.lab.paths import LabPaths
from streamlab.spark.connect import check_remote, server_settings, state_file
from streamlab.spark.session import lab_session
from tests.support.ports import closed_port, listening_port

runner = CliRunner()


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port something listens on for the test's duration."""
    with listening_port() as port:
        yield port


def test_an_unreachable_server_fails_within_seconds(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(StreamlabError, match="no Spark Connect server answers") as info:
        lab_session(tmp_path, remote=f"sc://127.0.0.1:{closed_port()}")
    assert time.monotonic() - started < 15
    assert "\n" not in str(info.value) and "connect-server start" in str(info.value)


def test_an_unreachable_server_on_the_command_line_is_one_line(tmp_path: Path) -> None:
    url = f"sc://127.0.0.1:{closed_port()}"
    started = time.monotonic()
    result = runner.invoke(app, ["sql", "SELECT 1", "--root", str(tmp_path), "--remote", url])
    assert time.monotonic() - started < 15
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and url in result.stderr


@pytest.mark.parametrize("url", ["http://127.0.0.1:15002", "sc://", "sc://host:port"])
def test_a_remote_url_must_be_sc_host_port(url: str) -> None:
    with pytest.raises(StreamlabError, match="sc://HOST:PORT"):
        check_remote(url)


def test_a_taken_port_fails_with_one_line_and_status_2(tmp_path: Path, taken_port: int) -> None:
    root = tmp_path / "lab"
    args = ["connect-server", "start", "--root", str(root), "--port", str(taken_port)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and f"port {taken_port}" in result.stderr
    assert not state_file(LabPaths.resolve(root)).exists()


def test_a_server_on_an_absent_cluster_is_refused_before_starting(tmp_path: Path) -> None:
    master = f"spark://127.0.0.1:{closed_port()}"
    args = ["connect-server", "start", "--root", str(tmp_path), "--port", str(closed_port())]
    result = runner.invoke(app, [*args, "--master", master])
    assert result.exit_code == 2 and "no Spark master answers" in result.stderr


def test_status_and_stop_without_a_server(tmp_path: Path) -> None:
    status = runner.invoke(app, ["connect-server", "status", "--root", str(tmp_path), "--json"])
    assert status.exit_code == 0 and json.loads(status.stdout)["running"] is False
    stopped = runner.invoke(app, ["connect-server", "stop", "--root", str(tmp_path), "--json"])
    assert stopped.exit_code == 0 and json.loads(stopped.stdout) == {"stopped": []}


def test_the_server_gets_the_labs_session_settings_on_loopback(tmp_path: Path) -> None:
    lab = LabPaths.resolve(tmp_path)
    settings = server_settings(lab, "spark://127.0.0.1:7077")
    assert settings["spark.sql.warehouse.dir"] == str(lab.warehouse)
    assert settings["spark.sql.session.timeZone"] == "UTC"
    assert settings["spark.sql.catalogImplementation"] == "in-memory"
    assert settings["spark.connect.grpc.binding.address"] == "127.0.0.1"
    assert settings["spark.driver.host"] == "127.0.0.1"
    assert "spark.driver.host" not in server_settings(lab, None)

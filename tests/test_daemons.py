"""Background processes: recognized by command line and port, stopped with their group."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from streamlab.spark.daemons import Daemon, alive, command_line, launch, stop

pytestmark = pytest.mark.slow  # starts processes

MARKER = "streamlab.test.Sleeper"


def _sleeper(tmp_path: Path, port: int) -> Daemon:
    child = "import time; time.sleep(60)"
    code = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {child!r}]); "
    code += "time.sleep(60)"
    return launch(
        "sleeper",
        [sys.executable, "-c", code, MARKER, f"--port={port}"],
        MARKER,
        port,
        tmp_path / "sleeper.log",
        {"PATH": "/usr/bin:/bin"},
    )


def test_a_daemon_is_recognized_then_stopped_with_its_children(tmp_path: Path) -> None:
    daemon = _sleeper(tmp_path, 47123)
    line = command_line(daemon.pid)
    assert line is not None and MARKER in line
    assert alive(daemon)
    leader = psutil.Process(daemon.pid)
    deadline = time.monotonic() + 30
    while not leader.children() and time.monotonic() < deadline:  # its child starts
        time.sleep(0.05)
    assert leader.children(), "the sleeper's child did not start"
    assert stop(daemon, timeout=5.0)
    assert not alive(daemon) and command_line(daemon.pid) is None
    left = subprocess.run(
        ["pgrep", "-g", str(daemon.pid)], capture_output=True, text=True, check=False
    ).stdout.split()
    assert left == [], f"the group's processes outlived the stop: {left}"
    assert not stop(daemon), "a stopped daemon is not running"


def test_a_reused_pid_is_left_alone(tmp_path: Path) -> None:
    daemon = _sleeper(tmp_path, 47124)
    try:
        # The same pid, recorded with another port or main class: another process to us.
        for other in (
            Daemon(daemon.role, daemon.pid, 47999, daemon.marker, daemon.log),
            Daemon(daemon.role, daemon.pid, daemon.port, "org.other.Main", daemon.log),
        ):
            assert not alive(other)
            assert not stop(other)
        assert alive(daemon)
    finally:
        stop(daemon, timeout=5.0)

"""Background Spark processes streamlab starts: launch, record, recognize and stop them.

A cluster master, its workers and a Spark Connect server run as background processes, each in
a session of its own, with its output in a log file under the lab root. Their process ids go to
a state file, and ``stop`` ends exactly those processes: before signalling, it checks that the
process with that id still runs the command it was started with, so a reused process id is
never killed.

Everything binds to and connects through the loopback interface only.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from streamlab.errors import StreamlabError
from streamlab.lab.files import atomic_write_text
from streamlab.spark.java import ensure_java

LOOPBACK = "127.0.0.1"
"""The only address streamlab's processes bind to."""


@dataclass(frozen=True)
class Daemon:
    """One background process streamlab started."""

    role: str
    """What it is: ``master``, ``worker-1``, ``connect-server``..."""
    pid: int
    """Its process id; it leads a process group of the same id."""
    port: int
    """The port it serves (the master's RPC port, a worker's web UI, the Connect port)."""
    marker: str
    """A string its command line contains (its main class), to recognize it later."""
    log: str
    """The file that receives its output."""

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON-ready data."""
        return asdict(self)


def spark_home() -> Path:
    """Return the Spark distribution inside the installed PySpark package."""
    import pyspark

    return Path(pyspark.__file__).parent


def daemon_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the environment of a Spark process: Java, Spark's home, this Python, loopback."""
    runtime = ensure_java()
    env = dict(os.environ)
    env.update(
        {
            "JAVA_HOME": str(runtime.home),
            "SPARK_HOME": str(spark_home()),
            # Python workers (UDFs, foreachBatch) must run this interpreter, with its packages.
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
            "SPARK_LOCAL_IP": LOOPBACK,
            "SPARK_LOCAL_HOSTNAME": LOOPBACK,
        }
    )
    # A Spark Connect URL in the environment would turn the server's own session into a client.
    for key in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "STREAMLAB_MASTER"):
        env.pop(key, None)
    env.update(extra or {})
    return env


def port_taken(port: int, host: str = LOOPBACK) -> bool:
    """Return whether ``port`` on ``host`` cannot be bound (something listens there)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def require_free(ports: Mapping[str, int], option_hint: str) -> None:
    """Fail with one line naming the first port of ``ports`` (what -> port) that is taken."""
    for what, port in ports.items():
        if not 0 < port < 65536:
            raise StreamlabError(f"port {port} for the {what} is not a port number (1-65535)")
        if port_taken(port):
            raise StreamlabError(
                f"port {port} on {LOOPBACK} (the {what}) is already taken: "
                f"pass {option_hint} with a free port, or stop what uses it"
            )


def reachable(host: str, port: int, timeout: float = 3.0) -> bool:
    """Return whether a TCP connection to ``host:port`` opens within ``timeout`` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def launch(
    role: str, command: Sequence[str], marker: str, port: int, log: Path, env: Mapping[str, str]
) -> Daemon:
    """Start ``command`` in the background, in a session of its own, logging to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env),
            start_new_session=True,
            close_fds=True,
        )
    daemon = Daemon(role, proc.pid, port, marker, str(log))
    # Between fork and exec the child's command line is not the command yet: wait for it, so
    # that ``alive`` recognizes the process from the first check on.
    deadline = time.monotonic() + 10.0
    while proc.poll() is None and not alive(daemon) and time.monotonic() < deadline:
        time.sleep(0.02)
    return daemon


def _process(pid: int) -> psutil.Process | None:
    """Return the running process ``pid`` (not a zombie), or ``None``."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return proc


def command_line(pid: int) -> str | None:
    """Return the command line of process ``pid``, or ``None`` if it is gone (or a zombie)."""
    proc = _process(pid)
    if proc is None:
        return None
    try:
        return " ".join(proc.cmdline()).strip() or None
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return None


def _matches(daemon: Daemon, line: str | None) -> bool:
    if line is None or daemon.marker not in line:
        return False
    return re.search(rf"(?<!\d){daemon.port}(?!\d)", line) is not None


def alive(daemon: Daemon) -> bool:
    """Return whether the process recorded in ``daemon`` still runs, and is still that process.

    Its command line must name both its main class and its port: a process id reused by
    another program, or by another Spark process on the machine, does not match.
    """
    return _matches(daemon, command_line(daemon.pid))


def stop(daemon: Daemon, timeout: float = 20.0) -> bool:
    """Stop ``daemon`` and its children (TERM, then KILL); return whether it was running.

    A process id now used by another program is left alone.
    """
    proc = _process(daemon.pid)
    if proc is None or not alive(daemon):
        _reap(daemon.pid)
        return False
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        members = [proc]
    _signal(daemon, signal.SIGTERM)
    # psutil waits on these very processes (their start times pin them), reaping our own.
    _, running = psutil.wait_procs(members, timeout=timeout)
    if running:
        _signal(daemon, signal.SIGKILL)
        for member in running:
            with contextlib.suppress(psutil.Error):
                member.kill()
        psutil.wait_procs(running, timeout=5.0)
    _reap(daemon.pid)
    return True


def _signal(daemon: Daemon, sig: signal.Signals) -> None:
    try:
        # The group holds the JVM and the Python workers it started; it is ours only if the
        # recorded process leads it (it was started with a session of its own).
        if os.getpgid(daemon.pid) == daemon.pid:
            os.killpg(daemon.pid, sig)
        else:
            os.kill(daemon.pid, sig)
    except ProcessLookupError:
        pass


def _reap(pid: int) -> None:
    """Collect the exit status of a child of this process, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def log_tail(log: str | Path, lines: int = 1) -> str:
    """Return the last error-like line of a log (or its last line), for a one-line message."""
    try:
        text = Path(log).read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    errors = [line for line in text if "Exception" in line or "ERROR" in line]
    chosen = errors[-lines:] if errors else text[-lines:]
    return " | ".join(line.strip()[:200] for line in chosen) or "empty log"


def write_state(file: Path, data: Mapping[str, Any]) -> None:
    """Write a state file atomically."""
    file.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(file, json.dumps(data, indent=2))


def read_state(file: Path) -> dict[str, Any] | None:
    """Return a state file's data, or ``None`` when there is none (or it is damaged)."""
    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def daemons_of(state: Mapping[str, Any] | None) -> list[Daemon]:
    """Return the processes a state file records."""
    if not state:
        return []
    return [Daemon(**d) for d in state.get("daemons", [])]

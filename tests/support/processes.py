"""Running the ``streamlab`` command in a process of its own, as a user would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys


def streamlab(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the ``streamlab`` command in its own process group; kill the group on timeout."""
    env = {k: v for k, v in os.environ.items()}
    for key in ("SPARK_REMOTE", "STREAMLAB_MASTER", "STREAMLAB_ROOT"):
        env.pop(key, None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlab", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

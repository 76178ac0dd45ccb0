"""Holding a lab root from another process, exactly as a running ``streamlab run`` does."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from streamlab.lab.paths import LabPaths

HOLD = textwrap.dedent("""
    import sys, time
    from streamlab.lab.lock import RootLock
    from streamlab.lab.paths import LabPaths
    lock = RootLock(LabPaths.resolve(sys.argv[1]), "streamlab run").acquire()
    print("held", flush=True)
    time.sleep(120)
""")


def start_holder(lab: LabPaths) -> subprocess.Popen[str]:
    """Start a process that holds ``lab``'s root as ``streamlab run``; return once it does."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(lab.root)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc

"""One writer per lab root: a second run refuses instead of corrupting checkpoints.

The lock is an ``flock`` on ``<root>/.streamlab.lab.lock``, which the kernel releases when its
process ends, however it ends: a lock file left by a killed run is not held, so it is detected
as stale and taken over. The file records who holds it, for the message a second run prints.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from streamlab.errors import StreamlabError
from streamlab.lab.paths import LabPaths

LOCK_FILE = ".streamlab.lab.lock"
_HELD: dict[Path, int] = {}
"""Roots this process holds, with how many nested holds: a writer may call another writer."""


@dataclass(frozen=True)
class Holder:
    """Who holds, or last held, a lab root."""

    pid: int
    host: str
    command: str
    since: str

    def describe(self) -> str:
        """Say who it is in a few words."""
        return f"'{self.command}' (pid {self.pid} on {self.host}, since {self.since} UTC)"


class RootLock:
    """Hold a lab root for one writing command.

    >>> with RootLock(LabPaths.resolve(), "streamlab run"):  # doctest: +SKIP
    ...     run_pipelines()
    """

    def __init__(self, paths: LabPaths, command: str) -> None:
        self.path = paths.root / LOCK_FILE
        self.command = command
        self.stale: Holder | None = None
        """The holder of a lock left behind by a run that ended without releasing it."""
        self._file: IO[str] | None = None
        self._nested = False

    def acquire(self) -> RootLock:
        """Take the lock, or fail with one line naming the run that holds it."""
        if self.path in _HELD:
            _HELD[self.path] += 1
            self._nested = True
            return self
        self._nested = False
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held until release()
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(handle)
            handle.close()
            raise _in_use(self.path.parent, holder) from None
        self.stale = _read(handle)
        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "command": self.command,
                    "since": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
                }
            )
        )
        handle.flush()
        self._file = handle
        _HELD[self.path] = 1
        return self

    def release(self) -> None:
        """Let the root go (the file stays; only the flock matters)."""
        if self._nested:
            _HELD[self.path] -= 1
            self._nested = False
            return
        _HELD.pop(self.path, None)
        if self._file is not None:
            self._file.seek(0)
            self._file.truncate()
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

    def __enter__(self) -> RootLock:
        return self.acquire()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()


def _read(handle: IO[str]) -> Holder | None:
    handle.seek(0)
    try:
        data: dict[str, Any] = json.loads(handle.read() or "null") or {}
        return Holder(int(data["pid"]), str(data["host"]), str(data["command"]), str(data["since"]))
    except (ValueError, KeyError, TypeError):
        return None


def _in_use(root: Path, holder: Holder | None) -> StreamlabError:
    who = holder.describe() if holder else "another streamlab command"
    return StreamlabError(
        f"the lab root {root} is in use by {who}: wait for it to finish or "
        "stop it; a lock left by a killed run is taken over automatically"
    )


def check_free(paths: LabPaths) -> None:
    """Fail, as a second writer would, if another process holds the lab root now.

    For commands that check everything before they start Spark; they still take the lock
    (:class:`RootLock`) to write.
    """
    if (paths.root / LOCK_FILE) in _HELD:
        return
    found = holder(paths)
    if found is not None:
        raise _in_use(paths.root, found)


def holder(paths: LabPaths) -> Holder | None:
    """Return who holds the lab root now, if anyone (for ``status``)."""
    path = paths.root / LOCK_FILE
    if not path.exists():
        return None
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(handle)
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return None


def command_line() -> str:
    """Return how this process was started, shortened, for the lock's record."""
    name = Path(sys.argv[0]).name if sys.argv else "python"
    return " ".join([name if name != "__main__.py" else "streamlab", *sys.argv[1:3]])[:80]

"""One writer per root: a live holder refuses a second run; a killed one's lock is taken over."""

from __future__ import annotations

import os
import signal

import pytest

from streamlab.errors import StreamlabError
from streamlab.lab.lock import RootLock, holder
from streamlab.lab.paths import LabPaths
from tests.support.lock import start_holder


def test_a_second_writer_is_refused_with_who_holds_it(lab: LabPaths) -> None:
    proc = start_holder(lab)
    try:
        with pytest.raises(StreamlabError, match=rf"in use by 'streamlab run' \(pid {proc.pid}"):
            RootLock(lab, "streamlab lab").acquire()
        current = holder(lab)
        assert current is not None and current.pid == proc.pid
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_runs_lock_is_stale_and_taken_over(lab: LabPaths) -> None:
    proc = start_holder(lab)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert holder(lab) is None
    with RootLock(lab, "streamlab lab") as lock:
        assert lock.stale is not None and lock.stale.pid == proc.pid
        assert holder(lab) is not None and holder(lab).pid == os.getpid()  # type: ignore[union-attr]
    assert holder(lab) is None


def test_the_lock_is_released_after_an_error(lab: LabPaths) -> None:
    with pytest.raises(RuntimeError), RootLock(lab, "streamlab run"):
        raise RuntimeError("pipeline failed")
    with RootLock(lab, "streamlab run") as lock:
        assert lock.stale is None


def test_a_writer_may_call_another_writer_in_the_same_process(lab: LabPaths) -> None:
    with RootLock(lab, "streamlab lab"), RootLock(lab, "streamlab setup"):
        assert holder(lab) is not None
    assert holder(lab) is None

"""Ending what a command started: its Spark sessions, then the JVM behind them.

PySpark never stops the JVM it launches: the JVM ends by itself once it sees its stdin close,
which happens only when the Python process has already exited. Its shutdown then takes a
moment more (Spark's shutdown hooks, the state stores' files), so a command started right after
could meet the exiting JVM's open state-store files. A command instead stops the sessions
:func:`streamlab.spark.session.lab_session` started for it, closes the JVM's stdin itself and
waits for the JVM and every process under it to end: the command's own process ends last.

A session the command found running (a notebook's, a test's) is never stopped.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

_scopes: list[list[SparkSession]] = []
"""Per open :func:`command_scope`, innermost last: the sessions started inside it."""


@contextmanager
def command_scope(timeout: float = 60.0) -> Iterator[None]:
    """Run a command; when it ends, however it ends, stop what it started and wait for the JVM.

    Only sessions :func:`streamlab.spark.session.lab_session` started inside the block are
    stopped; the JVM is ended only when no Spark context is left running on it.

    >>> with command_scope():
    ...     pass
    """
    _scopes.append([])
    try:
        yield
    finally:
        stop_started(_scopes.pop(), timeout)


def record_started(spark: SparkSession) -> None:
    """Remember that ``spark`` was started for the running command (outside one: no-op)."""
    if _scopes and all(spark is not s for s in _scopes[-1]):
        _scopes[-1].append(spark)


def started() -> list[SparkSession]:
    """Return the sessions the running command has started so far."""
    return list(_scopes[-1]) if _scopes else []


def stop_started(sessions: list[SparkSession], timeout: float = 60.0) -> None:
    """Stop ``sessions``, newest first, then the JVM this process launched for them, and wait.

    Does nothing (and imports nothing) for no sessions.
    """
    if not sessions:
        return
    for spark in reversed(sessions):
        try:
            spark.stop()
        except Exception:  # a session whose JVM is gone already: nothing left to stop
            continue
    _end_gateway(timeout)


def _end_gateway(timeout: float) -> None:
    from pyspark import SparkContext

    gateway: Any = SparkContext._gateway
    proc = getattr(gateway, "proc", None)
    if gateway is None or SparkContext._active_spark_context is not None:
        return
    if not isinstance(proc, subprocess.Popen):
        return  # a JVM this process did not launch (PYSPARK_GATEWAY_PORT): not ours to end
    family = _descendants(proc.pid)
    with suppress(Exception):  # a connection already gone: the JVM is ending anyway
        gateway.shutdown()
    SparkContext._gateway = None
    SparkContext._jvm = None
    # Spark's PythonGatewayServer reads its stdin until EOF, then exits the JVM.
    if proc.stdin is not None:
        with suppress(OSError):
            proc.stdin.close()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    _wait_for(family, timeout)


def _descendants(pid: int) -> list[Any]:
    import psutil

    try:
        return list(psutil.Process(pid).children(recursive=True))
    except psutil.Error:
        return []


def _wait_for(processes: list[Any], timeout: float) -> None:
    """Wait for ``processes`` (the JVM's children: Python workers) to end; kill the rest."""
    import psutil

    _, alive = psutil.wait_procs(processes, timeout=timeout)
    for process in alive:
        try:
            process.kill()
        except psutil.Error:
            continue
    psutil.wait_procs(alive, timeout=5)


@contextmanager
def quiet_logs(spark: SparkSession) -> Iterator[None]:
    """Silence Spark's logging while the block runs, then put its level back.

    For stopping queries on purpose: a query stopped mid-batch is sound (the batch runs
    again next time), but Spark logs the write job it aborts as errors with Java stack traces.
    A real failure still shows, through the query's ``exception()``. Does nothing on a session
    without a local JVM (Spark Connect).
    """
    before: str | None = None
    try:
        jvm: Any = spark.sparkContext._jvm
        before = str(jvm.org.apache.logging.log4j.LogManager.getRootLogger().getLevel())
        spark.sparkContext.setLogLevel("OFF")
    except Exception:  # Spark Connect, or no log4j2: nothing to silence
        before = None
    try:
        yield
    finally:
        if before is not None:
            with suppress(Exception):
                spark.sparkContext.setLogLevel(before)

"""A command's JVM ends before the command does, whether the command succeeds or fails."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from streamlab.cli import app
from streamlab.lab.paths import LabPaths
from streamlab.raw.generator import GeneratorConfig
from streamlab.raw.provision import setup_lab
from streamlab.spark import lifecycle
from tests.support.lab import BASE_TIME

MARK = "STREAMLAB_TEST_PROCESS_MARK"


def processes_marked(mark: str) -> list[psutil.Process]:
    """Every running process that inherited ``MARK=mark`` (the command and its JVM)."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.environ().get(MARK) == mark:
                found.append(process)
        except psutil.Error:  # ended meanwhile, a zombie, or another user's
            continue
    return found


@pytest.mark.slow
@pytest.mark.parametrize(
    ("query", "code"),
    [("SHOW DATABASES", 0), ("SELECT * FROM nothing", 2)],
    ids=["succeeds", "fails-after-spark-started"],
)
def test_no_jvm_outlives_a_spark_command(tmp_path: Path, query: str, code: int) -> None:
    root = tmp_path / "lab"
    setup_lab(LabPaths.resolve(root), GeneratorConfig(base_time=BASE_TIME, batches=1))
    mark = uuid.uuid4().hex
    env = {**os.environ, MARK: mark, "STREAMLAB_ROOT": str(root)}
    # Output to files, not pipes: a pipe would make the wait below wait for the JVM too.
    with (tmp_path / "out").open("w") as out, (tmp_path / "err").open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlab", "sql", query, "--json"],
            stdout=out,
            stderr=err,
            env=env,
            start_new_session=True,
        )
        try:
            assert proc.wait(timeout=300) == code, (tmp_path / "err").read_text()
            left = processes_marked(mark)
        finally:
            for process in processes_marked(mark):  # never leave one behind, fixed or not
                process.kill()
    assert not left, [(p.pid, p.name()) for p in left]


def test_a_command_keeps_the_session_it_found(spark: SparkSession, tmp_path: Path) -> None:
    # A notebook's or a test's session is the command's to use, not to stop.
    result = CliRunner().invoke(app, ["sql", "SELECT 1 AS one", "--root", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    assert lifecycle.started() == []
    assert spark.range(3).count() == 3


def test_quiet_logs_silences_spark_and_puts_its_level_back(spark: SparkSession) -> None:
    jvm: Any = spark.sparkContext._jvm
    root = jvm.org.apache.logging.log4j.LogManager.getRootLogger()
    before = str(root.getLevel())
    with lifecycle.quiet_logs(spark):
        assert str(root.getLevel()) == "OFF"
    assert str(root.getLevel()) == before


def test_the_jvm_ignores_sigterm_as_it_ignores_sigint(spark: SparkSession) -> None:
    # A process group's SIGTERM (`timeout`, a service manager) is the Python side's to handle:
    # a JVM taking it would stop the SparkContext under the running queries.
    jvm = spark.sparkContext._gateway.proc  # type: ignore[union-attr]
    status = Path(f"/proc/{jvm.pid}/status").read_text()
    ignored = int(next(line for line in status.splitlines() if line.startswith("SigIgn:"))[7:], 16)
    assert ignored & (1 << (signal.SIGTERM - 1)) and ignored & (1 << (signal.SIGINT - 1))

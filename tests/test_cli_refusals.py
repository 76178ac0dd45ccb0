"""Every command refuses a bad argument or option before it starts Spark, a JVM or a process.

The commands run in-process (``CliRunner``) with every way of starting something replaced by
a tripwire: a new process (``subprocess.Popen``: the JVM's launcher, ``java -version``, the
cluster's daemons) and a Spark session (``lab_session``, also when one is running already).
A tripwire raises a ``BaseException`` the CLI does not turn into an error line, so a command
that trips one fails its test with the tripwire's message.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from streamlab.cli import app
from streamlab.lab.paths import CHECKPOINTS, LabPaths
from streamlab.raw.generator import GeneratorConfig
from streamlab.raw.provision import setup_lab
from tests.support.lab import BASE_TIME, snapshot

runner = CliRunner()


class Started(BaseException):
    """A command started something before refusing."""


@pytest.fixture(scope="module")
def lab_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    paths = LabPaths.resolve(tmp_path_factory.mktemp("refusals") / "lab")
    setup_lab(paths, GeneratorConfig(base_time=BASE_TIME, batches=2, events_per_batch=20))
    (paths.root / "notebook.py").write_text("# Databricks notebook source\nprint(1)\n")
    for name in CHECKPOINTS:
        assert paths.checkpoint(name).is_dir()
    return paths.root


@pytest.fixture
def tripwires(monkeypatch: pytest.MonkeyPatch) -> None:
    def popen(self: Any, args: Any, *rest: Any, **kwargs: Any) -> None:
        raise Started(f"started a process: {args}")

    def session(*args: Any, **kwargs: Any) -> None:
        raise Started("started Spark")

    monkeypatch.setattr(subprocess.Popen, "__init__", popen)
    monkeypatch.setattr("streamlab.spark.session.lab_session", session)
    monkeypatch.setattr("streamlab.spark.session._local_session", session)
    monkeypatch.setattr("streamlab.spark.session._connect_session", session)


CASES: list[tuple[list[str], str]] = [
    (["run", "nosuch"], "unknown pipeline 'nosuch'"),
    (["run", "--trigger", "sometimes"], "--trigger"),
    (["run", "--watermark-delay", "soon"], "--watermark-delay 'soon'"),
    (["run", "--duration", "1m"], "--duration needs an interval trigger"),
    (["run", "--master", "bogus"], "--master 'bogus'"),
    (["run", "--remote", "http://127.0.0.1:1"], "not a Spark Connect URL"),
    (["run", "--frobnicate"], "No such option: --frobnicate"),
    (["lab", "--window", "0s"], "--window must be longer than zero"),
    (["lab", "--master", "bogus"], "--master 'bogus'"),
    (["lab", "--reset", "--remote", "sc://127.0.0.1:1"], "no Spark Connect server answers"),
    (["reset", "nosuch", "--yes"], "unknown pipeline 'nosuch'"),
    (["setup", "--late-share", "2"], "--late-share must be a share"),
    (["setup", "--seed", "3", "--master", "local[1]"], "other settings (seed)"),
    (["setup", "--master", "bogus"], "--master 'bogus'"),
    (["verify", "--master", "bogus"], "--master 'bogus'"),
    (["verify", "--remote", "http://127.0.0.1:1"], "not a Spark Connect URL"),
    (["status", "--master", "bogus"], "--master 'bogus'"),
    (["sql", " "], "no SQL given"),
    (["sql", "SELECT 1", "--master", "bogus"], "--master 'bogus'"),
    (["sql", "SELECT 1", "--limit", "0"], "Invalid value for '--limit'"),
    (["explain", "nosuch"], "unknown pipeline 'nosuch'"),
    (["explain", "--policy", "median"], "--policy 'median'"),
    (["sweep", "--delays", "soon"], "--delays 'soon'"),
    (["sweep", "--confirm", "10m", "--slide", "1m"], "--confirm runs the lab's tumbling query"),
    (["compare-windows", "--window", "wide"], "--window 'wide'"),
    (["report", "--delays", ","], "--delays needs at least one delay"),
    (["doctor", "--late-share", "2"], "--late-share must be between 0 and 1"),
    (["doctor", "--state-rows", "0"], "Invalid value for '--state-rows'"),
    (["notebook", "run", "missing.py"], "missing.py"),
    (["notebook", "run", "NOTEBOOK", "--param", "novalue"], "--param 'novalue' is not KEY=VALUE"),
    (["notebook", "run", "NOTEBOOK", "--master", "bogus"], "--master 'bogus'"),
    (["notebook", "run", "NOTEBOOK", "--remote", "http://127.0.0.1:1"], "not a Spark Connect"),
    (["cluster", "start", "--memory", "lots"], "--memory 'lots'"),
    (["cluster", "start", "--port", "0"], "not a port number"),
    (["connect-server", "start", "--port", "70000"], "not a port number"),
    (["connect-server", "start", "--master", "bogus"], "--master 'bogus'"),
]


@pytest.mark.parametrize(("args", "message"), CASES, ids=[" ".join(a) for a, _ in CASES])
@pytest.mark.usefixtures("tripwires")
def test_a_bad_argument_is_refused_before_anything_starts(
    lab_root: Path, args: list[str], message: str
) -> None:
    args = [str(lab_root / "notebook.py") if a == "NOTEBOOK" else a for a in args]
    before = snapshot(lab_root)
    result = runner.invoke(app, [*args, "--root", str(lab_root)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], lines
    assert snapshot(lab_root) == before, "a refusal wrote something"


def test_the_tripwires_catch_a_command_that_starts_spark(lab_root: Path, tripwires: None) -> None:
    # The check above is only as good as its tripwires: a sound command trips them.
    with pytest.raises(Started, match="started Spark"):
        runner.invoke(app, ["sql", "SELECT 1", "--root", str(lab_root)])
    with pytest.raises(Started, match="started a process"):
        runner.invoke(app, ["cluster", "start", "--root", str(lab_root), "--port", "1"])

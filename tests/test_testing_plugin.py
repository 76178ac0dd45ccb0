"""The public surface of streamlab.testing, and its pytest plugin as a user's project sees it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import streamlab.testing
from streamlab.testing import AddData, CheckNewAnswer, StreamTest, StreamTestFailure


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        n
        for n in dir(streamlab.testing)
        if not n.startswith("_")
        and n != "annotations"
        and type(getattr(streamlab.testing, n)).__name__ != "module"
    }
    assert set(streamlab.testing.__all__) == public


def test_importing_the_harness_does_not_start_spark() -> None:
    code = "import streamlab.testing, sys; print('pyspark.sql.session' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_keep_leaves_the_failed_run_for_inspection(spark: Any, tmp_path: Path) -> None:
    from pyspark.sql import functions as F

    def passthrough(events: Any) -> Any:
        return events.select(F.col("n") + 1)

    with pytest.raises(StreamTestFailure) as failure:
        StreamTest(spark, passthrough, schema="n int", workdir=tmp_path / "w", keep=True).run(
            AddData([(1,)]), CheckNewAnswer([(3,)])
        )
    assert f"kept for inspection: {tmp_path / 'w'}" in str(failure.value)
    assert (tmp_path / "w" / "checkpoint" / "commits").is_dir()
    assert (tmp_path / "w" / "inputs" / "input" / "part-000001.json").is_file()


USER_TESTS = """
from pyspark.sql import functions as F
from streamlab.testing import AddData, CheckNewAnswer, ExpectLate, ModelAnswer

def counts(events):
    return (events.withWatermark("event_time", "10 seconds")
            .groupBy(F.window("event_time", "5 seconds")).count())

def test_late_event_is_dropped(stream_test):
    stream_test(counts, schema="event_time timestamp", output_mode="append").run(
        AddData([("2026-01-01 00:00:10",), ("2026-01-01 00:00:14",)]),
        CheckNewAnswer([]),
        AddData([("2026-01-01 00:00:25",)]),
        CheckNewAnswer([(("2026-01-01 00:00:10", "2026-01-01 00:00:15"), 2)]),
        AddData([("2026-01-01 00:00:11",)]),
        CheckNewAnswer(ModelAnswer()),
        ExpectLate(1),
    )

def test_wrong_expectation(stream_test):
    stream_test(counts, schema="event_time timestamp").run(
        AddData([("2026-01-01 00:00:10",)]), AddData([("2026-01-01 00:00:30",)]),
        CheckNewAnswer([]),
    )

def test_session_is_shared(streamlab_spark):
    from pyspark.sql import SparkSession
    assert SparkSession.getActiveSession() is streamlab_spark
"""


@pytest.mark.slow
def test_a_users_project_gets_the_fixtures_from_the_entry_point(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(textwrap.dedent(USER_TESTS))
    # A user's run: none of this run's own Spark or pytest settings (PYTEST_ADDOPTS) leak in.
    outer = ("SPARK_REMOTE", "STREAMLAB_MASTER", "PYTEST_ADDOPTS")
    env = {k: v for k, v in os.environ.items() if k not in outer}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--streamlab-keep",
         f"--rootdir={tmp_path}", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert "1 failed, 2 passed" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "step 3 CheckNewAnswer(rows) failed" in proc.stdout
    assert "kept for inspection:" in proc.stdout

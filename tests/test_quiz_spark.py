"""The quiz's answers about the lab's data, proven on Spark: the guide's lab, run once.

Every question about the data must be answered by Spark's own output and progress, read
without the model, and Spark's answer must be the right choice and none of the other three.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from streamlab.cli import app
from streamlab.lab.catalog import table_ref
from streamlab.quiz import Quiz, build_quiz
from streamlab.quiz.prove import CHECKS, LabRun, prove
from streamlab.run.progress import latest_by_batch, parse_watermark, progress_log, read_progress
from streamlab.run.tables import row_count
from tests.support.lab import GuideRun

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(spark: SparkSession, guide_run: GuideRun) -> LabRun:
    """The guide's lab run, as the proofs read it."""
    return LabRun(spark, guide_run.paths)


@pytest.fixture(scope="module", params=[None, 1], ids=["lab-seed", "seed-1"])
def quiz(request: pytest.FixtureRequest, guide_run: GuideRun) -> Quiz:
    """The quiz of the guide's lab with its own seed, and with another."""
    return build_quiz(guide_run.paths, request.param)


def test_spark_answers_every_data_question_with_the_right_choice(run: LabRun, quiz: Quiz) -> None:
    data = [q for q in quiz.questions if q.proof is not None]
    assert {q.proof.kind for q in data if q.proof} == set(CHECKS)
    wrong = []
    for q in data:
        proven = prove(run, q)
        assert proven is not None
        if not proven.agrees:
            wrong.append(f"{q.id}: Spark says {proven.spark} ({proven.letter}), model {q.letter}")
    assert not wrong, "\n".join(wrong)


def _progress(guide_run: GuideRun) -> dict[str, dict[int, dict[str, Any]]]:
    return latest_by_batch(list(read_progress(progress_log(guide_run.paths))))


def test_progress_and_table_sizes_confirm_the_numbers_another_way(
    guide_run: GuideRun, quiz: Quiz
) -> None:
    # Spark's progress through streamlab's own reader, table sizes from Parquet footers: no
    # part of the quiz's proof code, and none of the model.
    progress = _progress(guide_run)
    sizes = {
        "late_count": row_count(table_ref(guide_run.paths, "streaming_bronze.late_events").path),
        "join_rows": row_count(table_ref(guide_run.paths, "streaming_silver.ad_clicks").path),
    }
    checked = set()
    for q in quiz.questions:
        p = q.proof
        if p is None:
            continue
        if p.kind == "watermark":
            mark = parse_watermark(progress[p.query][p.params["batch"]]["watermark"])
            assert mark is not None
            assert round(mark.timestamp() * 1000) == p.choices[q.answer]
        elif p.kind == "state_rows":
            ops = progress[p.query][p.params["batch"]]["state_operators"]
            (rows,) = [o["rows_total"] for o in ops if o["operator"] == p.params["operator"]]
            assert rows == p.choices[q.answer], q.id
        elif p.kind in sizes:
            assert sizes[p.kind] == p.choices[q.answer], q.id
        else:
            continue
        assert sum(v == p.choices[q.answer] for v in p.choices) == 1, q.id
        checked.add(q.id)
    assert {"watermark-of-batch", "late-count", "join-rows", "dedup-state"} <= checked


def test_prove_in_the_cli_shows_spark_agreeing(
    guide_run: GuideRun, spark: SparkSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The command uses the test run's one session instead of starting its own.
    monkeypatch.setattr("streamlab.spark.session.lab_session", lambda *a, **k: spark)
    root = str(guide_run.paths.root)
    result = CliRunner().invoke(app, ["quiz", "--root", root, "--reveal", "--prove", "--json"])
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["spark_disagrees"] == []
    proven = [q["spark"] for q in data["questions"] if q["about_data"]]
    assert proven and all(p["agrees"] and p["evidence"] for p in proven)
    text = CliRunner().invoke(app, ["quiz", "--root", root, "--reveal", "--prove"]).stdout
    assert text.count("Spark agrees (its answer is ") == len(proven)
    assert f"Spark agrees with {len(proven)} of {len(proven)} answers" in text

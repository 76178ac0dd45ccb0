"""``streamlab exercises``: every command's JSON, starters, hints, and bad input (exit 2)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from streamlab.cli import app
from streamlab.exercises import EXERCISES, find
from streamlab.exercises import progress as P
from tests.support.exercises import small_lab


@pytest.fixture
def lab(tmp_path):
    return small_lab(tmp_path / "lab")


def _run(*args: str):
    return CliRunner().invoke(app, ["exercises", *args])


def _json(*args: str):
    result = _run(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_shows_every_exercise_with_its_status(lab) -> None:
    rows = _json("list", "--root", str(lab.root))
    assert [r["number"] for r in rows] == [ex.number for ex in EXERCISES]
    assert {r["status"] for r in rows} == {"not started"}
    assert rows[2]["slug"] == "watermark-10m" and rows[2]["part_name"] == "Watermarks"


def test_show_then_hint_then_show_again(lab) -> None:
    info = _json("show", "3", "--root", str(lab.root))
    assert info["function"] == "solve(events)" and info["hints"] == []
    hint = _json("hint", "watermark-10m", "--root", str(lab.root))
    assert hint["hint"] == 1 and hint["text"] == find(3).hints[0]
    again = _json("show", "3", "--root", str(lab.root))
    assert again["hints"] == [find(3).hints[0]]
    assert _json("progress", "--root", str(lab.root))["not_started"] == len(EXERCISES)


def test_start_writes_the_starter_and_keeps_an_edited_file(lab) -> None:
    first = _json("start", "1", "--root", str(lab.root))
    path = lab.root / "exercises" / find(1).file_name
    assert first["state"] == "written" and path.read_text() == find(1).starter_source()
    assert _json("start", "1", "--root", str(lab.root))["state"] == "unchanged"
    path.write_text(path.read_text() + "# mine\n")
    refused = _run("start", "1", "--root", str(lab.root))
    assert refused.exit_code == 2
    assert "has your edits" in refused.output and "--force" in refused.output
    assert path.read_text().endswith("# mine\n")
    forced = _json("start", "1", "--root", str(lab.root), "--force")
    assert forced["state"] == "replaced" and path.read_text() == find(1).starter_source()


def test_solution_prints_the_reference(lab) -> None:
    info = _json("solution", "gold", "--root", str(lab.root))
    assert info["source"] == find("gold").reference_source()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "99"], "there is no exercise '99'"),
        (["check", "nope"], "there is no exercise 'nope'"),
        (["check", "3", "{missing}"], "does not exist"),
        (["check", "3", "{no_solve}"], "defines no solve()"),
        (["check", "3", "{wrong}"], "has the wrong parameters"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_touches_nothing(lab, tmp_path, args, message) -> None:
    files = {
        "missing": tmp_path / "missing.py",
        "no_solve": tmp_path / "no_solve.py",
        "wrong": tmp_path / "wrong.py",
    }
    files["no_solve"].write_text("x = 1\n")
    files["wrong"].write_text("def solve(spark, lab):\n    pass\n")
    P.record_hint(lab, find(1))
    before = P.progress_file(lab).read_bytes()
    result = _run(
        *[a.format(**{k: str(v) for k, v in files.items()}) for a in args], "--root", str(lab.root)
    )
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], result.output
    assert P.progress_file(lab).read_bytes() == before


def test_check_of_an_answer_passes_and_fails_with_exit_1(lab, tmp_path) -> None:
    ex = find("duplicates-aside")
    good = tmp_path / "good.py"
    good.write_text(ex.reference_source())
    verdict = _json("check", ex.slug, str(good), "--root", str(lab.root))
    assert verdict["passed"] and len(verdict["checked"]) == 2  # the lab and its variant
    bad = tmp_path / "bad.py"
    bad.write_text("def answer(events):\n    return []\n")
    result = _run("check", ex.slug, str(bad), "--root", str(lab.root), "--json")
    assert result.exit_code == 1
    failed = json.loads(result.stdout)
    assert not failed["passed"] and "you answered []" in failed["failure"]
    assert P.status(P.read(lab), ex) == "passed"  # a pass stays a pass


def test_streamlab_lab_names_the_next_exercise(lab) -> None:
    from streamlab.cli.exercises import next_exercise

    assert next_exercise(lab) == {"number": 1, "slug": "read-events", "concept": find(1).concept}
    P.record_check(lab, find(1), passed=True)
    assert next_exercise(lab)["slug"] == "watermark-5m"
    P.progress_file(lab).write_text("{damaged")
    assert next_exercise(lab)["number"] == 1  # a damaged file never fails 'streamlab lab'

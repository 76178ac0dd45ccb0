"""progress.json: read-modify-write that keeps what other commands wrote, and survives restarts."""

from __future__ import annotations

import json

import pytest

from streamlab.errors import StreamlabError
from streamlab.exercises import find
from streamlab.exercises import progress as P
from streamlab.lab.paths import LabPaths


def test_a_check_and_hints_are_recorded_next_to_the_quiz_score(tmp_path) -> None:
    paths = LabPaths.resolve(tmp_path)
    P.folder(paths).mkdir(parents=True)
    quiz = {"score": 0.8, "answers": "B,A"}
    P.progress_file(paths).write_text(json.dumps({"version": 1, "exercises": {}, "quiz": quiz}))
    ex = find("watermark-10m")
    assert P.record_hint(paths, ex) == 1
    P.record_check(paths, ex, passed=False)
    P.record_check(paths, ex, passed=True)
    P.record_check(paths, ex, passed=False)  # a pass stays a pass
    data = json.loads(P.progress_file(paths).read_text())
    assert data["quiz"] == quiz
    assert data["version"] == 1
    entry = data["exercises"]["watermark-10m"]
    assert entry["status"] == "passed" and entry["hints"] == 1 and entry["checked"]
    assert P.next_exercise(data) is find(1)
    assert P.summary(data)["passed"] == 1


def test_hints_stop_at_the_last_one(tmp_path) -> None:
    paths = LabPaths.resolve(tmp_path)
    ex = find(1)
    counts = [P.record_hint(paths, ex) for _ in range(len(ex.hints) + 2)]
    assert counts[-1] == len(ex.hints)


def test_a_damaged_file_is_one_line_and_is_left_alone(tmp_path) -> None:
    paths = LabPaths.resolve(tmp_path)
    P.folder(paths).mkdir(parents=True)
    P.progress_file(paths).write_text("{not json")
    with pytest.raises(StreamlabError, match=r"progress\.json is damaged"):
        P.record_check(paths, find(1), passed=True)
    assert P.progress_file(paths).read_text() == "{not json"

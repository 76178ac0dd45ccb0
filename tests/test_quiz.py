"""The quiz without Spark: its questions, determinism, scoring, bad input and the progress file."""

from __future__ import annotations

import json
import string
import types
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import streamlab.quiz as quiz_api
from streamlab.cli import app
from streamlab.errors import StreamlabError
from streamlab.lab.paths import LabPaths
from streamlab.quiz import CONCEPTS, LETTERS, Quiz, build_quiz, parse_answers, pass_mark
from streamlab.quiz.questions import Question, ask
from streamlab.quiz.score import progress_file
from streamlab.raw.generator import GeneratorConfig
from streamlab.raw.provision import setup_lab
from tests.support.lab import BASE_TIME, snapshot

runner = CliRunner()


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> LabPaths:
    """The guide's lab, set up (not run): the quiz reads only its landed batches."""
    paths = LabPaths.resolve(tmp_path_factory.mktemp("quiz") / "lab")
    setup_lab(paths, GeneratorConfig(base_time=BASE_TIME))
    return paths


@pytest.fixture(scope="module")
def other_lab(tmp_path_factory: pytest.TempPathFactory) -> LabPaths:
    """A lab generated from another seed."""
    paths = LabPaths.resolve(tmp_path_factory.mktemp("quiz-other") / "lab")
    setup_lab(paths, GeneratorConfig(base_time=BASE_TIME, seed=18))
    return paths


@pytest.fixture(scope="module")
def quiz(lab: LabPaths) -> Quiz:
    """The lab's quiz with its own seed, built once."""
    return build_quiz(lab)


@pytest.fixture
def fresh(lab: LabPaths, tmp_path: Path) -> LabPaths:
    """A copy of the lab's landed data of the test's own, so progress files do not leak."""
    import shutil

    target = tmp_path / "lab"
    shutil.copytree(lab.root, target)
    return LabPaths.resolve(target)


def _quiz(paths: LabPaths, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["quiz", "--root", str(paths.root), *args])
    return result.exit_code, result.stdout, result.stderr


def test_all_lists_the_public_api() -> None:
    exported = {
        name
        for name, value in vars(quiz_api).items()
        if name.isidentifier()  # not the names pytest's assertion rewriting adds
        and not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }
    assert exported == set(quiz_api.__all__)


def test_the_quiz_covers_the_six_concepts_with_at_least_15_questions(quiz: Quiz) -> None:
    assert len(quiz.questions) >= 15
    assert {q.concept for q in quiz.questions} == set(CONCEPTS)
    assert [q.concept for q in quiz.questions] == sorted(
        (q.concept for q in quiz.questions), key=CONCEPTS.index
    )
    assert len({q.id for q in quiz.questions}) == len(quiz.questions)
    assert quiz.pass_mark == pass_mark(len(quiz.questions)) >= 0.8 * len(quiz.questions)
    assert quiz.pass_mark - 1 < 0.8 * len(quiz.questions)
    # Most questions are about the lab's own data, and each of those can be proven on Spark.
    data = [q for q in quiz.questions if q.about_data]
    assert len(data) >= len(quiz.questions) // 2


def test_each_data_question_has_one_value_per_choice_and_the_right_one_is_expected(
    quiz: Quiz,
) -> None:
    for q in quiz.questions:
        if q.proof is None:
            continue
        values = q.proof.choices
        assert len(values) == len(q.choices), q.id
        assert all(values.count(v) == 1 for v in values), f"{q.id}: two choices mean the same"
        assert values[q.answer] == q.proof.expected, q.id
        assert q.proof.letter_of(q.proof.expected) == q.letter


def test_data_questions_name_the_labs_own_events(lab: LabPaths, quiz: Quiz) -> None:
    dropped = {q.id: q for q in quiz.questions}["dropped-event"]
    assert dropped.proof is not None
    ids = dropped.proof.params["event_ids"]
    landed = "".join(p.read_text() for p in sorted(lab.source("events").rglob("part-*.json")))
    assert ids and all(f'"event_id":"{i}"' in landed for i in ids)
    assert all(i in c for i, c in zip(dropped.proof.choices, dropped.choices, strict=True))


def test_the_same_lab_and_seed_give_the_same_quiz(lab: LabPaths) -> None:
    first = build_quiz(lab, seed=5).to_dict(reveal=True)
    assert build_quiz(lab, seed=5).to_dict(reveal=True) == first


def test_another_seed_or_another_lab_gives_other_questions(
    lab: LabPaths, other_lab: LabPaths
) -> None:
    def asked(paths: LabPaths, seed: int | None = None) -> list[tuple[str, tuple[str, ...]]]:
        return [(q.text, q.choices) for q in build_quiz(paths, seed).questions if q.about_data]

    base = asked(lab, 1)
    for other in (asked(lab, 2), asked(other_lab, 1)):
        differ = sum(a != b for a, b in zip(base, other, strict=True))
        assert differ >= len(base) // 2
    assert build_quiz(lab).seed == 17  # the lab's own seed by default
    assert build_quiz(other_lab).seed == 18


def test_json_lists_the_questions_without_their_answers(fresh: LabPaths) -> None:
    code, out, _ = _quiz(fresh, "--json")
    assert code == 0
    data = json.loads(out)
    assert len(data["questions"]) >= 15 and data["pass_share"] == 0.8
    for q in data["questions"]:
        assert set(q) == {"id", "concept", "about_data", "text", "choices"}
        assert list(q["choices"]) == list(LETTERS)
    assert "answer" not in out and "explanation" not in out
    assert not progress_file(fresh).exists()  # nothing answered, nothing saved


def test_reveal_shows_answers_and_explanations_and_saves_nothing(fresh: LabPaths) -> None:
    code, out, _ = _quiz(fresh, "--reveal", "--json")
    assert code == 0
    questions = json.loads(out)["questions"]
    expected = build_quiz(fresh).questions
    assert [q["answer"] for q in questions] == [q.letter for q in expected]
    assert all(q["explanation"] for q in questions)
    code, text, _ = _quiz(fresh, "--reveal")
    assert code == 0 and "Why:" in text and "Answer" in text
    assert not progress_file(fresh).exists()


def _letters(paths: LabPaths) -> list[str]:
    return [q.letter for q in build_quiz(paths).questions]  # a copy of the lab: the same quiz


def test_right_answers_pass_and_are_saved(fresh: LabPaths) -> None:
    right = _letters(fresh)
    code, out, _ = _quiz(fresh, "--answers", ",".join(right), "--json")
    assert code == 0
    result = json.loads(out)["result"]
    assert result["score"] == result["of"] == len(right) and result["passed"]
    saved = json.loads(progress_file(fresh).read_text())["quiz"]
    assert saved["score"] == len(right) and saved["passed"] and saved["seed"] == 17
    assert saved["taken"].endswith("+00:00")


def test_a_failed_quiz_exits_1_and_is_saved(fresh: LabPaths) -> None:
    right = _letters(fresh)
    wrong = [LETTERS[(LETTERS.index(a) + 1) % 4] for a in right]
    code, out, _ = _quiz(fresh, "--answers", ",".join(wrong))
    assert code == 1
    assert "not passed" in out and "Wrong" in out and "Why:" in out
    saved = json.loads(progress_file(fresh).read_text())["quiz"]
    assert saved == {**saved, "score": 0, "passed": False}


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_answers_are_scored_one_by_one(quiz: Quiz, data: st.DataObject) -> None:
    n = len(quiz.questions)
    picks = data.draw(st.lists(st.sampled_from(LETTERS), min_size=n, max_size=n))
    cased = [p.lower() if data.draw(st.booleans()) else p for p in picks]
    text = ",".join(f" {p} " if data.draw(st.booleans()) else p for p in cased)
    chosen = parse_answers(text, quiz)
    result = quiz_api.score(quiz, chosen)
    assert result.score == sum(p == q.letter for p, q in zip(picks, quiz.questions, strict=True))
    assert result.passed == (result.score >= quiz.pass_mark)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    bad=st.one_of(
        st.sampled_from(["E", "Z", "1", "", "AB", "-", "é"]),
        st.text(alphabet=string.ascii_letters + string.digits + " ", min_size=1, max_size=3).filter(
            lambda t: t.strip().upper() not in LETTERS
        ),
    ),
    where=st.integers(min_value=0, max_value=17),
)
def test_an_answer_out_of_range_is_refused(quiz: Quiz, bad: str, where: int) -> None:
    answers = ["A"] * len(quiz.questions)
    answers[where % len(answers)] = bad
    with pytest.raises(StreamlabError, match=r"^answer \d+ is"):
        parse_answers(",".join(answers), quiz)


@pytest.mark.parametrize(
    ("answers", "words"),
    [
        ("A,B", "answers for"),
        ("A," * 30 + "A", "answers for"),
        (",".join(["A"] * 17 + ["E"]), "answer 18 is 'E'"),
        (",".join(["A"] * 17 + [""]), "answer 18 is 'nothing'"),
    ],
)
def test_bad_answers_exit_2_with_one_line_and_touch_nothing(
    fresh: LabPaths, answers: str, words: str
) -> None:
    progress_file(fresh).parent.mkdir(parents=True)
    progress_file(fresh).write_text('{"exercises": {"1": "passed"}}')
    before = snapshot(fresh.root)
    code, out, err = _quiz(fresh, "--answers", answers)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and words in err
    assert snapshot(fresh.root) == before


def test_the_score_keeps_every_key_it_does_not_own(fresh: LabPaths) -> None:
    file = progress_file(fresh)
    file.parent.mkdir(parents=True)
    theirs = {"exercises": {"1": {"status": "passed"}, "7": {"status": "failed"}}, "v": 1}
    file.write_text(json.dumps({**theirs, "quiz": {"score": 1}}))
    code, _, _ = _quiz(fresh, "--answers", ",".join(_letters(fresh)))
    assert code == 0
    data = json.loads(file.read_text())
    assert {k: v for k, v in data.items() if k != "quiz"} == theirs
    assert data["quiz"]["score"] == data["quiz"]["of"]
    assert sorted(p.name for p in file.parent.iterdir()) == ["progress.json"]  # no temp left


def test_a_damaged_progress_file_is_refused_and_kept(fresh: LabPaths) -> None:
    file = progress_file(fresh)
    file.parent.mkdir(parents=True)
    file.write_text('{"exercises": {"1": ')
    code, _, err = _quiz(fresh, "--answers", ",".join(_letters(fresh)))
    assert code == 2 and "progress.json is damaged" in err
    assert file.read_text() == '{"exercises": {"1": '


def test_without_a_lab_one_line_names_the_command(tmp_path: Path) -> None:
    code, out, err = _quiz(LabPaths.resolve(tmp_path / "none"), "--json")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"streamlab: error: no lab at {tmp_path / 'none'}: run 'streamlab lab' (or 'streamlab "
        "setup') first"
    ]


def test_without_a_terminal_the_quiz_asks_for_answers(fresh: LabPaths) -> None:
    code, _, err = _quiz(fresh)
    assert code == 2 and "--answers" in err and len(err.strip().splitlines()) == 1


def test_prove_on_a_lab_that_has_not_run_is_refused_before_spark(fresh: LabPaths) -> None:
    code, _, err = _quiz(fresh, "--reveal", "--prove")
    assert code == 2 and "run 'streamlab lab' first" in err
    assert "pyspark" not in err


def test_in_a_terminal_it_asks_each_question_and_explains(
    fresh: LabPaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("streamlab.cli.quiz._in_terminal", lambda: True)
    right = _letters(fresh)
    typed = ["x", right[0].lower(), *right[1:]]  # a stray key is asked again
    result = runner.invoke(app, ["quiz", "--root", str(fresh.root)], input="\n".join(typed) + "\n")
    assert result.exit_code == 0, result.stdout
    assert result.stdout.count("Right:") == len(right)
    assert "Type one letter from A to D" in result.stdout
    assert f"Score: {len(right)} of {len(right)}: passed" in result.stdout
    assert json.loads(progress_file(fresh).read_text())["quiz"]["passed"]


def test_ask_needs_four_distinct_choices() -> None:
    import random

    with pytest.raises(Exception, match="distinct wrong choices"):
        ask("q", "watermarks", "?", "1", ["1", "2", "2", "3"], "", random.Random(0))
    q = ask("q", "watermarks", "?", "1", ["2", "3", "4"], "", random.Random(0))
    assert isinstance(q, Question) and q.choices[q.answer] == "1"


def test_a_lab_run_with_other_settings_gets_a_quiz_about_those(fresh: LabPaths) -> None:
    # What a first run with --watermark-delay 5m records beside the tumbling query's checkpoint.
    folder = fresh.checkpoint("windowed_agg/tumbling")
    folder.mkdir(parents=True, exist_ok=True)
    recorded = {"watermark_delay_ms": 300_000, "window_ms": 300_000}
    (folder / "streamlab.json").write_text(json.dumps({"settings": recorded}))
    code, out, _ = _quiz(fresh, "--json")
    assert code == 0
    texts = [q["text"] for q in json.loads(out)["questions"]]
    assert any("a 5m watermark" in t for t in texts)
    assert not any("10m watermark" in t for t in texts)
    (folder / "streamlab.json").write_text("{")
    code, _, err = _quiz(fresh, "--json")
    assert code == 2 and "streamlab.json is damaged" in err

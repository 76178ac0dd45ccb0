"""Reading a learner's answers, scoring them and keeping the score with the exercises' progress.

The score lives in ``<root>/exercises/progress.json`` under the ``"quiz"`` key; the exercise
workbook keeps its own keys in the same file, so every write reads the file, changes only
``"quiz"`` and replaces the file atomically (:mod:`streamlab.lab.files`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from streamlab.errors import StreamlabError
from streamlab.lab.files import atomic_write_bytes
from streamlab.lab.paths import LabPaths
from streamlab.quiz.build import Quiz
from streamlab.quiz.questions import LETTERS

QUIZ_KEY = "quiz"
"""The key of ``progress.json`` the quiz owns."""


def parse_answers(text: str, quiz: Quiz) -> list[int]:
    """Return the chosen indices of ``--answers B,A,C,...``; refuse a wrong count or letter.

    Letters are case-insensitive and may be padded with spaces.

    >>> from streamlab.quiz.questions import Question
    >>> q = Question("q", "watermarks", "?", ("a", "b", "c", "d"), 0, "")
    >>> parse_answers(" b, D ", Quiz(1, (q, q)))
    [1, 3]
    """
    parts = [p.strip().upper() for p in text.split(",")]
    n = len(quiz.questions)
    if len(parts) != n:
        raise StreamlabError(
            f"--answers has {len(parts)} answers for {n} questions: give one letter "
            f"(A-{LETTERS[-1]}) per question, e.g. --answers {','.join(['A'] * min(n, 3))},..."
        )
    out: list[int] = []
    for no, (part, q) in enumerate(zip(parts, quiz.questions, strict=True), start=1):
        last = LETTERS[len(q.choices) - 1]
        if len(part) != 1 or part not in LETTERS[: len(q.choices)]:
            shown = part or "nothing"
            raise StreamlabError(
                f"answer {no} is {shown!r}: question {no} takes one letter from A to {last}"
            )
        out.append(LETTERS.index(part))
    return out


@dataclass(frozen=True)
class Score:
    """How a learner did on one quiz."""

    seed: int
    chosen: tuple[int, ...]
    """The index each answer chose."""
    right: tuple[bool, ...]
    """Per question, whether the answer was right."""
    pass_mark: int

    @property
    def score(self) -> int:
        """How many answers were right."""
        return sum(self.right)

    @property
    def of(self) -> int:
        """How many questions there were."""
        return len(self.right)

    @property
    def passed(self) -> bool:
        """Whether the score reaches the pass mark (80%)."""
        return self.score >= self.pass_mark


def score(quiz: Quiz, chosen: list[int]) -> Score:
    """Score ``chosen`` (one index per question) against ``quiz``."""
    right = tuple(c == q.answer for c, q in zip(chosen, quiz.questions, strict=True))
    return Score(quiz.seed, tuple(chosen), right, quiz.pass_mark)


def progress_file(paths: LabPaths) -> Path:
    """Return the learner's progress file, which the quiz shares with the exercises."""
    return paths.root / "exercises" / "progress.json"


def read_progress(paths: LabPaths) -> dict[str, Any]:
    """Return the progress file's content (empty when there is none); refuse a damaged one."""
    file = progress_file(paths)
    if not file.exists():
        return {}
    try:
        data = orjson.loads(file.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise StreamlabError(
            f"{file} is damaged ({exc}): fix it or move it away; nothing was written"
        ) from exc
    if not isinstance(data, dict):
        raise StreamlabError(f"{file} is not a JSON object: fix it or move it away")
    return data


def save_score(paths: LabPaths, result: Score, *, taken: datetime | None = None) -> dict[str, Any]:
    """Record ``result`` under the ``"quiz"`` key, keeping every other key of the file."""
    data = read_progress(paths)
    entry = {
        "score": result.score,
        "of": result.of,
        "passed": result.passed,
        "pass_mark": result.pass_mark,
        "seed": result.seed,
        "taken": (taken or datetime.now(UTC)).isoformat(timespec="seconds"),
    }
    data[QUIZ_KEY] = entry
    file = progress_file(paths)
    file.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(file, orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    return entry

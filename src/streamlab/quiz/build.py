"""The quiz: questions about the lab's data and about the rules, for one lab and one seed."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from streamlab.errors import LabNotReadyError
from streamlab.lab.paths import LabPaths
from streamlab.quiz.data_questions import BUILDERS, LabModel
from streamlab.quiz.questions import CONCEPTS, PASS_SHARE, Question, pass_mark
from streamlab.quiz.rules import RULES
from streamlab.raw.landing import read_lab
from streamlab.settings import PipelineConfig


@dataclass(frozen=True)
class Quiz:
    """The questions of one quiz, in the order asked."""

    seed: int
    """The seed that picked the questions' subjects and shuffled their choices."""
    questions: tuple[Question, ...]
    """Every question, grouped by concept."""

    @property
    def pass_mark(self) -> int:
        """How many right answers pass."""
        return pass_mark(len(self.questions))

    def to_dict(self, *, reveal: bool) -> dict[str, Any]:
        """Return the quiz as JSON-ready data; answers and explanations only with ``reveal``."""
        return {
            "seed": self.seed,
            "questions": [q.to_dict(reveal=reveal) for q in self.questions],
            "of": len(self.questions),
            "pass_mark": self.pass_mark,
            "pass_share": PASS_SHARE,
        }


def lab_seed(paths: LabPaths) -> int:
    """Return the seed the lab at ``paths`` was generated with; refuse a lab not set up."""
    cfg = read_lab(paths)
    if cfg is None:
        raise LabNotReadyError(
            f"no lab at {paths.root}: run 'streamlab lab' (or 'streamlab setup') first"
        )
    return cfg.seed


def build_quiz(
    paths: LabPaths, seed: int | None = None, settings: PipelineConfig | None = None
) -> Quiz:
    """Return the quiz for the lab at ``paths``: the same lab and seed give the same quiz.

    ``seed`` defaults to the lab's own generator seed.

    >>> quiz = build_quiz(LabPaths.resolve())  # doctest: +SKIP
    >>> len(quiz.questions) >= 15  # doctest: +SKIP
    True
    """
    chosen = lab_seed(paths) if seed is None else seed
    model = LabModel.of(paths, settings)
    questions = [b(model, random.Random(f"{chosen}/{b.__name__}")) for b in BUILDERS]
    questions += [r.question(random.Random(f"{chosen}/{r.id}")) for r in RULES]
    order = {c: i for i, c in enumerate(CONCEPTS)}
    questions.sort(key=lambda q: order[q.concept])  # stable: the builders' order within one
    return Quiz(chosen, tuple(questions))

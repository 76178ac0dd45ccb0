"""``streamlab quiz``: multiple-choice questions on the lab's own data, proven on Spark.

>>> from streamlab.quiz import build_quiz
>>> quiz = build_quiz(LabPaths.resolve(), seed=3)  # doctest: +SKIP
>>> quiz.questions[0].text  # doctest: +SKIP
'The tumbling query runs with a 10 minutes watermark, ...'
"""

from __future__ import annotations

from streamlab.quiz.build import Quiz, build_quiz, lab_seed
from streamlab.quiz.questions import CONCEPTS, LETTERS, PASS_SHARE, Proof, Question, pass_mark
from streamlab.quiz.score import Score, parse_answers, progress_file, save_score, score

__all__ = [
    "CONCEPTS",
    "LETTERS",
    "PASS_SHARE",
    "Proof",
    "Question",
    "Quiz",
    "Score",
    "build_quiz",
    "lab_seed",
    "parse_answers",
    "pass_mark",
    "progress_file",
    "save_score",
    "score",
]

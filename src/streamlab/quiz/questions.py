"""One multiple-choice question: its text, choices, answer, explanation and Spark proof."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from streamlab.errors import StreamlabError

CONCEPTS = (
    "watermarks",
    "tumbling windows",
    "sliding windows",
    "deduplication",
    "stream-stream joins",
    "state and troubleshooting",
)
"""The guide's six concepts, in the order the quiz asks about them."""

LETTERS = "ABCD"
"""The letters of the choices; every question has four."""

PASS_SHARE = 0.8
"""The share of right answers that passes the quiz."""


@dataclass(frozen=True)
class Proof:
    """What Spark must show for a question about the lab's data to be right.

    ``kind`` names the check (:mod:`streamlab.quiz.prove`), ``query`` the lab's streaming query
    whose output or progress holds the evidence, ``params`` what to look up and ``expected``
    the value the model predicts.
    """

    kind: str
    """The check: ``watermark``, ``late_event``, ``late_count``, ``emitted_batch``, ..."""
    query: str
    """The lab's query, as it is named in Spark and in the progress log."""
    params: Mapping[str, Any] = field(default_factory=dict)
    """What the check looks up: a batch, an event id, a window start..."""
    expected: Any = None
    """The model's answer, in the check's own terms (a count, a batch, epoch ms, ids)."""
    choices: tuple[Any, ...] = ()
    """Each choice, in the order shown, in the check's terms: Spark's answer must be the right
    one's value and none of the others'."""

    def letter_of(self, value: Any) -> str | None:
        """Return the letter of the choice whose value is ``value``, if one is.

        >>> Proof("late_count", "q", choices=(4, 7, 9, 2)).letter_of(9)
        'C'
        """
        matches = [LETTERS[i] for i, v in enumerate(self.choices) if v == value]
        return matches[0] if len(matches) == 1 else None


@dataclass(frozen=True)
class Question:
    """A multiple-choice question with four choices and one right answer."""

    id: str
    """A stable name of the question, e.g. ``watermark-of-batch``."""
    concept: str
    """One of :data:`CONCEPTS`."""
    text: str
    """The question as asked."""
    choices: tuple[str, ...]
    """The four choices, in the order shown (A to D)."""
    answer: int
    """Index of the right choice."""
    explanation: str
    """Why the answer is right and the others wrong, with the model's evidence."""
    proof: Proof | None = None
    """How Spark confirms the answer; ``None`` for a question about a rule, not the data."""

    def __post_init__(self) -> None:
        """Refuse a question that cannot be asked: wrong number of choices, repeats."""
        if len(self.choices) != len(LETTERS) or len(set(self.choices)) != len(self.choices):
            raise StreamlabError(f"question {self.id}: needs {len(LETTERS)} distinct choices")
        if not 0 <= self.answer < len(self.choices):
            raise StreamlabError(f"question {self.id}: the answer is not one of its choices")
        if self.concept not in CONCEPTS:
            raise StreamlabError(f"question {self.id}: unknown concept {self.concept!r}")

    @property
    def letter(self) -> str:
        """The letter of the right choice."""
        return LETTERS[self.answer]

    @property
    def about_data(self) -> bool:
        """Whether the question is about the lab's own data (and Spark can prove it)."""
        return self.proof is not None

    def to_dict(self, *, reveal: bool) -> dict[str, Any]:
        """Return the question as JSON-ready data; the answer only with ``reveal``.

        >>> q = Question("q", "watermarks", "Which?", ("a", "b", "c", "d"), 2, "because")
        >>> sorted(q.to_dict(reveal=False))
        ['about_data', 'choices', 'concept', 'id', 'text']
        >>> q.to_dict(reveal=True)["answer"]
        'C'
        """
        data: dict[str, Any] = {
            "id": self.id,
            "concept": self.concept,
            "about_data": self.about_data,
            "text": self.text,
            "choices": {LETTERS[i]: c for i, c in enumerate(self.choices)},
        }
        if reveal:
            data["answer"] = self.letter
            data["explanation"] = self.explanation
            if self.proof is not None:
                data["proof"] = {
                    "kind": self.proof.kind,
                    "query": self.proof.query,
                    "params": dict(self.proof.params),
                    "expected": self.proof.expected,
                    "choices": list(self.proof.choices),
                }
        return data


def ask(
    qid: str,
    concept: str,
    text: str,
    right: str,
    wrong: Sequence[str],
    explanation: str,
    rng: random.Random,
    proof: Proof | None = None,
    values: Callable[[str], Any] | Mapping[str, Any] | None = None,
) -> Question:
    """Build a question from its right choice and wrong ones, shuffled by ``rng``.

    The first three wrong choices that differ from the right one and from each other are used.
    ``values`` gives each choice's value in the proof's terms (a mapping or a function of the
    choice's text); the proof's ``expected`` becomes the right choice's value.

    >>> q = ask("q", "watermarks", "?", "7", ["7", "6", "8", "6", "9"], "", random.Random(1))
    >>> sorted(q.choices), q.choices[q.answer]
    (['6', '7', '8', '9'], '7')
    """
    others: list[str] = []
    for w in wrong:
        if w != right and w not in others:
            others.append(w)
    if len(others) < len(LETTERS) - 1:
        raise StreamlabError(f"question {qid}: not enough distinct wrong choices")
    choices = [right, *others[: len(LETTERS) - 1]]
    rng.shuffle(choices)
    if proof is not None and values is not None:
        value_of = values if callable(values) else values.__getitem__
        proof = replace(
            proof, expected=value_of(right), choices=tuple(value_of(c) for c in choices)
        )
    return Question(qid, concept, text, tuple(choices), choices.index(right), explanation, proof)


def numbers_near(right: int, candidates: Sequence[int], rng: random.Random) -> list[int]:
    """Return wrong numbers for a numeric answer: ``candidates`` first, then near misses.

    Every number returned differs from ``right`` and from the others, and none is negative.

    >>> numbers_near(5, [5, 7], random.Random(0))[:1]
    [7]
    """
    out: list[int] = []
    for c in candidates:
        if c != right and c >= 0 and c not in out:
            out.append(c)
    step = 1
    while len(out) < len(LETTERS) - 1:
        for c in rng.sample([right + step, right - step], 2):
            if c != right and c >= 0 and c not in out and len(out) < len(LETTERS) - 1:
                out.append(c)
        step += 1
    return out


def pass_mark(total: int) -> int:
    """Return how many right answers pass a quiz of ``total`` questions (80%, rounded up).

    >>> pass_mark(15), pass_mark(18)
    (12, 15)
    """
    return -(-total * int(PASS_SHARE * 100) // 100)

"""The workbook's catalogue: 40 exercises in seven parts, each with a reference and mutants."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from streamlab.errors import StreamlabError
from streamlab.exercises import EXERCISES, PARTS, find
from tests.support.exercises import QUERIES

REPO = Path(__file__).resolve().parent.parent


def _function(source: str, name: str) -> ast.FunctionDef | None:
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            return node
    return None


def test_forty_exercises_in_the_seven_parts_numbered_in_order() -> None:
    assert len(EXERCISES) >= 40
    assert [ex.number for ex in EXERCISES] == list(range(1, len(EXERCISES) + 1))
    assert {ex.part for ex in EXERCISES} == set(PARTS)
    assert [ex.part for ex in EXERCISES] == sorted(ex.part for ex in EXERCISES)
    assert len({ex.slug for ex in EXERCISES}) == len(EXERCISES)


@pytest.mark.parametrize("ex", EXERCISES, ids=lambda ex: ex.slug)
def test_reference_starter_and_mutants_define_the_function_the_checker_calls(ex) -> None:
    for source in (ex.reference_source(), ex.starter_source()):
        fn = _function(source, ex.function)
        assert fn is not None
        assert [a.arg for a in fn.args.args] == list(ex.inputs)
    assert ex.mutants and ex.hints and ex.task and ex.returns
    for mutant in ex.mutants:
        wrong = ex.mutant_source(mutant)
        assert wrong != ex.reference_source()
        compile(wrong, mutant.name, "exec")
    if ex.output_mode != "append":
        assert ex.mode_of(ex.reference_source()) == ex.output_mode
    if ex.starter_is_broken:
        assert ex.starter_source().split('"""', 2)[2] in ex.mutant_source(ex.mutants[0])


def test_starters_are_what_the_script_writes() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "exercise_starters.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout


def test_find_by_number_or_slug_and_one_line_for_anything_else() -> None:
    assert find(3) is find("3") is find("03") is find("watermark-10m")
    with pytest.raises(StreamlabError, match=r"there is no exercise '99': give a number 1-40"):
        find(99)
    with pytest.raises(StreamlabError, match="no exercise 'nope'"):
        find("nope")


def test_every_kind_of_mutant_the_issue_names_exists() -> None:
    names = {m.name for ex in EXERCISES for m in ex.mutants}
    assert {
        "delay-5m",
        "ten-minute-windows",
        "tumbling",
        "no-dedup",
        "inner",
        "append-mode",
    } <= names
    assert len(QUERIES) + sum(1 for ex in EXERCISES if ex.kind == "answer") == len(EXERCISES)

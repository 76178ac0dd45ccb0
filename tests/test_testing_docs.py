"""Every example in docs/testing.md runs: its code blocks are executed, their tests called."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from streamlab.testing import StreamTestFailure

DOC = Path(__file__).resolve().parents[1] / "docs" / "testing.md"
_BLOCK = re.compile(r"(?:<!-- fails: (\w+) -->\n)?```python\n(.*?)```", re.DOTALL)


def _blocks() -> list[tuple[str, str | None, str]]:
    """(test name, expected failure, code of the blocks up to and including its own)."""
    out = []
    text = DOC.read_text()
    so_far = ""
    for m in _BLOCK.finditer(text):
        # Pad with blank lines so that tracebacks point at the block's lines in the document.
        start = text.count("\n", 0, m.start(2))
        so_far += "\n" * (start - so_far.count("\n")) + m.group(2)
        for name in re.findall(r"^def (test_\w+)\(", m.group(2), re.MULTILINE):
            out.append((name, m.group(1), so_far))
    return out


BLOCKS = _blocks()
SLOW = {"test_each_event_counted_once"}  # hypothesis shrinks through many Spark runs


def test_the_tutorial_has_its_examples() -> None:
    names = [b[0] for b in BLOCKS]
    assert {"test_late_event_is_dropped", "test_restart_and_crash"} <= set(names)
    assert "test_each_event_counted_once" in names


@pytest.mark.parametrize(
    ("name", "fails", "code"),
    [pytest.param(*b, id=b[0], marks=[pytest.mark.slow] if b[0] in SLOW else []) for b in BLOCKS],
)
def test_doc_example(name: str, fails: str | None, code: str, stream_test: Any) -> None:
    namespace: dict[str, Any] = {"__name__": f"docs_testing_{name}"}
    exec(compile(code, str(DOC), "exec"), namespace)
    test = namespace[name]
    if fails is None:
        test(stream_test)
        return
    expected = {"StreamTestFailure": StreamTestFailure, "AssertionError": AssertionError}[fails]
    with pytest.raises(expected) as failure:
        test(stream_test)
    if name == "test_slow_counts":
        assert "its watermark delay is 20 seconds, not 10 seconds" in str(failure.value)
        shown = DOC.read_text().split("```text\n", 1)[1].split("```", 1)[0]
        assert " ".join(shown.split()) == " ".join(str(failure.value).split())

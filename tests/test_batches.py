"""Rows a batch read, counted from its files the way Spark's text source counts them."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamlab.run import batches
from streamlab.run.batches import count_lines


@given(
    st.lists(st.text(alphabet='ab{}" \r', max_size=30), max_size=40),
    st.booleans(),
    st.sampled_from([1, 2, 3, 1 << 20]),
)
def test_lines_end_at_newlines_and_carriage_returns(
    lines: list[str], trailing: bool, chunk: int
) -> None:
    text = "\n".join(lines) + ("\n" if trailing and lines else "")
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as patch:
        patch.setattr(batches, "_CHUNK", chunk)  # a \r\n may fall between two reads
        file = Path(folder) / "part.json"
        file.write_bytes(text.encode())
        # Independent: Python splits lines at \n, \r\n and \r too.
        assert count_lines(file) == len(text.splitlines())

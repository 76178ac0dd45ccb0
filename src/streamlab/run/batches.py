"""What a query's committed micro-batches read, from durable state only.

A run's summary must not depend on listener events, which Spark delivers on a thread of its
own and which a stop or a kill can leave undelivered. Everything here is read from files that
exist once a batch is committed: the query's offsets log (which source log entries each batch
took), the file source log (which files those entries name) and the files themselves.

Spark's text source makes one row of every line of a file, blank lines included, so a batch's
``numInputRows`` is the number of lines of the files it read (checked against Spark's own
progress in tests/test_summary.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from streamlab.run.checkpoint import batch_files, read_offsets, uri_to_path

_CHUNK = 1 << 20


def count_lines(file: Path) -> int:
    """Return the lines of ``file`` as Spark's text reader splits them.

    Like Hadoop's line reader: a line ends at ``\\n``, ``\\r\\n`` or a lone ``\\r``, and
    a last line without its end is a line too.
    """
    ends = 0
    last = b""
    with file.open("rb") as data:
        while chunk := data.read(_CHUNK):
            ends += chunk.count(b"\n") + chunk.count(b"\r") - chunk.count(b"\r\n")
            if last == b"\r" and chunk[:1] == b"\n":  # a \r\n split between two chunks
                ends -= 1
            last = chunk[-1:]
    return ends + (0 if last in (b"", b"\n", b"\r") else 1)


def source_count(checkpoint: Path, batch_id: int) -> int:
    """Return how many sources the query of ``checkpoint`` reads (from ``offsets/batch_id``)."""
    return len(read_offsets(checkpoint, batch_id).source_offsets)


def batch_input_rows(checkpoint: Path, batch_id: int) -> int:
    """Return the rows (lines) every source of the query read in batch ``batch_id``."""
    total = 0
    for source in range(source_count(checkpoint, batch_id)):
        for uri in batch_files(checkpoint, batch_id, source):
            total += count_lines(Path(uri_to_path(uri)))
    return total


def input_rows(checkpoint: Path, batches: Iterable[int]) -> int:
    """Return the rows the query of ``checkpoint`` read in ``batches``."""
    return sum(batch_input_rows(checkpoint, b) for b in batches)

"""What a query's committed micro-batches read, from durable state only.

A run's summary must not depend on listener events, which Spark delivers on a thread of its
own and which a stop or a kill can leave undelivered. Nor can it list ``commits/``: Spark
keeps only the last ``spark.sql.streaming.minBatchesToRetain`` batches of the offsets and
commits logs (20 in a lab session), so a 31-batch run lists 21. Everything here comes from
files that exist once a batch is committed: where the query stood before the run (its last
committed batch and how far into each source's file log it had read), where it stands after,
the file source logs (never purged) and the landed files themselves.

Spark's text source makes one row of every line of a file, blank lines included, so a batch's
``numInputRows`` is the number of lines of the files it read (checked against Spark's own
progress in tests/test_summary.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from streamlab.run.checkpoint import (
    committed_batches,
    log_files,
    read_offsets,
    source_log_offset,
    uri_to_path,
)

_CHUNK = 1 << 20


def count_lines(file: Path) -> int:
    r"""Return the lines of ``file`` as Spark's text reader splits them.

    Like Hadoop's line reader: a line ends at ``\n``, ``\r\n`` or a lone ``\r``, and
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


@dataclass(frozen=True)
class Position:
    """Where a query stands: its last committed batch and its place in each source's log."""

    last_batch: int | None
    """The last committed batch; ``None`` before the first."""
    log_offsets: tuple[int, ...] = ()
    """Per source, the last file log entry read (-1: none yet)."""

    def batches_since(self, start: Position) -> list[int]:
        """Return the batches committed after ``start`` up to this position."""
        first = 0 if start.last_batch is None else start.last_batch + 1
        return [] if self.last_batch is None else list(range(first, self.last_batch + 1))


def position(checkpoint: Path) -> Position:
    """Return where the query of ``checkpoint`` stands now."""
    committed = committed_batches(checkpoint)
    if not committed:
        return Position(None)
    last = committed[-1]
    sources = len(read_offsets(checkpoint, last).source_offsets)
    return Position(last, tuple(source_log_offset(checkpoint, last, s) for s in range(sources)))


def rows_read(checkpoint: Path, start: Position, end: Position) -> int:
    """Return the rows (lines) every source of the query read between two positions."""
    total = 0
    for source, upto in enumerate(end.log_offsets):
        after = start.log_offsets[source] if source < len(start.log_offsets) else -1
        for uri in log_files(checkpoint, source, after, upto):
            total += count_lines(Path(uri_to_path(uri)))
    return total

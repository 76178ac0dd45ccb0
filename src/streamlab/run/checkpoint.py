"""Reading what a query recorded in its checkpoint: batches, watermarks, files read.

A micro-batch query writes, per batch ``N``, ``offsets/N`` (a version line, a metadata JSON
with ``batchWatermarkMs``, then one offset per source) before running it and ``commits/N``
after. A file source keeps its own log under ``sources/<i>/``: one JSON per file with
``path`` and ``batchId``, where ``batchId`` is the source's ``logOffset``, not the query's
batch id. Every tenth entry is compacted into ``K.compact``, which repeats all earlier files.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamlab.errors import StreamlabError

_ENTRY = re.compile(r"^(\d+)(\.compact)?$")


def _log_ids(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    found = (_ENTRY.match(p.name) for p in folder.iterdir())
    return sorted({int(m.group(1)) for m in found if m and not m.group(2)})


def committed_batches(checkpoint: Path) -> list[int]:
    """Return the batch ids whose commit the query wrote, in order."""
    return _log_ids(checkpoint / "commits")


def planned_batches(checkpoint: Path) -> list[int]:
    """Return the batch ids the query planned (``offsets/``), committed or not."""
    return _log_ids(checkpoint / "offsets")


@dataclass(frozen=True)
class OffsetEntry:
    """One ``offsets/N`` entry."""

    batch_id: int
    watermark_ms: int
    """The watermark batch ``batch_id`` ran with (the one computed after the batch before)."""
    timestamp_ms: int
    """When the batch was planned."""
    source_offsets: list[Any]
    """The offset of each source, as recorded (``{"logOffset": K}`` for a file source)."""


def read_offsets(checkpoint: Path, batch_id: int) -> OffsetEntry:
    """Return the ``offsets/batch_id`` entry of ``checkpoint``."""
    file = checkpoint / "offsets" / str(batch_id)
    try:
        lines = file.read_text().splitlines()
        meta = json.loads(lines[1])
        offsets = [json.loads(line) if line != "-" else None for line in lines[2:]]
    except (OSError, IndexError, ValueError) as exc:
        raise StreamlabError(
            f"the offsets log {file} is missing or damaged ({exc}): "
            "if batches were purged, reset the pipeline's checkpoint and run it again"
        ) from exc
    return OffsetEntry(
        batch_id,
        int(meta.get("batchWatermarkMs", 0)),
        int(meta.get("batchTimestampMs", 0)),
        offsets,
    )


def batch_watermark(checkpoint: Path, batch_id: int) -> int:
    """Return the watermark (ms) batch ``batch_id`` ran with; 0 before the first batch."""
    if batch_id < 0:
        return 0
    return read_offsets(checkpoint, batch_id).watermark_ms


def late_watermark(checkpoint: Path, batch_id: int) -> int:
    """Return the watermark (ms) Spark filtered batch ``batch_id``'s late rows with.

    With several stateful operators in a query (Spark 3.4+, semantics T1-T3) late rows are
    filtered with the watermark of the batch before, counting no-data batches: the previous
    ``offsets`` entry. Batch 0 uses 0. Verified against Spark in tests/test_pipelines.py.
    """
    return batch_watermark(checkpoint, batch_id - 1)


def _log_offset(entry: OffsetEntry, source: int) -> int:
    if source >= len(entry.source_offsets) or entry.source_offsets[source] is None:
        return -1
    value = entry.source_offsets[source]
    return int(value["logOffset"]) if isinstance(value, dict) else int(value)


def _source_entries(checkpoint: Path, source: int, log_id: int) -> list[dict[str, Any]]:
    folder = checkpoint / "sources" / str(source)
    plain = folder / str(log_id)
    if plain.exists():
        candidates = [plain]
    else:
        compacted = sorted(
            int(m.group(1))
            for m in (_ENTRY.match(p.name) for p in folder.iterdir() if folder.is_dir())
            if m and m.group(2) and int(m.group(1)) >= log_id
        )
        candidates = [folder / f"{k}.compact" for k in compacted[:1]]
    for file in candidates:
        entries = [json.loads(line) for line in file.read_text().splitlines()[1:] if line]
        return [e for e in entries if int(e.get("batchId", log_id)) == log_id]
    raise StreamlabError(
        f"the file source log of {checkpoint} no longer lists batch {log_id}: "
        "reset the pipeline's checkpoint and run it again"
    )


def source_log_offset(checkpoint: Path, batch_id: int, source: int = 0) -> int:
    """Return the file source log entry source ``source`` had reached in batch ``batch_id``.

    -1 when the source had read nothing yet.
    """
    return _log_offset(read_offsets(checkpoint, batch_id), source)


def log_files(checkpoint: Path, source: int, after: int, upto: int) -> list[str]:
    """Return the files (URIs) of the source log entries ``after + 1`` to ``upto``.

    The file source log is never purged (unlike ``offsets/`` and ``commits/``, which keep
    the last ``spark.sql.streaming.minBatchesToRetain`` batches).
    """
    files: list[str] = []
    for log_id in range(after + 1, upto + 1):
        files.extend(str(e["path"]) for e in _source_entries(checkpoint, source, log_id))
    return files


def batch_files(checkpoint: Path, batch_id: int, source: int = 0) -> list[str]:
    """Return the files (URIs) source ``source`` read in batch ``batch_id``; none for no-data."""
    current = _log_offset(read_offsets(checkpoint, batch_id), source)
    previous = _log_offset(read_offsets(checkpoint, batch_id - 1), source) if batch_id else -1
    files: list[str] = []
    for log_id in range(previous + 1, current + 1):
        files.extend(str(e["path"]) for e in _source_entries(checkpoint, source, log_id))
    return files


def uri_to_path(uri: str) -> str:
    """Return the local path of a ``file:`` URI as Spark logs it (``file:///tmp/x``)."""
    from urllib.parse import unquote

    return unquote(re.sub(r"^file:/*", "/", uri))

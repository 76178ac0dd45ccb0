"""A query's checkpoint: reading what it recorded, checking it before a restart, repairing it.

Reading. A micro-batch query writes, per batch ``N``, ``offsets/N`` (a version line, a metadata JSON
with ``batchWatermarkMs``, then one offset per source) before running it and ``commits/N``
after. A file source keeps its own log under ``sources/<i>/``: one JSON per file with
``path`` and ``batchId``, where ``batchId`` is the source's ``logOffset``, not the query's
batch id. Every tenth entry is compacted into ``K.compact``, which repeats all earlier files.

Checking. Spark stores a stateful query's keys, windows and state layout in its checkpoint.
Restarted with other settings it fails deep in a batch with a JVM stack trace, or worse, carries
on with state that no longer means what the query thinks. A checkpoint whose offset or commit
log was truncated or lost fails the same way. streamlab records the settings a checkpoint was
made with (``streamlab.json`` beside Spark's own files) and checks both before starting, so the
user gets one line naming what changed or what is damaged, and the fix
(:func:`check_checkpoint`).

Repairing. A run killed mid-batch leaves steps half done that Spark does not undo exactly;
:func:`repair_after_kill` removes them before the query starts again.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from streamlab.errors import StreamlabError
from streamlab.lab.files import atomic_write_text

_ENTRY = re.compile(r"^(\d+)(\.compact)?$")
SETTINGS_FILE = "streamlab.json"
"""The settings a checkpoint was made with, beside Spark's own files."""
_LOGS = ("offsets", "commits")


def _log_ids(folder: Path) -> list[int]:
    """Return the ids of a metadata log's plain entries (``N``, not ``N.compact``), in order."""
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


# --- checking a checkpoint before a query restarts on it -----------------------------------


def has_progress(checkpoint: Path) -> bool:
    """Return whether a query has planned at least one batch in ``checkpoint``."""
    return bool(_log_ids(checkpoint / "offsets"))


def find_damage(checkpoint: Path) -> str | None:
    """Return what is wrong with ``checkpoint``'s logs, or ``None`` when they are sound."""
    if not has_progress(checkpoint):
        return None
    metadata = checkpoint / "metadata"
    try:
        if "id" not in json.loads(metadata.read_text()):
            return "metadata has no query id"
    except (OSError, ValueError):
        return "metadata is missing or not JSON"
    ids: dict[str, list[int]] = {log: _log_ids(checkpoint / log) for log in _LOGS}
    for log, batches in ids.items():
        for batch in batches:
            problem = _entry_problem(checkpoint / log / str(batch), log)
            if problem:
                return f"{log}/{batch} {problem}"
    offsets = ids["offsets"]
    gaps = sorted(set(range(offsets[0], offsets[-1] + 1)) - set(offsets))
    if gaps:
        return f"offsets/{gaps[0]} is missing between offsets/{offsets[0]} and /{offsets[-1]}"
    orphans = sorted(set(ids["commits"]) - set(offsets))
    if orphans:
        return f"commits/{orphans[0]} has no offsets/{orphans[0]}"
    if ids["commits"] and ids["commits"][-1] < offsets[-1] - 1:
        return f"commits stop at {ids['commits'][-1]} but offsets reach {offsets[-1]}"
    return None


def _entry_problem(path: Path, log: str) -> str | None:
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        return f"cannot be read ({exc.strerror})"
    except UnicodeDecodeError:
        return "is not text"
    if not lines or not lines[0].startswith("v"):
        return "is empty or truncated"
    if len(lines) < 2:
        return "is truncated"
    for line in lines[1:]:
        if line == "-":  # a source with no offset yet
            continue
        try:
            json.loads(line)
        except ValueError:
            return "is truncated or damaged"
    return None


def check_checkpoint(
    checkpoint: Path,
    pipeline: str,
    settings: dict[str, Any],
    query: str | None = None,
    *,
    record: bool = True,
) -> None:
    """Fail before starting if ``checkpoint`` is damaged or was made with other settings.

    A checkpoint without progress is (re)initialized with ``settings`` (unless ``record`` is
    false: a check that writes nothing); one with progress must match them. ``settings`` are
    the values that shape the query's state: keys, windows, delays, state store, shuffle
    partitions.
    """
    fix = (
        f"run 'streamlab reset {pipeline}' (or pass --reset) to start it over: that removes its "
        "checkpoint and tables"
    )
    damage = find_damage(checkpoint)
    if damage:
        raise StreamlabError(
            f"the {pipeline} checkpoint at {checkpoint} is damaged ({damage}): {fix}"
        )
    file = checkpoint / SETTINGS_FILE
    wanted = json.loads(json.dumps(settings, sort_keys=True, default=str))
    if has_progress(checkpoint) and file.exists():
        try:
            recorded = json.loads(file.read_text()).get("settings")
        except (ValueError, AttributeError):
            recorded = None
        if not isinstance(recorded, dict):
            raise StreamlabError(f"the {pipeline} checkpoint's {SETTINGS_FILE} is damaged: {fix}")
        changed = [
            k for k in sorted(set(recorded) | set(wanted)) if recorded.get(k) != wanted.get(k)
        ]
        if changed:
            what = ", ".join(
                f"{k} {_show(recorded.get(k))} -> {_show(wanted.get(k))}" for k in changed
            )
            raise StreamlabError(
                f"the checkpoint of {query or pipeline} was made with other settings ({what}): "
                f"{fix}; or run again with the old settings"
            )
        return
    if not record:
        return
    checkpoint.mkdir(parents=True, exist_ok=True)
    entry = {"query": query or pipeline, "settings": wanted}
    atomic_write_text(file, json.dumps(entry, sort_keys=True, indent=2))


def _show(value: Any) -> str:
    return "unset" if value is None else str(value)


# --- repairing what a killed run left half done -----------------------------------------------


def _delete(path: Path) -> None:
    path.unlink(missing_ok=True)
    path.with_name(f".{path.name}.crc").unlink(missing_ok=True)


def _remove_temporaries(folder: Path) -> list[str]:
    """Remove Spark's half-written log files (``.N.<uuid>.tmp``) from ``folder``."""
    removed = []
    if folder.is_dir():
        for item in folder.iterdir():
            if item.name.startswith(".") and ".tmp" in item.name:
                item.unlink(missing_ok=True)
                removed.append(f"{folder.name}/{item.name}")
    return removed


def _log_offsets(entry: Path) -> list[int | None]:
    """Return each source's ``logOffset`` in an offsets log entry (``None`` where it has none)."""
    out: list[int | None] = []
    for line in entry.read_text().splitlines()[2:]:
        data = json.loads(line) if line != "-" else None
        out.append(
            int(data["logOffset"]) if isinstance(data, dict) and "logOffset" in data else None
        )
    return out


def repair_after_kill(checkpoint: Path, sink: Path | None) -> list[str]:
    """Undo the steps a run killed mid-batch took past its last consistent point.

    Spark writes a micro-batch in steps: the file source logs the files it will read, the
    offsets log plans the batch, the file sink logs the files it wrote, the commit log closes
    the batch. A kill between two steps leaves states Spark does not recover from exactly:

    - a half-written log file (``.N.<uuid>.tmp``) makes the restart refuse to plan batch 0;
    - source log entries past the last planned batch are read together by the next batch, so
      one micro-batch would take two landed files;
    - a sink log entry for a batch without a commit makes Spark skip that batch when it runs it
      again, so it collects no event times and the watermark falls behind (SPARK-18513).

    This removes each of them (the source files are found again, the batch runs again and
    writes the same rows), and returns what it removed. Call it before starting the query.
    """
    if not checkpoint.is_dir():
        return []
    removed: list[str] = []
    for log in ("offsets", "commits"):
        removed += _remove_temporaries(checkpoint / log)
    sources = sorted(p for p in (checkpoint / "sources").glob("*") if p.name.isdigit())
    for folder in sources:
        removed += _remove_temporaries(folder)
    planned = _log_ids(checkpoint / "offsets")
    if planned:
        offsets = _log_offsets(checkpoint / "offsets" / str(planned[-1]))
        for folder in sources:
            index = int(folder.name)
            last = offsets[index] if index < len(offsets) else None
            if last is None:
                continue
            for entry in _log_ids(folder):
                if entry > last:
                    _delete(folder / str(entry))
                    removed.append(f"sources/{index}/{entry}")
    else:
        for folder in sources:  # nothing planned: no file was read yet
            for entry in _log_ids(folder):
                _delete(folder / str(entry))
                removed.append(f"sources/{folder.name}/{entry}")
    if sink is not None:
        sink_log = sink / "_spark_metadata"
        removed += _remove_temporaries(sink_log)
        committed = _log_ids(checkpoint / "commits")
        last_commit = committed[-1] if committed else -1
        for batch in _log_ids(sink_log):
            if batch > last_commit:
                for line in (sink_log / str(batch)).read_text().splitlines()[1:]:
                    written = str(json.loads(line).get("path", ""))
                    # The sink writes into the table's folder: remove the file there, never
                    # at the absolute path logged (a copied lab's log names the original's).
                    if written:
                        (sink / Path(uri_to_path(written)).name).unlink(missing_ok=True)
                _delete(sink_log / str(batch))
                removed.append(f"{sink.name}/_spark_metadata/{batch}")
    return removed

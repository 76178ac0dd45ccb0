"""Checking a checkpoint before a query restarts on it: same settings, and not damaged.

Spark stores a stateful query's keys, windows and state layout in its checkpoint. Restarted
with other settings it fails deep in a batch with a JVM stack trace, or worse, carries on with
state that no longer means what the query thinks. A checkpoint whose offset or commit log was
truncated or lost fails the same way. streamlab records the settings a checkpoint was made
with (``streamlab.json`` beside Spark's own files) and checks both before starting, so the
user gets one line naming what changed or what is damaged, and the fix.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from streamlab.errors import StreamlabError

SETTINGS_FILE = "streamlab.json"
_LOGS = ("offsets", "commits")


def _log_ids(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())


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
    tmp = file.with_name(f".{SETTINGS_FILE}.tmp")
    entry = {"query": query or pipeline, "settings": wanted}
    tmp.write_text(json.dumps(entry, sort_keys=True, indent=2))
    tmp.replace(file)


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
                    written = json.loads(line).get("path", "")
                    Path(str(written).removeprefix("file://").removeprefix("file:")).unlink(
                        missing_ok=True
                    )
                _delete(sink_log / str(batch))
                removed.append(f"{sink.name}/_spark_metadata/{batch}")
    return removed

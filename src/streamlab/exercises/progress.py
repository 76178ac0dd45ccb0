"""The learner's progress: ``<root>/exercises/progress.json``, kept across restarts.

The file is one JSON object::

    {"version": 1, "exercises": {"watermark-10m": {"status": "passed", "hints": 1,
                                                  "checked": "2026-01-01T12:00:00+00:00"}}}

Other keys (the quiz keeps its score under ``"quiz"``) belong to other commands: every write
reads the file, changes only its own entries and writes it back atomically
(:mod:`streamlab.lab.files`), under an exclusive lock on ``exercises/.progress.lock`` so two
commands writing at once never lose each other's changes.
"""

from __future__ import annotations

import fcntl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from streamlab.errors import StreamlabError
from streamlab.exercises.catalogue import EXERCISES, Exercise
from streamlab.lab.files import atomic_write_bytes
from streamlab.lab.paths import LabPaths

VERSION = 1
"""The format of ``progress.json``."""
NOT_STARTED, FAILED, PASSED = "not started", "failed", "passed"


def folder(paths: LabPaths) -> Path:
    """Return ``<root>/exercises``: the learner's files and the progress."""
    return paths.root / "exercises"


def progress_file(paths: LabPaths) -> Path:
    """Return the progress file of the lab at ``paths``."""
    return folder(paths) / "progress.json"


def read(paths: LabPaths) -> dict[str, Any]:
    """Return the whole progress object (an empty one when there is no file yet)."""
    path = progress_file(paths)
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {"version": VERSION, "exercises": {}}
    except (OSError, orjson.JSONDecodeError) as exc:
        raise StreamlabError(
            f"{path} is damaged ({exc}): move it aside to start the progress afresh"
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("exercises", {}), dict):
        raise StreamlabError(
            f"{path} is not a progress file (a JSON object with 'exercises'): move it aside"
        )
    data.setdefault("version", VERSION)
    data.setdefault("exercises", {})
    return data


@contextmanager
def _locked(paths: LabPaths) -> Iterator[None]:
    target = folder(paths)
    target.mkdir(parents=True, exist_ok=True)
    with open(target / ".progress.lock", "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def update(paths: LabPaths, change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Read, ``change`` and write back the progress, keeping every key it does not touch."""
    with _locked(paths):
        data = read(paths)
        change(data)
        atomic_write_bytes(progress_file(paths), orjson.dumps(data, option=orjson.OPT_INDENT_2))
    return data


def entry(data: dict[str, Any], ex: Exercise) -> dict[str, Any]:
    """Return the progress of one exercise (not started: no checks, no hints)."""
    found = data.get("exercises", {}).get(ex.slug)
    return found if isinstance(found, dict) else {"status": NOT_STARTED, "hints": 0}


def status(data: dict[str, Any], ex: Exercise) -> str:
    """Return ``not started``, ``failed`` or ``passed``."""
    return str(entry(data, ex).get("status", NOT_STARTED))


def hints_seen(data: dict[str, Any], ex: Exercise) -> int:
    """Return how many hints the learner has seen."""
    value = entry(data, ex).get("hints", 0)
    return value if isinstance(value, int) else 0


def record_check(paths: LabPaths, ex: Exercise, passed: bool) -> None:
    """Record a check's result; a pass stays a pass (a later failure is kept as its time)."""

    def change(data: dict[str, Any]) -> None:
        item = dict(entry(data, ex))
        was = item.get("status")
        item["status"] = PASSED if passed or was == PASSED else FAILED
        item.setdefault("hints", 0)
        item["checked"] = datetime.now(UTC).isoformat(timespec="seconds")
        data["exercises"][ex.slug] = item

    update(paths, change)


def record_hint(paths: LabPaths, ex: Exercise) -> int:
    """Count one more hint seen (up to the exercise's hints) and return the new count."""
    seen = [0]

    def change(data: dict[str, Any]) -> None:
        item = dict(entry(data, ex))
        item["hints"] = min(hints_seen(data, ex) + 1, len(ex.hints))
        seen[0] = item["hints"]
        if item.get("status") is None:
            item["status"] = NOT_STARTED
        data["exercises"][ex.slug] = item

    update(paths, change)
    return seen[0]


def next_exercise(data: dict[str, Any]) -> Exercise | None:
    """Return the first exercise not passed yet, in course order."""
    return next((ex for ex in EXERCISES if status(data, ex) != PASSED), None)


def summary(data: dict[str, Any]) -> dict[str, Any]:
    """Return counts per status and per part."""
    parts: dict[str, dict[str, int]] = {}
    totals = {NOT_STARTED: 0, FAILED: 0, PASSED: 0}
    for ex in EXERCISES:
        s = status(data, ex)
        totals[s] = totals.get(s, 0) + 1
        p = parts.setdefault(ex.part_name, {NOT_STARTED: 0, FAILED: 0, PASSED: 0})
        p[s] = p.get(s, 0) + 1
    nxt = next_exercise(data)
    return {
        "total": len(EXERCISES),
        "passed": totals[PASSED],
        "failed": totals[FAILED],
        "not_started": totals[NOT_STARTED],
        "parts": parts,
        "next": None if nxt is None else {"number": nxt.number, "slug": nxt.slug},
    }

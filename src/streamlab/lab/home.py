"""Where a lab lives: the root its recorded paths are under, kept in the lab and checked first.

Spark records absolute paths. A file source logs every input file it read (the checkpoint's
``sources/<i>/N``), and the file sink logs every data file it committed (the table's
``_spark_metadata/N``). A lab copied or moved elsewhere keeps those paths, so at the new place
a reader finds none of its own files in the sink's log (the tables read as empty) and a query
finds every landed file new (every row written twice).

So a lab records where it lives in ``<root>/.streamlab.home.json``, written by the first
writing command (``setup``, ``run``, ``lab``), and every Spark session and writing command
checks the root it was given against it before anything starts. A lab made before the record
existed is placed by the paths its own logs hold; with no logs yet there is nothing to go
wrong, and its next writing command records the root. ``streamlab relocate`` rewrites the
recorded paths for a new root (:mod:`streamlab.lab.relocate`).

The root is compared as streamlab and Spark spell it (absolute, links not resolved), because
that is what Spark writes into its logs: the same folder seen through a link or a second mount
is another root to Spark, and is reported as such.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from streamlab.errors import StreamlabError
from streamlab.lab.paths import SOURCES, LabPaths

HOME_FILE = ".streamlab.home.json"
"""The record of where the lab lives, at its root."""

_LOG_ENTRY = re.compile(r"^\d+(\.compact)?$")
_SOURCE_FILE = re.compile(r"^(/.*?)/(?:" + "|".join(SOURCES) + r")/batch_\d+/[^/]+$")
_SINK_FILE = re.compile(r"^(/.*?)/warehouse/[^/]+\.db/[^/]+/[^/]+$")


@dataclass(frozen=True)
class Home:
    """Where a lab's recorded paths point."""

    root: str
    """The root the lab's logs name (absolute, as Spark spells it)."""
    pending: tuple[str, ...] = ()
    """Roots an interrupted ``relocate`` was moving paths from and to: some files may still
    name any of them."""


class LabMovedError(StreamlabError):
    """The lab at a root was set up at another root (copied, moved or mounted elsewhere)."""

    def __init__(self, message: str, moved_from: str) -> None:
        super().__init__(message)
        self.moved_from = moved_from


def home_file(paths: LabPaths) -> Path:
    """Return the file that records where the lab at ``paths`` lives."""
    return paths.root / HOME_FILE


def read_home(paths: LabPaths) -> Home | None:
    """Return what the lab records about where it lives, if it records it."""
    file = home_file(paths)
    if not file.exists():
        return None
    try:
        data = json.loads(file.read_text())
        return Home(str(data["root"]), tuple(str(p) for p in data.get("pending", [])))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise StreamlabError(
            f"{file} is damaged ({exc}): run 'streamlab relocate' to record where the lab lives"
        ) from exc


def write_home(paths: LabPaths, home: Home) -> None:
    """Record ``home`` in the lab, atomically (a temporary file renamed over the old one)."""
    file = home_file(paths)
    data: dict[str, object] = {"root": home.root}
    if home.pending:
        data["pending"] = list(home.pending)
    tmp = file.with_name(f".{file.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(file)


def inferred_root(paths: LabPaths) -> str | None:
    """Return the root the lab's own logs name, for a lab that does not record it.

    Looks at the first entry of one file source log, else of one file sink log.
    """
    for pattern, shape in (  # a query's checkpoint is a folder of checkpoints/ or one below
        ("checkpoints/*/sources/*/*", _SOURCE_FILE),
        ("checkpoints/*/*/sources/*/*", _SOURCE_FILE),
        ("warehouse/*.db/*/_spark_metadata/*", _SINK_FILE),
    ):
        for log in sorted(paths.root.glob(pattern)):
            if not _LOG_ENTRY.match(log.name) or not log.is_file():
                continue
            for line in log.read_text(errors="replace").splitlines()[1:]:
                try:
                    recorded = str(json.loads(line)["path"])
                except (ValueError, KeyError, TypeError):
                    continue
                match = shape.match(local_path(recorded))
                if match:
                    return match.group(1)
    return None


def recorded_root(paths: LabPaths) -> str | None:
    """Return the root the lab's recorded paths are under: its record, else its logs."""
    home = read_home(paths)
    return home.root if home is not None else inferred_root(paths)


def moved_from(paths: LabPaths) -> str | None:
    """Return the root the lab at ``paths`` was set up at, when that is not ``paths.root``."""
    home = read_home(paths)
    if home is not None and home.pending:
        return home.root
    recorded = recorded_root(paths)
    if recorded is None or recorded == str(paths.root):
        return None
    return recorded


def check_home(paths: LabPaths, *, writing: bool, fix: str | None = None) -> None:
    """Fail with one line when the lab at ``paths`` was set up at another root.

    Args:
        paths: the lab root as this command sees it.
        writing: whether the command would write (refused) or only read (told how to read).
        fix: what else the user can do instead of relocating, for a writing command
            (default: ``pass --reset to start over``).

    """
    old = moved_from(paths)
    if old is None:
        return
    here = str(paths.root)
    home = read_home(paths)
    if home is not None and home.pending:
        raise LabMovedError(
            f"this lab was moved from {old} and a relocation of it was interrupted; "
            "run `streamlab relocate` to finish it",
            old,
        )
    if _same_folder(old, here):
        raise LabMovedError(
            f"this lab lives at {old} and is seen here as {here}, the same folder under another "
            f"name: pass --root {old}, or run `streamlab relocate` to use it as {here}",
            old,
        )
    if writing:
        raise LabMovedError(
            f"this lab was moved from {old}; run `streamlab relocate` "
            f"({fix or 'or pass --reset to start over'})",
            old,
        )
    raise LabMovedError(
        f"this lab was moved from {old}; run `streamlab relocate` to read it at {here} "
        "(its logs still name the files under the old root)",
        old,
    )


def record_home(paths: LabPaths) -> None:
    """Record ``paths.root`` as where the lab lives, if the lab records nothing yet.

    Call it from writing commands, after :func:`check_home` passed.
    """
    if read_home(paths) is None and paths.root.is_dir():
        write_home(paths, Home(str(paths.root)))


def local_path(recorded: str) -> str:
    """Return the local path of a path as Spark records it (``file:///tmp/x`` or ``/tmp/x``)."""
    if recorded.startswith("file:"):
        return unquote(re.sub(r"^file:/*", "/", recorded))
    return recorded


def _same_folder(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False

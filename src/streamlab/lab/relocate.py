"""Relocating a lab: rewrite every path it recorded so that it works at its new root.

A lab copied (``cp -r``, ``rsync``), moved (``mv``) or mounted at another path keeps the
absolute paths Spark and streamlab recorded under the old root. These are, found by searching a
real lab's checkpoints and warehouse for its root:

- the file source logs of every query, ``checkpoints/**/sources/<i>/N``: one JSON line per
  input file read, with its ``path`` (a query that does not find its files there reads them all
  again);
- the file sink logs of every table, ``warehouse/<db>.db/<table>/_spark_metadata/N``: one JSON
  line per committed data file (a reader that does not find its files there sees none);
- late capture's per-batch records, ``checkpoints/late_data/batches/N.json``: the files of
  each batch, and the plans of batches not yet captured, ``checkpoints/late_data/plans/N.json``
  (a run killed before it captured them).

Nothing else holds the root: offsets, commits, checkpoint metadata, state stores (their
schemas carry no paths), ``_table.json``, ``lab.json`` and the progress log are free of it. The
``source_file`` column of the bronze tables is data: the file a row was read from, kept as
read.

Each log file is rewritten to a temporary name in its folder and renamed over the old one, and
Hadoop's checksum file beside it (``.N.crc``, now stale) is removed first, so a relocation
killed at any point leaves each file either old or new, both readable. The lab's home record
names the roots being moved from and to until the last file is done, so ``relocate`` run again
finishes the job: it is idempotent and resumable.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from streamlab.errors import LabNotReadyError
from streamlab.lab.home import Home, local_path, read_home, recorded_root, write_home
from streamlab.lab.lock import RootLock, command_line
from streamlab.lab.paths import LabPaths

Progress = Callable[[int, int], None]
"""Called with (files done, files to do) as a relocation goes."""

_LOG_ENTRY = re.compile(r"^\d+(\.compact)?$")
_TEMPORARY = ".relocate.tmp"
# What Java's URI leaves unquoted in a path (Hadoop's Path.toUri, which Spark logs).
_URI_SAFE = frozenset("/@,;:$&+=_-!.~'()*")


@dataclass(frozen=True)
class RelocateResult:
    """What a relocation did."""

    root: str
    """The lab's root now."""
    moved_from: list[str]
    """The roots whose paths were rewritten (empty: the lab was in place)."""
    files: int
    """Log files that record paths, checked."""
    rewritten: int
    """Of those, the files rewritten."""
    paths: int
    """Paths rewritten, over all files."""
    seconds: float
    left: list[str] = field(default_factory=list)
    """Files outside the known logs that still name an old root (none expected)."""

    def to_dict(self) -> dict[str, Any]:
        """Return the result as JSON-ready data."""
        return asdict(self)


def recorded_path_files(paths: LabPaths) -> list[Path]:
    """Return every file of the lab that records paths: source logs, sink logs, late records."""
    found: list[Path] = []
    if paths.checkpoints.is_dir():
        for folder in sorted(paths.checkpoints.glob("**/sources/*")):
            if folder.is_dir() and folder.name.isdigit():
                found += _log_files(folder)
        found += sorted(paths.checkpoints.glob("late_data/batches/*.json"))
        found += sorted(paths.checkpoints.glob("late_data/plans/*.json"))
    if paths.warehouse.is_dir():
        for folder in sorted(paths.warehouse.glob("*.db/*/_spark_metadata")):
            found += _log_files(folder)
    return found


def _log_files(folder: Path) -> list[Path]:
    return sorted(
        (p for p in folder.iterdir() if _LOG_ENTRY.match(p.name) and p.is_file()),
        key=lambda p: (int(p.name.split(".")[0]), p.name),
    )


def relocate_lab(paths: LabPaths, *, progress: Progress | None = None) -> RelocateResult:
    """Make the lab at ``paths`` work at ``paths.root``, wherever it was set up.

    Under the root lock: a run on the lab at the same time is refused, and this waits for none.
    Run again after an interruption, it finishes the job.

    >>> relocate_lab(LabPaths.resolve("/tmp/lab-copy"))  # doctest: +SKIP
    RelocateResult(root='/tmp/lab-copy', moved_from=['/tmp/streaming'], ...)

    """
    if not paths.lab_file.exists() and not paths.checkpoints.is_dir():
        raise LabNotReadyError(f"no lab at {paths.root}: run 'streamlab setup' first")
    paths.ensure_writable()
    with RootLock(paths, command_line()):
        return _relocate(paths, progress)


def _relocate(paths: LabPaths, progress: Progress | None) -> RelocateResult:
    started = time.monotonic()
    here = str(paths.root)
    home = read_home(paths)
    recorded = recorded_root(paths)
    sources = sorted(
        {r for r in (recorded, *(home.pending if home else ())) if r is not None} - {here}
    )
    files = recorded_path_files(paths)
    if not sources:
        write_home(paths, Home(here))
        return RelocateResult(here, [], len(files), 0, 0, time.monotonic() - started)
    # Journal first: until the last file is rewritten, the lab names every root involved.
    write_home(paths, Home(recorded or sources[0], tuple(sorted({*sources, here}))))
    _remove_temporaries(files)
    rewritten = moved = 0
    for done, file in enumerate(files, start=1):
        count = _rewrite(file, sources, here)
        if count:
            rewritten += 1
            moved += count
        if progress is not None:
            progress(done, len(files))
    left = [str(f.relative_to(paths.root)) for f in _still_naming(paths, sources)]
    write_home(paths, Home(here))
    return RelocateResult(
        here, sources, len(files), rewritten, moved, time.monotonic() - started, left
    )


def _rewrite(file: Path, sources: list[str], here: str) -> int:
    """Rewrite the paths of one file under ``sources`` to ``here``; return how many changed."""
    text = file.read_text()
    if file.suffix == ".json":  # late capture's record: {"files": [...], ...}
        data = json.loads(text)
        count = 0
        files = []
        for value in data.get("files", []):
            new = rebase(str(value), sources, here)
            count += new is not None
            files.append(new if new is not None else value)
        data["files"] = files
        updated = json.dumps(data)
    else:  # a metadata log: a version line, then one JSON object a line with its "path"
        lines = text.split("\n")
        count = 0
        for i, line in enumerate(lines[1:], start=1):
            if not line.strip():
                continue
            entry = json.loads(line)
            new = rebase(str(entry.get("path", "")), sources, here)
            if new is not None:
                entry["path"] = new
                lines[i] = json.dumps(entry, separators=(",", ":"), ensure_ascii=False)
                count += 1
        updated = "\n".join(lines)
    if count:
        _replace(file, updated)
    return count


def _replace(file: Path, text: str) -> None:
    # Hadoop verifies a log file against its .crc when there is one: a stale one would make
    # Spark refuse the file, a missing one is not checked. Remove it before the content changes.
    file.with_name(f".{file.name}.crc").unlink(missing_ok=True)
    tmp = file.with_name(f".{file.name}{_TEMPORARY}")
    tmp.write_text(text)
    os.replace(tmp, file)


def _remove_temporaries(files: list[Path]) -> None:
    for folder in {f.parent for f in files}:
        for item in folder.glob(f".*{_TEMPORARY}"):
            item.unlink(missing_ok=True)


def rebase(recorded: str, sources: list[str], here: str) -> str | None:
    """Return ``recorded`` moved from under one of ``sources`` to under ``here``, or ``None``.

    Keeps the form Spark recorded: a ``file:`` URI stays one (the root quoted as Hadoop quotes
    it, the rest as recorded), a plain path stays plain. A path under ``here`` already is left
    alone, so rewriting twice changes nothing.

    >>> rebase("file:///tmp/streaming/events/b/p.json", ["/tmp/streaming"], "/tmp/copy")
    'file:///tmp/copy/events/b/p.json'
    >>> rebase("file:///tmp/copy/events/b/p.json", ["/tmp/streaming"], "/tmp/copy") is None
    True
    """
    local = local_path(recorded)
    if _under(local, here):
        return None
    for old in sources:
        if not _under(local, old):
            continue
        depth = len(Path(old).parts) - 1  # path components of the old root
        if recorded.startswith("file:"):
            scheme = re.match(r"^file:/*", recorded)
            assert scheme is not None
            slashes = len(scheme.group(0)) - len("file:")
            encoded = recorded[len(scheme.group(0)) :].split("/")
            rest = "/".join(encoded[depth:])
            prefix = "file:" + "/" * max(slashes - 1, 0)
            return f"{prefix}{_quote(here.rstrip('/'))}/{rest}" if rest else prefix + _quote(here)
        return here.rstrip("/") + local[len(old.rstrip("/")) :]
    return None


def _under(path: str, root: str) -> bool:
    root = root.rstrip("/")
    return path == root or path.startswith(root + "/")


def _quote(path: str) -> str:
    return "".join(
        c if not c.isascii() or c.isalnum() or c in _URI_SAFE else f"%{ord(c):02X}" for c in path
    )


def _still_naming(paths: LabPaths, sources: list[str]) -> Iterator[Path]:
    """Yield the small text files of the lab's records that still name an old root."""
    needles = [s.encode() for s in sources]
    candidates = [paths.lab_file, paths.logs / "progress.jsonl"]
    if paths.checkpoints.is_dir():
        candidates += [
            p
            for p in paths.checkpoints.rglob("*")
            if p.is_file() and "state" not in p.relative_to(paths.checkpoints).parts
        ]
    if paths.warehouse.is_dir():
        candidates += [
            p
            for p in paths.warehouse.rglob("*")
            if p.is_file() and not p.name.endswith((".parquet", ".crc"))
        ]
    for file in candidates:
        if not file.is_file() or file.name.endswith(".crc"):
            continue
        data = file.read_bytes()
        if any(n + b"/" in data for n in needles):
            yield file

"""Landing generated batches on disk: atomically, in order, with a manifest beside each.

A batch is written into a hidden temporary folder and renamed into place, so a running stream
never lists a half-written file (Spark's file source skips names starting with ``.`` or ``_``,
and streamlab's readers only match ``batch_NNNN/part-*.json``). Spark's file source takes new
files in modification-time order, so each batch's file is made newer than the batch before it.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from streamlab.errors import StreamlabError
from streamlab.lab.files import atomic_write_bytes, temporary_name
from streamlab.lab.paths import LabPaths
from streamlab.raw.config import GeneratorConfig

if TYPE_CHECKING:
    from streamlab.raw.generator import Batch

DATA_FILE = "part-00000.json"
MANIFEST = "_manifest.json"
DATA_GLOB = "batch_*/part-*.json"
"""What streamlab's readers load under a source folder: every landed batch, no manifest."""
_BATCH_DIR = re.compile(r"^batch_(\d{4,})$")


def land(paths: LabPaths, batch: Batch, *, newer_than_ns: int | None = None) -> Path:
    """Write one batch to ``<root>/<source>/batch_NNNN/`` atomically and return that folder.

    A batch that has landed already is never overwritten. Its data file is made newer than
    every landed one of its source: ``newer_than_ns`` is the latest of their modification
    times, where the caller knows it (one that lands many batches in a row), else they are read.
    """
    return publish(paths, batch.source, batch.batch, stage(paths, batch), newer_than_ns)


def stage(paths: LabPaths, batch: Batch) -> Path:
    """Write one batch into a hidden folder beside its place, for :func:`publish` to land.

    Batches can be staged in any order, by any process; they land in order.
    """
    final = paths.batch(batch.source, batch.batch)
    if final.exists():
        raise StreamlabError(f"{final} exists already: batches are never overwritten")
    tmp = temporary_name(final)
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        (tmp / DATA_FILE).write_bytes(batch.lines)
        (tmp / MANIFEST).write_bytes(orjson.dumps(batch.manifest))
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _unwritable(final, exc) from exc
    return tmp


def publish(
    paths: LabPaths, source: str, number: int, staged: Path, newer_than_ns: int | None = None
) -> Path:
    """Land the batch staged at ``staged`` (by :func:`stage`) as batch ``number`` of ``source``.

    Its data file is made newer than every landed one (``newer_than_ns``, as for :func:`land`),
    then the folder is renamed into place.
    """
    final = paths.batch(source, number)
    try:
        if final.exists():
            raise StreamlabError(f"{final} exists already: batches are never overwritten")
        latest = _latest_mtime_ns(final.parent) if newer_than_ns is None else newer_than_ns
        _make_newer(staged / DATA_FILE, latest)
        os.rename(staged, final)
    except OSError as exc:
        shutil.rmtree(staged, ignore_errors=True)
        raise _unwritable(final, exc) from exc
    except StreamlabError:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return final


def _unwritable(final: Path, exc: OSError) -> StreamlabError:
    reason = exc.strerror or type(exc).__name__
    return StreamlabError(
        f"could not write {final} ({reason}): free space or choose a writable --root; "
        "the batches already landed are kept and setup continues from them next time"
    )


def _latest_mtime_ns(folder: Path) -> int:
    latest = 0
    for batch in landed_batches_in(folder):
        data = folder / f"batch_{batch:04d}" / DATA_FILE
        if data.exists():
            latest = max(latest, data.stat().st_mtime_ns)
    return latest


def _make_newer(path: Path, than_ns: int) -> None:
    # Spark compares modification times in milliseconds.
    now_ms = path.stat().st_mtime_ns // 1_000_000
    stamp = max(now_ms, than_ns // 1_000_000 + 1) * 1_000_000
    os.utime(path, ns=(stamp, stamp))


def landed_batches_in(folder: Path) -> list[int]:
    """Return the batch numbers landed in a source folder, in order."""
    if not folder.is_dir():
        return []
    found = (_BATCH_DIR.match(p.name) for p in folder.iterdir())
    return sorted(int(m.group(1)) for m in found if m)


def landed_batches(paths: LabPaths, source: str) -> list[int]:
    """Return the batch numbers of ``source`` that have landed, in order."""
    return landed_batches_in(paths.source(source))


def read_manifests(paths: LabPaths, source: str) -> list[dict[str, Any]]:
    """Return the manifest of every landed batch of ``source``, in batch order."""
    out = []
    for batch in landed_batches(paths, source):
        file = paths.batch(source, batch) / MANIFEST
        try:
            out.append(orjson.loads(file.read_bytes()))
        except (OSError, orjson.JSONDecodeError) as exc:
            raise StreamlabError(
                f"the manifest {file} is missing or damaged ({exc}): "
                "run 'streamlab setup --reset' to generate the lab again"
            ) from exc
    return out


def source_glob(paths: LabPaths, source: str) -> str:
    """Return the path pattern that reads every landed batch of ``source``."""
    return str(paths.source(source) / DATA_GLOB)


def read_lab(paths: LabPaths) -> GeneratorConfig | None:
    """Return the configuration the lab at ``paths`` was generated with, if it was."""
    if not paths.lab_file.exists():
        return None
    try:
        data = orjson.loads(paths.lab_file.read_bytes())
        return GeneratorConfig.from_dict(data["generator"])
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError) as exc:
        raise StreamlabError(
            f"{paths.lab_file} is damaged ({exc}): run 'streamlab setup --reset' to start over"
        ) from exc


def write_lab(paths: LabPaths, cfg: GeneratorConfig) -> None:
    """Record the configuration the lab's data was generated with."""
    data = {"generator": cfg.to_dict(), "fingerprint": cfg.fingerprint()}
    atomic_write_bytes(paths.lab_file, orjson.dumps(data, option=orjson.OPT_INDENT_2))

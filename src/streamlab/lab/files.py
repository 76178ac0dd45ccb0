"""Writing a file so that readers see the old content or the new, never half of it.

Every file streamlab rewrites in place (the lab's settings, table markers, checkpoint settings,
state files of background processes, the Java wrapper, late-event captures) goes through
:func:`atomic_path`: the data is written to a temporary file beside the target, then renamed
over it, which POSIX makes atomic within one file system. A failed write leaves the target as
it was and removes the temporary file.

>>> import tempfile
>>> folder = Path(tempfile.mkdtemp())
>>> atomic_write_text(folder / "a.json", '{"ok": true}')
>>> (folder / "a.json").read_text()
'{"ok": true}'
>>> sorted(p.name for p in folder.iterdir())
['a.json']
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temporary_name(target: Path) -> Path:
    """Return the temporary file beside ``target`` that this process writes it through."""
    return target.with_name(f".{target.name}.tmp-{os.getpid()}")


@contextmanager
def atomic_path(target: Path, *, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces ``target`` in one rename.

    ``mode`` sets the file's permissions (e.g. ``0o755``) before it takes ``target``'s place.
    """
    tmp = temporary_name(target)
    try:
        yield tmp
        if mode is not None:
            tmp.chmod(mode)
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(target: Path, data: bytes, *, mode: int | None = None) -> None:
    """Replace ``target``'s content with ``data`` atomically."""
    with atomic_path(target, mode=mode) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: Path, text: str, *, mode: int | None = None) -> None:
    """Replace ``target``'s content with ``text`` (UTF-8) atomically."""
    atomic_write_bytes(target, text.encode("utf-8"), mode=mode)

"""The magic commands that are not code: ``%pip``, ``%fs`` and ``%run``."""

from __future__ import annotations

import re
import shlex
from importlib import metadata
from pathlib import Path
from typing import Literal

from streamlab.notebook.dbutils import DBUtils

_REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")
_NOTEBOOK_SUFFIXES = ("", ".py", ".sql", ".ipynb")
_OPTIONS_WITH_VALUE = frozenset(
    [
        "-r",
        "-c",
        "-i",
        "-e",
        "-f",
        "--requirement",
        "--constraint",
        "--index-url",
        "--extra-index-url",
        "--find-links",
        "--target",
    ]
)
"""``pip install`` options whose next word is a value (a file, a URL), not a package."""


def pip_status(source: str) -> tuple[Literal["ok", "skipped"], str]:
    """Check a ``%pip install`` cell against the installed packages; install nothing.

    Returns ``ok`` when every package is installed, else ``skipped`` with what to install.

    >>> pip_status("install pyspark")[0]
    'ok'
    """
    words = shlex.split(source.replace("\\\n", " "), comments=True)
    if not words or words[0] != "install":
        return "skipped", f"%pip {' '.join(words[:1])} is not run here: manage packages with pip"
    names: list[str] = []
    skip_next = False
    for word in words[1:]:
        if skip_next:
            skip_next = False
            continue
        if word.startswith("-"):
            skip_next = word in _OPTIONS_WITH_VALUE
            continue
        match = _REQUIREMENT.match(word)
        if match:
            names.append(match.group(1))
    missing = [name for name in names if not _installed(name)]
    if not missing:
        return "ok", f"already installed: {', '.join(names)}" if names else "nothing to install"
    return "skipped", (
        f"not installed: {', '.join(missing)}; packages are not installed while a notebook runs: "
        f"install them in streamlab's environment (pip install {' '.join(missing)}) and run again"
    )


def _installed(name: str) -> bool:
    try:
        metadata.distribution(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def fs_command(dbutils: DBUtils, source: str) -> object:
    """Run a ``%fs`` cell (``ls PATH``, ``head PATH``, ``mkdirs``, ``rm [-r]``, ``cp [-r]``...)."""
    words = shlex.split(source)
    if not words:
        raise ValueError("%fs needs a command, such as: %fs ls /tmp/streaming/")
    command, args = words[0], words[1:]
    recurse = any(a in ("-r", "--recurse") for a in args)
    paths = [a for a in args if not a.startswith("-")]
    fs = dbutils.fs
    if command == "ls":
        return fs.ls(paths[0] if paths else "/")
    if command == "head" and len(paths) == 1:
        return fs.head(paths[0])
    if command == "mkdirs" and len(paths) == 1:
        return fs.mkdirs(paths[0])
    if command == "rm" and len(paths) == 1:
        return fs.rm(paths[0], recurse)
    if command in ("cp", "mv") and len(paths) == 2:
        move = fs.cp if command == "cp" else fs.mv
        return move(paths[0], paths[1], recurse)
    raise ValueError(f"%fs {source.strip()} is not supported: use ls, head, mkdirs, rm, cp or mv")


def resolve_run_target(notebook: Path, source: str) -> Path:
    """Return the file a ``%run ./other`` cell names, relative to the running notebook."""
    words = shlex.split(source.strip().splitlines()[0]) if source.strip() else []
    if not words:
        raise ValueError("%run needs the path of a notebook, such as: %run ./helpers")
    named = Path(words[0])
    base = named if named.is_absolute() else notebook.resolve().parent / named
    for suffix in _NOTEBOOK_SUFFIXES:
        candidate = base.with_name(base.name + suffix)
        if candidate.is_file():
            return candidate.resolve()
    raise FileNotFoundError(f"%run {words[0]}: no notebook at {base} (.py, .sql or .ipynb)")

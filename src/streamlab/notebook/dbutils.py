"""A local ``dbutils``: the file system, widget and notebook utilities a notebook calls.

Only what runs without a workspace is here: ``fs`` (``ls``, ``mkdirs``, ``rm``, ``put``,
``head``, ``cp``, ``mv``) on the lab root, ``widgets`` backed by ``--param KEY=VALUE``, and
``notebook.exit``. Paths map as :mod:`streamlab.notebook.paths` says. The signatures and
return values (camelCase included) follow Databricks' ``dbutils``, so the same code runs in
both places.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NamedTuple

from streamlab.notebook.paths import PathMapper


class NotebookExit(Exception):
    """Raised by ``dbutils.notebook.exit``: ends the run successfully with ``value``."""

    def __init__(self, value: str) -> None:
        super().__init__(value)
        self.value = value


class InputWidgetNotDefined(Exception):
    """``dbutils.widgets.get`` of a widget that is neither defined nor passed as a parameter."""


class FileInfo(NamedTuple):
    """One entry of ``dbutils.fs.ls``: as on Databricks, folders' paths and names end in ``/``."""

    path: str
    name: str
    size: int
    modificationTime: int
    """Milliseconds since the epoch."""

    def isDir(self) -> bool:
        """Whether the entry is a folder."""
        return self.name.endswith("/")

    def isFile(self) -> bool:
        """Whether the entry is a file."""
        return not self.isDir()


class FsUtils:
    """``dbutils.fs`` on the local disk, with DBFS and the guide's paths under the lab root."""

    def __init__(self, mapper: PathMapper) -> None:
        self._mapper = mapper

    def _local(self, path: str) -> Path:
        return self._mapper.local(path)

    def ls(self, dir: str) -> list[FileInfo]:
        """List a folder (or one file), sorted by name.

        >>> [f.name for f in dbutils.fs.ls("/tmp/streaming/events/")]  # doctest: +SKIP
        ['batch_0000/', 'batch_0001/']
        """
        local = self._local(dir)
        if not local.exists():
            raise FileNotFoundError(f"File {dir} does not exist.")
        entries = sorted(local.iterdir()) if local.is_dir() else [local]
        return [_info(entry) for entry in entries]

    def mkdirs(self, dir: str) -> bool:
        """Create a folder and its parents; a folder that exists is fine."""
        local = self._local(dir)
        if local.exists() and not local.is_dir():
            raise FileExistsError(f"Cannot create directory {dir}: a file exists there.")
        local.mkdir(parents=True, exist_ok=True)
        return True

    def rm(self, dir: str, recurse: bool = False) -> bool:
        """Remove a file, or a folder (``recurse=True`` unless empty); False if it was absent."""
        local = self._local(dir)
        if not local.exists() and not local.is_symlink():
            return False
        if local.is_dir() and not local.is_symlink():
            if any(local.iterdir()) and not recurse:
                raise OSError(f"Directory {dir} is not empty: pass recurse=True to remove it.")
            shutil.rmtree(local)
        else:
            local.unlink()
        return True

    def put(self, file: str, contents: str, overwrite: bool = False) -> bool:
        """Write ``contents`` (UTF-8) to a file, creating its folder."""
        local = self._local(file)
        if local.is_dir():
            raise IsADirectoryError(f"{file} is a directory.")
        if local.exists() and not overwrite:
            raise FileExistsError(f"File {file} already exists: pass overwrite=True.")
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_text(contents, encoding="utf-8")
        return True

    def head(self, file: str, maxBytes: int = 65536) -> str:
        """Return up to ``maxBytes`` bytes of a file, as text."""
        local = self._local(file)
        if not local.exists():
            raise FileNotFoundError(f"File {file} does not exist.")
        if local.is_dir():
            raise IsADirectoryError(f"{file} is a directory.")
        with local.open("rb") as handle:
            return handle.read(max(0, maxBytes)).decode("utf-8", "replace")

    def cp(self, from_: str, to: str, recurse: bool = False) -> bool:
        """Copy a file, or a folder with ``recurse=True``; into ``to`` when it is a folder."""
        source, target = self._local(from_), self._local(to)
        if not source.exists():
            raise FileNotFoundError(f"File {from_} does not exist.")
        if target.is_dir():
            target = target / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            if not recurse:
                raise OSError(f"{from_} is a directory: pass recurse=True to copy it.")
            shutil.copytree(source, target, dirs_exist_ok=True)
        else:
            shutil.copy2(source, target)
        return True

    def mv(self, from_: str, to: str, recurse: bool = False) -> bool:
        """Move a file or folder; into ``to`` when it is a folder."""
        source, target = self._local(from_), self._local(to)
        if not source.exists():
            raise FileNotFoundError(f"File {from_} does not exist.")
        if source.is_dir() and not recurse and any(source.iterdir()):
            raise OSError(f"{from_} is a directory: pass recurse=True to move it.")
        if target.is_dir():
            target = target / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(source), str(target))
        return True


def _info(entry: Path) -> FileInfo:
    stat = entry.stat()
    is_dir = entry.is_dir()
    suffix = "/" if is_dir else ""
    return FileInfo(
        path=f"file:{entry}{suffix}",
        name=entry.name + suffix,
        size=0 if is_dir else stat.st_size,
        modificationTime=int(stat.st_mtime * 1000),
    )


class WidgetsUtils:
    """``dbutils.widgets``: widgets defined by the notebook, values from ``--param``."""

    def __init__(self, params: Mapping[str, str] | None = None) -> None:
        self._params = dict(params or {})
        self._values: dict[str, str] = {}

    def _define(self, name: str, default: str, choices: Iterable[str] | None = None) -> None:
        value = self._params.get(name, default)
        if choices is not None:
            options = [str(c) for c in choices]
            wanted = [v.strip() for v in value.split(",")] if value else []
            unknown = [v for v in wanted if v not in options]
            if unknown and name in self._params:
                raise ValueError(
                    f"parameter {name}={value!r} is not one of the widget's choices: "
                    f"{', '.join(options)}"
                )
        self._values[name] = str(value)

    def text(self, name: str, defaultValue: str = "", label: str | None = None) -> None:
        """Define a text widget; ``--param name=VALUE`` sets it."""
        self._define(name, defaultValue)

    def dropdown(
        self, name: str, defaultValue: str, choices: Iterable[str], label: str | None = None
    ) -> None:
        """Define a dropdown widget; a ``--param`` value must be one of ``choices``."""
        self._define(name, defaultValue, choices)

    def combobox(
        self, name: str, defaultValue: str, choices: Iterable[str], label: str | None = None
    ) -> None:
        """Define a combobox widget: any value is allowed."""
        self._define(name, defaultValue)

    def multiselect(
        self, name: str, defaultValue: str, choices: Iterable[str], label: str | None = None
    ) -> None:
        """Define a multiselect widget; its value is the chosen items, comma-separated."""
        self._define(name, defaultValue, choices)

    def get(self, name: str) -> str:
        """Return a widget's value, or a parameter's value when no widget defines it."""
        if name in self._values:
            return self._values[name]
        if name in self._params:
            return self._params[name]
        raise InputWidgetNotDefined(f"No input widget named {name} is defined")

    def getArgument(self, name: str, optional: str | None = None) -> str | None:
        """Return a widget's value, else ``optional``."""
        try:
            return self.get(name)
        except InputWidgetNotDefined:
            return optional

    def getAll(self) -> dict[str, str]:
        """Return every widget's value, parameters included."""
        return {**self._params, **self._values}

    def remove(self, name: str) -> None:
        """Remove a widget."""
        if name not in self._values:
            raise InputWidgetNotDefined(f"No input widget named {name} is defined")
        del self._values[name]

    def removeAll(self) -> None:
        """Remove every widget."""
        self._values.clear()


class NotebookUtils:
    """``dbutils.notebook``: ``exit`` ends the run; other notebooks run with ``%run``."""

    def exit(self, value: object = "") -> None:
        """End the notebook here, successfully, returning ``value`` (as text)."""
        raise NotebookExit("" if value is None else str(value))

    def run(self, path: str, timeout_seconds: int = 0, arguments: object = None) -> str:
        """Not available locally: jobs need a workspace."""
        raise NotImplementedError(
            f"dbutils.notebook.run({path!r}) needs a Databricks workspace: "
            "use '%run' to include a notebook, or run it with 'streamlab notebook run'"
        )


class LibraryUtils:
    """``dbutils.library``: packages come from streamlab's environment, so nothing restarts."""

    def restartPython(self) -> None:
        """Do nothing: the packages a notebook uses must be installed beforehand."""


class DBUtils:
    """The ``dbutils`` object a notebook sees.

    >>> dbutils = DBUtils(Path("/tmp/lab"), {"day": "17"})
    >>> dbutils.widgets.get("day")
    '17'
    """

    def __init__(self, root: Path, params: Mapping[str, str] | None = None) -> None:
        self.fs = FsUtils(PathMapper(root))
        self.widgets = WidgetsUtils(params)
        self.notebook = NotebookUtils()
        self.library = LibraryUtils()

    def help(self) -> None:
        """Print what this local ``dbutils`` provides."""
        print(
            "dbutils (streamlab): fs.ls/mkdirs/rm/put/head/cp/mv, "
            "widgets.text/dropdown/combobox/multiselect/get/getArgument/getAll/remove/removeAll, "
            "notebook.exit, library.restartPython"
        )

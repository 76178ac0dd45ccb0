"""Where a notebook's paths land: the guide's ``/tmp/streaming`` and DBFS, on the lab root.

On Databricks, ``/tmp/streaming/...`` and ``dbfs:/...`` are DBFS paths. Locally they map to the
lab root:

- ``/tmp/streaming[/rest]``, ``dbfs:/tmp/streaming[/rest]``, ``/dbfs/tmp/streaming[/rest]`` and
  ``file:/tmp/streaming[/rest]`` map to ``<root>[/rest]``;
- any other ``dbfs:/rest`` or ``/dbfs/rest`` maps to ``<root>/dbfs/rest``, a local DBFS;
- every other path is a path of this machine, as Spark reads it.

``dbutils.fs`` maps its arguments at run time. Spark and plain Python only see strings, so the
runner also rewrites these paths where they appear in a cell's code before running it (string
literals, f-strings and SQL alike). A path built at run time from pieces (``"dbfs:" + p``) is not
rewritten: write it whole, or go through ``dbutils.fs``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from streamlab.errors import StreamlabError
from streamlab.lab.paths import DEFAULT_ROOT

_GUIDE = re.compile(
    r"(?<![\w/.:-])(?:dbfs:|file:|/dbfs)?" + re.escape(DEFAULT_ROOT) + r"(?![\w.-])"
)
_DBFS = re.compile(r"(?<![\w/.:-])(?:dbfs:/|/dbfs/)")
_UNSAFE = set("'\"\\{}\n\r`$")


@dataclass(frozen=True)
class PathMapper:
    """Maps the guide's and DBFS paths to folders under the lab root."""

    root: Path
    """The lab root (absolute)."""

    @property
    def dbfs(self) -> Path:
        """The local stand-in for the DBFS root (``dbfs:/``)."""
        return self.root / "dbfs"

    def local(self, path: str) -> Path:
        """Return the local path for a path as a notebook writes it.

        >>> PathMapper(Path("/lab")).local("dbfs:/tmp/streaming/events/")
        PosixPath('/lab/events')
        >>> PathMapper(Path("/lab")).local("dbfs:/mnt/raw")
        PosixPath('/lab/dbfs/mnt/raw')
        """
        text = str(path).strip()
        if not text:
            raise ValueError("a path is empty")
        text = text.removeprefix("file:")
        for prefix in ("dbfs:", "/dbfs"):
            if text == prefix or text.startswith(prefix + "/"):
                rest = text[len(prefix) :].lstrip("/")
                guide = DEFAULT_ROOT.lstrip("/")
                if rest == guide or rest.startswith(guide + "/"):
                    return self._under(self.root, rest[len(guide) :])
                return self._under(self.dbfs, rest)
        if text == DEFAULT_ROOT or text.startswith(DEFAULT_ROOT + "/"):
            return self._under(self.root, text[len(DEFAULT_ROOT) :])
        return Path(text).expanduser().absolute()

    @staticmethod
    def _under(base: Path, rest: str) -> Path:
        rest = rest.strip("/")
        return base / rest if rest else base

    def rewrite(self, code: str) -> str:
        """Return ``code`` with the guide's and DBFS paths replaced by their local folders.

        >>> PathMapper(Path("/lab")).rewrite('spark.read.json("/tmp/streaming/events/")')
        'spark.read.json("/lab/events/")'
        """
        root = str(self.root)
        if _GUIDE.search(code) or _DBFS.search(code):
            self.check_safe()
        code = _GUIDE.sub(lambda _m: root, code)
        return _DBFS.sub(lambda _m: f"{self.dbfs}/", code)

    def check_safe(self) -> None:
        """Fail when the root cannot be written inside a string literal of a cell's code."""
        bad = sorted(_UNSAFE & set(str(self.root)))
        if bad:
            raise StreamlabError(
                f"the lab root {self.root} contains {' '.join(bad)}, which cannot be written into "
                "a notebook's code: choose a --root without quotes, braces, backslashes or $"
            )

"""Reading a lab's landed batches into model rows, one ``batch_NNNN/`` folder per data batch.

Rows keep the order of their file, as Spark's file source reads them. Time columns are parsed
with the lab's format (``yyyy-MM-dd HH:mm:ss``, UTC); a value that does not parse becomes
invalid, as ``try_to_timestamp`` makes it NULL.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import orjson
import pandas as pd

from streamlab.errors import LabNotReadyError, StreamlabError
from streamlab.landing import landed_batches
from streamlab.model.events import Rows
from streamlab.paths import LabPaths
from streamlab.schemas import TIME_COLUMNS

_KEY_AND_GROUP = {
    "events": ("event_id", "event_type"),
    "impressions": ("impression_id", "impression_id"),
    "clicks": ("impression_id", "click_id"),
}
"""Per source: the model's ``key`` column and its ``group`` column (the click's own id)."""


def parse_times(
    values: Iterable[object],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Return ``(epoch ms, valid)`` for ``yyyy-MM-dd HH:mm:ss`` strings; others are invalid.

    >>> ms, ok = parse_times(["1970-01-01 00:00:01", "not a time", None])
    >>> ms.tolist(), ok.tolist()
    ([1000, 0, 0], [True, False, False])
    """
    parsed = pd.to_datetime(
        pd.Series(list(values), dtype=object), format="%Y-%m-%d %H:%M:%S", errors="coerce"
    )
    valid = parsed.notna().to_numpy()
    ns = parsed.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    ms = np.where(valid, ns // 1_000_000, 0).astype(np.int64)
    return ms, valid


def load_source(paths: LabPaths, source: str) -> Rows:
    """Return the rows of every landed batch of ``source``, in batch and file order."""
    numbers = landed_batches(paths, source)
    if not numbers:
        raise LabNotReadyError(
            f"no landed batches under {paths.source(source)}: run 'streamlab setup' first"
        )
    if numbers != list(range(len(numbers))):
        raise StreamlabError(
            f"the batches under {paths.source(source)} are not numbered 0..{len(numbers) - 1}: "
            "run 'streamlab setup --reset' to land them again"
        )
    key_col, group_col = _KEY_AND_GROUP[source]
    time_col = TIME_COLUMNS[source]
    batch: list[int] = []
    keys: list[object] = []
    groups: list[object] = []
    times: list[object] = []
    for b in numbers:
        for file in sorted(paths.batch(source, b).glob("part-*.json")):
            found = _columns(_read(file), (key_col, group_col, time_col))
            batch.extend([b] * len(found[0]))
            keys.extend(found[0])
            groups.extend(found[1])
            times.extend(found[2])
    ms, valid = parse_times(times)
    key = np.empty(len(keys), dtype=object)
    key[:] = keys
    group = np.empty(len(groups), dtype=object)
    group[:] = groups
    return Rows.from_arrays(
        np.asarray(batch, dtype=np.int64), ms, key, group, valid=valid, data_batches=len(numbers)
    )


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        raise StreamlabError(f"cannot read {file} ({exc.strerror}): check the lab root") from exc


def _columns(data: bytes, names: tuple[str, ...]) -> list[list[object]]:
    """Return the values of ``names`` for every JSON line of ``data``, in line order.

    streamlab writes its lines from a template with plain string values, so a pattern per
    column finds them fast; a file it cannot account for line by line (a NULL, an escape, a
    missing field) goes through the JSON parser instead.
    """
    text = data.decode("utf-8", "replace")
    lines = text.count("\n") + (0 if not text or text.endswith("\n") else 1)
    if "\\" not in text:
        quick: list[list[object]] = []
        for name in names:
            found = _pattern(name).findall(text)
            if len(found) != lines:
                break
            quick.append(found)
        else:
            return quick
    records = [orjson.loads(line) for line in data.split(b"\n") if line.strip()]
    return [[r.get(name) for r in records] for name in names]


@functools.cache
def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(f'"{re.escape(name)}":"([^"\\n]*)"')


def load_inputs(paths: LabPaths, sources: Iterable[str]) -> dict[str, Rows]:
    """Return the rows of each of ``sources``, landed batches aligned by number."""
    return {name: load_source(paths, name) for name in sources}

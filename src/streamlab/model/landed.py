"""Reading a lab's landed batches into model rows, one ``batch_NNNN/`` folder per data batch.

Rows keep the order of their file, as Spark's file source reads them. Time columns are parsed
with the lab's format (``yyyy-MM-dd HH:mm:ss``, UTC); a value that does not parse becomes
invalid, as ``try_to_timestamp`` makes it NULL.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt
import orjson

from streamlab.errors import LabNotReadyError, StreamlabError
from streamlab.ingest.rules import (
    TIME_COLUMNS,
    QuarantineConfig,
    classify_line,
    parse_time_text,
)
from streamlab.lab.paths import LabPaths
from streamlab.model.events import (
    BoolArray,
    IntArray,
    ObjArray,
    Rows,
    factorize,
    first_rows,
    objects,
)
from streamlab.raw.landing import landed_batches

_KEY_AND_GROUP = {
    "events": ("event_id", "event_type"),
    "impressions": ("impression_id", "ad_id"),
    "clicks": ("impression_id", "click_id"),
}
"""Per source: the model's ``key`` column and its ``group`` column (the impression's ad, the
click's own id)."""


_DIGITS = np.array([0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18])
"""Where ``yyyy-MM-dd HH:mm:ss`` has its digits; the rest are separators."""
_SEPARATORS = {4: ord("-"), 7: ord("-"), 10: ord(" "), 13: ord(":"), 16: ord(":")}
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def parse_times(
    values: Iterable[object],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """Return ``(epoch ms, valid)`` for ``yyyy-MM-dd HH:mm:ss`` strings; others are invalid.

    The same rule as :func:`streamlab.ingest.rules.parse_time_text`, on whole arrays: the
    19 characters are read as bytes, each field is checked for its range (a day within its
    month, leap years included; year 0 does not exist) and turned into days since the epoch
    by the civil calendar. Text that is not ASCII goes through the exact rule, one at a time.

    >>> ms, ok = parse_times(["1970-01-01 00:00:01", "not a time", None, "2024-02-30 00:00:00"])
    >>> ms.tolist(), ok.tolist()
    ([1000, 0, 0, 0], [True, False, False, False])
    """
    texts = list(values)
    n = len(texts)
    shaped = np.fromiter((isinstance(t, str) and len(t) == 19 for t in texts), bool, count=n)
    try:
        raw = np.array(
            [t if ok else "" for t, ok in zip(texts, shaped.tolist(), strict=True)], dtype="S19"
        )
    except UnicodeEncodeError:  # a value that is not ASCII: the exact rule for every value
        exact = [parse_time_text(t) if isinstance(t, str) else None for t in texts]
        return (
            np.array([m or 0 for m in exact], dtype=np.int64),
            np.array([m is not None for m in exact], dtype=bool),
        )
    chars = raw.view(np.uint8).reshape(n, 19) if n else np.zeros((0, 19), np.uint8)
    d = chars[:, _DIGITS].astype(np.int64) - ord("0")
    ok = shaped & ((d >= 0) & (d <= 9)).all(axis=1)
    for at, char in _SEPARATORS.items():
        ok &= chars[:, at] == char
    year = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
    month, day, hour, minute, second = (d[:, i] * 10 + d[:, i + 1] for i in range(4, 14, 2))
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _MONTH_DAYS[np.clip(month - 1, 0, 11)] + (leap & (month == 2))
    ok &= (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= month_days)
    ok &= (hour < 24) & (minute < 60) & (second < 60)
    # Days since 1970-01-01 of the proleptic Gregorian date (years counted from March).
    y = year - (month <= 2)
    era = y // 400
    of_era = y - era * 400
    day_of_year = (153 * ((month + 9) % 12) + 2) // 5 + day - 1
    days = era * 146_097 + of_era * 365 + of_era // 4 - of_era // 100 + day_of_year - 719_468
    seconds = ((days * 24 + hour) * 60 + minute) * 60 + second
    return np.where(ok, seconds * 1000, 0).astype(np.int64), ok


def load_source(paths: LabPaths, source: str, quarantine: QuarantineConfig | None = None) -> Rows:
    """Return the usable rows of every landed batch of ``source``, in batch and file order.

    Lines the pipelines quarantine (:mod:`streamlab.ingest.quarantine`) are left out, by the same
    rules, so the model sees exactly the records Spark's queries see. A file of the generator's
    exact lines is parsed once: its columns are cached by its content (:func:`_file_columns`).
    """
    cfg = quarantine or QuarantineConfig()
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
    # Each file's rows are filtered as it is read, so that only the kept rows of the files
    # read so far are held: at 10M events every extra copy of a column is 80 MB.
    batch: list[IntArray] = []
    ms: list[IntArray] = []
    key: list[ObjArray] = []
    group: list[ObjArray] = []
    for b in numbers:
        for file in sorted(paths.batch(source, b).glob("part-*.json")):
            found = _file_columns(paths, file, source, cfg)
            keep = found.time_ok
            if source == "events":
                # Both times must parse, and the event may not run ahead of its processing
                # time by more than the skew bound (quarantine.classify_line, vectorized).
                keep = keep & found.processing_ok
                if cfg.max_skew_ms is not None:
                    keep &= ~(
                        found.processing_ok
                        & (found.time_ms - found.processing_ms > cfg.max_skew_ms)
                    )
            index = slice(None) if keep.all() else np.flatnonzero(keep)
            ms.append(found.time_ms[index])
            key.append(found.key[index])
            group.append(found.group[index])
            batch.append(np.full(len(ms[-1]), b, dtype=np.int64))
            del found
    columns = []
    for parts, dtype in ((batch, np.int64), (ms, np.int64), (key, np.object_), (group, np.object_)):
        columns.append(_concat(parts, dtype))
        parts.clear()  # each column's pieces go as soon as it is whole
    return Rows.from_arrays(
        *columns,
        valid=np.ones(len(columns[0]), dtype=bool),
        data_batches=len(numbers),
    )


def _concat(arrays: list[npt.NDArray[Any]], dtype: type) -> npt.NDArray[Any]:
    return np.concatenate(arrays) if arrays else np.zeros(0, dtype=dtype)


@dataclass(frozen=True, eq=False)
class _FileColumns:
    """One landed file's usable records, as columns in line order; times parsed, not yet kept."""

    key: ObjArray
    group: ObjArray
    time_ms: IntArray
    time_ok: BoolArray
    processing_ms: IntArray
    processing_ok: BoolArray

    ARRAYS: ClassVar[tuple[str, ...]] = ("time_ms", "time_ok", "processing_ms", "processing_ok")

    @classmethod
    def parse(
        cls, key: list[object], group: list[object], times: list[object], processing: list[object]
    ) -> _FileColumns:
        ms, ok = parse_times(times)
        pms, pok = parse_times(processing)
        return cls(objects(key), objects(group), ms, ok, pms, pok)


def _file_columns(paths: LabPaths, file: Path, source: str, cfg: QuarantineConfig) -> _FileColumns:
    """Return ``file``'s columns: from the lab's cache of its content, else parsed.

    The cache (``<root>/cache/model/<source>-<sha256 of the file>.npz``) is named by the
    file's content, so an edited file is parsed again and a moved lab keeps its cache. Only a
    file of the generator's exact lines is cached: those lines pass or fail the quarantine by
    their times alone, which the caller applies, so one cache serves every quarantine setting.
    Any other file goes through the quarantine's rules each time.
    """
    data = _read(file)
    cache = paths.cache / "model" / f"{source}-{hashlib.sha256(data).hexdigest()[:40]}.npz"
    cached = _load_cache(cache)
    if cached is not None:
        return cached
    columns = _template_columns(data, source)
    if columns is not None:
        _store_cache(cache, columns)
        return columns
    return _FileColumns.parse(*_quarantined_columns(data, source, cfg))


_PIECE_BYTES = 8 << 20
"""How much of a landed file :func:`_template_columns` reads at a time (whole lines)."""


def _template_columns(data: bytes, source: str) -> _FileColumns | None:
    """Return the columns of a file of only the generator's exact lines; None for any other.

    The file is read a piece of whole lines at a time and each piece's times are parsed at
    once, so only one piece's text and matches exist at a time: a file of a million events
    would otherwise hold 0.7 GB of them. Blank lines are skipped, as Spark's query does.
    """
    parts: list[_FileColumns] = []
    at = 0
    while at < len(data):
        end = data.find(b"\n", min(at + _PIECE_BYTES, len(data) - 1))
        end = len(data) if end < 0 else end + 1
        text = data[at:end].decode("utf-8", "replace")
        at = end
        found = _LINES[source].findall(text)
        lines = text.count("\n") + (not text.endswith("\n"))
        if len(found) != lines and len(found) != sum(1 for x in text.split("\n") if x.strip()):
            return None
        parts.append(_FileColumns.parse(*_from_template(source, found)))
        del text, found
    if not parts:  # an empty file: no lines, all of them the generator's
        parts.append(_FileColumns.parse([], [], [], []))
    return _FileColumns(
        *(_concat([getattr(p, name) for p in parts], np.object_) for name in ("key", "group")),
        *(np.concatenate([getattr(p, name) for p in parts]) for name in _FileColumns.ARRAYS),
    )


def _store_cache(cache: Path, columns: _FileColumns) -> None:
    """Write ``columns`` to ``cache`` atomically; a lab that cannot be written goes uncached.

    Text is stored as UTF-8 joined by newlines (the generator's values hold none). A column of
    few distinct values (the event type) is stored once per value, with each row's code; any
    other in row order, so that its strings are read back in the order they are used.
    """
    arrays: dict[str, npt.NDArray[Any]] = {
        name: getattr(columns, name) for name in _FileColumns.ARRAYS
    }
    for name in ("key", "group"):
        column = getattr(columns, name)
        codes = factorize(column)
        distinct = first_rows(codes)
        if len(distinct) * 2 <= len(column):
            arrays[f"{name}_codes"] = codes.astype(np.int32)
            column = column[distinct]
        arrays[f"{name}_text"] = np.frombuffer("\n".join(column.tolist()).encode(), np.uint8)
    tmp = cache.with_name(f".{cache.stem}.{os.getpid()}.tmp")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        with tmp.open("wb") as out:
            np.savez(out, allow_pickle=False, **arrays)
        os.replace(tmp, cache)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def _load_cache(cache: Path) -> _FileColumns | None:
    """Return the columns stored in ``cache``, or None if it is absent or cannot be read."""
    try:
        with np.load(cache, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
        n = len(arrays["time_ms"])
        strings = {}
        for name in ("key", "group"):
            codes = arrays.get(f"{name}_codes")
            text = arrays[f"{name}_text"].tobytes().decode()
            count = n if codes is None else int(codes.max()) + 1 if len(codes) else 0
            values = objects(text.split("\n") if count else [])
            if len(values) != count:
                return None
            strings[name] = values if codes is None else values[codes]
        return _FileColumns(
            key=strings["key"],
            group=strings["group"],
            **{name: arrays[name] for name in _FileColumns.ARRAYS},
        )
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):
        return None  # absent, or cut short: parsed again and rewritten


def _read(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except OSError as exc:
        raise StreamlabError(f"cannot read {file} ({exc.strerror}): check the lab root") from exc


_LINES = {
    "events": re.compile(
        r'^\{"event_id":"([^"\\\n]*)","user_id":"[^"\\\n]*","event_type":"([^"\\\n]*)",'
        r'"value":-?\d+(?:\.\d+)?,"event_time":"([^"\\\n]*)","processing_time":"([^"\\\n]*)"\}$',
        re.M,
    ),
    "impressions": re.compile(
        r'^\{"impression_id":"([^"\\\n]*)","ad_id":"([^"\\\n]*)","user_id":"[^"\\\n]*",'
        r'"impression_time":"([^"\\\n]*)"\}$',
        re.M,
    ),
    "clicks": re.compile(
        r'^\{"click_id":"([^"\\\n]*)","impression_id":"([^"\\\n]*)","click_time":"([^"\\\n]*)"\}$',
        re.M,
    ),
}
"""The exact lines streamlab's generator writes: a file of only these skips the JSON parser."""


def _quarantined_columns(data: bytes, source: str, cfg: QuarantineConfig) -> list[list[object]]:
    """Return the key, group, time and processing time of every usable record of ``data``.

    For a file with any line not of the generator's shape: each line goes through the
    quarantine's rules and the JSON parser. Values are in line order, times as text; the
    caller parses them and applies the time rules.
    """
    lines = [line for line in data.decode("utf-8", "replace").split("\n") if line.strip()]
    records = []
    for line in lines:
        reason = classify_line(source, line, cfg)
        if reason is None:
            records.append(orjson.loads(line))
    key_col, group_col = _KEY_AND_GROUP[source]
    names = (key_col, group_col, TIME_COLUMNS[source], "processing_time")
    return [[_text(r.get(name)) for r in records] for name in names]


def _from_template(source: str, found: list[tuple[str, ...]]) -> list[list[object]]:
    if source == "events":  # event_id, event_type, event_time, processing_time
        return [
            [f[0] for f in found],
            [f[1] for f in found],
            [f[2] for f in found],
            [f[3] for f in found],
        ]
    if source == "impressions":  # impression_id, ad_id, impression_time
        return [
            [f[0] for f in found],
            [f[1] for f in found],
            [f[2] for f in found],
            [None] * len(found),
        ]
    # clicks: key is the impression, group the click's own id
    return [
        [f[1] for f in found],
        [f[0] for f in found],
        [f[2] for f in found],
        [None] * len(found),
    ]


def _text(value: object) -> object:
    """Render a JSON value as Spark reads it into a string column."""
    if value is None or isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def load_inputs(paths: LabPaths, sources: Iterable[str]) -> dict[str, Rows]:
    """Return the rows of each of ``sources``, landed batches aligned by number."""
    return {name: load_source(paths, name) for name in sources}

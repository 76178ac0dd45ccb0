"""Reading a lab's landed batches into model rows, one ``batch_NNNN/`` folder per data batch.

Rows keep the order of their file, as Spark's file source reads them. Time columns are parsed
with the lab's format (``yyyy-MM-dd HH:mm:ss``, UTC); a value that does not parse becomes
invalid, as ``try_to_timestamp`` makes it NULL.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

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
from streamlab.model.events import Rows
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
    rules, so the model sees exactly the records Spark's queries see.
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
    key_col, group_col = _KEY_AND_GROUP[source]
    time_col = TIME_COLUMNS[source]
    names = (key_col, group_col, time_col, "processing_time")
    batch: list[int] = []
    columns: list[list[object]] = [[], [], [], []]
    for b in numbers:
        for file in sorted(paths.batch(source, b).glob("part-*.json")):
            found = _columns(_read(file), source, names, cfg)
            batch.extend([b] * len(found[0]))
            for column, values in zip(columns, found, strict=True):
                column.extend(values)
    ms, valid = parse_times(columns[2])
    keep = valid
    if source == "events":
        # Both times must parse, and the event may not run ahead of its processing time by
        # more than the skew bound (quarantine.classify_line, vectorized).
        processing, processing_ok = parse_times(columns[3])
        keep = valid & processing_ok
        if cfg.max_skew_ms is not None:
            keep &= ~(processing_ok & (ms - processing > cfg.max_skew_ms))
    index = np.flatnonzero(keep)
    key = np.empty(len(index), dtype=object)
    key[:] = [columns[0][i] for i in index.tolist()]
    group = np.empty(len(index), dtype=object)
    group[:] = [columns[1][i] for i in index.tolist()]
    return Rows.from_arrays(
        np.asarray(batch, dtype=np.int64)[index],
        ms[index],
        key,
        group,
        valid=np.ones(len(index), dtype=bool),
        data_batches=len(numbers),
    )


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


def _columns(
    data: bytes, source: str, names: tuple[str, ...], cfg: QuarantineConfig
) -> list[list[object]]:
    """Return the values of ``names`` for every usable record of ``data``, in line order.

    Times are returned as text; the caller parses them and applies the time rules. A file
    whose every line has the generator's exact shape is read with one pattern; any other
    goes line by line through the quarantine's rules and the JSON parser.
    """
    text = data.decode("utf-8", "replace")
    found = _LINES[source].findall(text)
    if len(found) == text.count("\n") + (not text.endswith("\n") and bool(text)):
        return _from_template(source, found)  # every line matched: no blank line either
    lines = [line for line in text.split("\n") if line.strip()]
    if len(found) == len(lines):
        return _from_template(source, found)
    records = []
    for line in lines:
        reason = classify_line(source, line, cfg)
        if reason is None:
            records.append(orjson.loads(line))
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

"""Deterministic generators for the guide's events, impressions and clicks (Steps 2 and 3).

Each batch is drawn from its own random stream, seeded by ``(seed, data set, batch)``, so the
same configuration gives byte-identical files and a lab can be extended with more batches
without changing the ones already written. Columns are drawn with numpy and formatted through
lookup tables; every string is built from a fixed alphabet (digits, letters, ``-: _``), so the
JSON lines are written from a template without escaping.

Times are whole seconds, UTC. Batch ``b`` happens at ``base_time + b * batch_interval``; its
on-time events fall in the last ``recent`` seconds before it and its late events
``lateness_min`` to ``lateness_max`` seconds before it, as in the guide.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from streamlab.errors import StreamlabError
from streamlab.raw.config import BAD_KINDS, GeneratorConfig, format_time, parse_base_time

EVENT_TYPES = ("page_view", "click", "purchase", "add_to_cart", "search")
"""The guide's five event types."""

_BAD_TIMES = ("2026-02-30 25:61:00", "yesterday", "09:00", "1/2/2026 10:00", "")

_STREAM_EVENTS, _STREAM_IMPRESSIONS, _STREAM_CLICKS = 1, 2, 3
IntArray = npt.NDArray[np.int64]

__all__ = ["BAD_KINDS", "EVENT_TYPES", "Batch", "GeneratorConfig", "generate", "parse_base_time"]


@dataclass(frozen=True)
class Batch:
    """One generated batch of one data set: its JSON lines and what was injected into it."""

    source: str
    """``events``, ``impressions`` or ``clicks``."""
    batch: int
    """The batch number."""
    lines: bytes
    """The JSON lines, one record a line, newline-terminated."""
    manifest: dict[str, Any]
    """Counts and ids of what was injected: late events, duplicates, orphan clicks."""


# --- columns -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _EventColumns:
    seconds: IntArray  # event time, epoch seconds
    user: IntArray
    kind: IntArray
    cents: IntArray
    late: npt.NDArray[np.bool_]


@dataclass(frozen=True)
class _ImpressionColumns:
    seconds: IntArray
    ad: IntArray
    user: IntArray


def _epoch(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp())


def _rng(cfg: GeneratorConfig, stream: int, batch: int) -> np.random.Generator:
    return np.random.default_rng([cfg.seed, stream, batch])


def _event_columns(cfg: GeneratorConfig, batch: int) -> _EventColumns:
    rng = _rng(cfg, _STREAM_EVENTS, batch)
    n = cfg.events_per_batch
    late = np.zeros(n, dtype=bool)
    late[rng.choice(n, size=round(n * cfg.late_share), replace=False)] = True
    offsets = np.where(
        late,
        rng.integers(cfg.lateness_min, cfg.lateness_max + 1, size=n),
        rng.integers(0, cfg.recent, size=n),
    )
    return _EventColumns(
        seconds=_epoch(cfg.batch_time(batch)) - offsets,
        user=rng.integers(1, cfg.users + 1, size=n),
        kind=rng.integers(0, len(EVENT_TYPES), size=n),
        cents=rng.integers(100, 10_001, size=n),
        late=late,
    )


def _impression_columns(cfg: GeneratorConfig, batch: int) -> _ImpressionColumns:
    rng = _rng(cfg, _STREAM_IMPRESSIONS, batch)
    m = cfg.impressions_per_batch
    return _ImpressionColumns(
        seconds=_epoch(cfg.batch_time(batch)) - rng.integers(0, cfg.impression_spread + 1, size=m),
        ad=rng.integers(1, cfg.ads + 1, size=m),
        user=rng.integers(1, cfg.users + 1, size=m),
    )


# --- formatting ----------------------------------------------------------------------------


@cache
def _numbers(width: int, count: int) -> list[str]:
    return [f"{i:0{width}d}" for i in range(count)]


@cache
def _values() -> list[str]:
    return [f"{c // 100}.{c % 100:02d}" for c in range(10_001)]


def _times(seconds: IntArray) -> list[str]:
    """Format epoch seconds as ``yyyy-MM-dd HH:mm:ss``, once per distinct second."""
    unique, inverse = np.unique(seconds, return_inverse=True)
    text = np.datetime_as_string(unique.astype("datetime64[s]"), unit="s")
    table = np.array([t.replace("T", " ") for t in text.tolist()], dtype=object)
    result: list[str] = table[inverse].tolist()
    return result


def _ids(prefix: str, batch: int, count: int) -> list[str]:
    head = f"{prefix}{batch:04d}"
    return [head + s for s in _numbers(4, count)]


def _pick(table: list[str], index: IntArray) -> list[str]:
    return [table[i] for i in index.tolist()]


# --- batches -------------------------------------------------------------------------------

_EVENT_LINE = (
    '{"event_id":"EVT%s","user_id":"USER%s","event_type":"%s","value":%s,'
    '"event_time":"%s","processing_time":"@"}'
)
_IMPRESSION_LINE = (
    '{"impression_id":"IMP%s","ad_id":"AD%s","user_id":"USER%s","impression_time":"%s"}'
)
_CLICK_LINE = '{"click_id":"%s","impression_id":"%s","click_time":"%s"}'


class _Cache:
    """The columns of the last few batches, which duplicates and clicks refer back to."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        self.cfg = cfg
        self._events: dict[int, _EventColumns] = {}
        self._impressions: dict[int, _ImpressionColumns] = {}

    def events(self, batch: int) -> _EventColumns:
        if batch not in self._events:
            self._events[batch] = _event_columns(self.cfg, batch)
            _forget_before(self._events, batch - 2)
        return self._events[batch]

    def impressions(self, batch: int) -> _ImpressionColumns:
        if batch not in self._impressions:
            self._impressions[batch] = _impression_columns(self.cfg, batch)
            _forget_before(self._impressions, batch - 2)
        return self._impressions[batch]


def _forget_before(store: dict[int, Any], first: int) -> None:
    for old in [b for b in store if b < first]:
        del store[old]


def _event_batch(cfg: GeneratorConfig, cache_: _Cache, batch: int) -> Batch:
    rng = _rng(cfg, _STREAM_EVENTS + 10, batch)
    n = cfg.events_per_batch
    first = max(0, batch - 2)
    # Re-sent events: copies of events of this batch or one of the two before it.
    n_dup = round(n * cfg.duplicate_share)
    picks = rng.choice((batch + 1 - first) * n, size=n_dup, replace=False)
    dup_batch, dup_index = np.divmod(picks.astype(np.int64), n)
    dup_batch += first
    row_batch = np.concatenate([np.full(n, batch, dtype=np.int64), dup_batch])
    row_index = np.concatenate([np.arange(n, dtype=np.int64), dup_index])
    order = rng.permutation(len(row_index))
    row_batch, row_index = row_batch[order], row_index[order]

    def gather(column: str) -> IntArray:
        out = np.empty(len(row_index), dtype=np.int64)
        for a in range(first, batch + 1):
            mask = row_batch == a
            out[mask] = getattr(cache_.events(a), column)[row_index[mask]]
        return out

    numbers = _numbers(4, max(n, batch + 1))
    processing = format_time(cfg.batch_time(batch))
    columns = [
        [
            f"{numbers[a]}{numbers[i]}"
            for a, i in zip(row_batch.tolist(), row_index.tolist(), strict=True)
        ],
        _pick(_numbers(3, cfg.users + 1), gather("user")),
        _pick(list(EVENT_TYPES), gather("kind")),
        _pick(_values(), gather("cents")),
        _times(gather("seconds")),
    ]
    lines = _format(_EVENT_LINE.replace("@", processing), columns)
    lines, bad = _inject_bad(cfg, batch, lines)
    own_late = np.flatnonzero(cache_.events(batch).late).tolist()
    manifest = {
        "source": "events",
        "batch": batch,
        "batch_time": processing,
        "rows": len(order),
        "events": n,
        "late": [f"EVT{batch:04d}{i:04d}" for i in own_late],
        "duplicates": [
            {"event_id": f"EVT{a:04d}{i:04d}", "original_batch": a}
            for a, i in sorted(zip(dup_batch.tolist(), dup_index.tolist(), strict=True))
        ],
        "bad": bad,
    }
    return Batch("events", batch, lines, manifest)


def _inject_bad(
    cfg: GeneratorConfig, batch: int, lines: bytes
) -> tuple[bytes, list[dict[str, str]]]:
    """Insert the bad records asked for at random places; return the lines and what was put in.

    Each bad record has an id of its own, ``EVT<batch>X<k>``, never a valid event's.
    """
    counts = {
        kind: round(cfg.events_per_batch * getattr(cfg, share)) for kind, share in BAD_KINDS.items()
    }
    if not any(counts.values()):
        return lines, []
    rng = _rng(cfg, _STREAM_EVENTS + 20, batch)
    now = _epoch(cfg.batch_time(batch))
    processing = format_time(cfg.batch_time(batch))
    bad: list[dict[str, str]] = []
    for kind, count in counts.items():
        for _ in range(count):
            record = {
                "event_id": f"EVT{batch:04d}X{len(bad):03d}",
                "user_id": f"USER{int(rng.integers(1, cfg.users + 1)):03d}",
                "event_type": EVENT_TYPES[int(rng.integers(0, len(EVENT_TYPES)))],
                "value": f"{int(rng.integers(100, 10_001)) / 100:.2f}",
                "event_time": _fmt_epoch(now - int(rng.integers(0, cfg.recent))),
                "processing_time": processing,
            }
            if kind == "missing_field":
                del record["event_time" if len(bad) % 2 == 0 else "event_id"]
            elif kind == "bad_timestamp":
                record["event_time"] = _BAD_TIMES[int(rng.integers(0, len(_BAD_TIMES)))]
            elif kind == "clock_skew":
                lead = int(rng.integers(cfg.future_min, cfg.future_max + 1))
                record["event_time"] = _fmt_epoch(now + lead)
            text = (
                "{"
                + ",".join(
                    f'"{k}":{v}' if k == "value" else f'"{k}":"{v}"' for k, v in record.items()
                )
                + "}"
            )
            if kind == "malformed_json":
                # Cut inside the record: a truncated line is never valid JSON.
                text = text[: int(rng.integers(1, len(text) - 1))]
            bad.append({"reason": kind, "raw": text})
    rows = lines.decode().splitlines()
    for entry in bad:
        rows.insert(int(rng.integers(0, len(rows) + 1)), entry["raw"])
    return ("\n".join(rows) + "\n").encode(), bad


def _fmt_epoch(seconds: int) -> str:
    return format_time(datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None))


def _impression_batch(cfg: GeneratorConfig, cache_: _Cache, batch: int) -> Batch:
    cols = cache_.impressions(batch)
    m = cfg.impressions_per_batch
    lines = _format(
        _IMPRESSION_LINE,
        [
            _ids("", batch, m),
            _pick(_numbers(3, cfg.ads + 1), cols.ad),
            _pick(_numbers(3, cfg.users + 1), cols.user),
            _times(cols.seconds),
        ],
    )
    manifest = {
        "source": "impressions",
        "batch": batch,
        "batch_time": format_time(cfg.batch_time(batch)),
        "rows": m,
    }
    return Batch("impressions", batch, lines, manifest)


def _click_batch(cfg: GeneratorConfig, cache_: _Cache, batch: int) -> Batch:
    rng = _rng(cfg, _STREAM_CLICKS, batch)
    k, m = cfg.clicks_per_batch, cfg.impressions_per_batch
    now = _epoch(cfg.batch_time(batch))
    orphan = np.zeros(k, dtype=bool)
    orphan[rng.choice(k, size=round(k * cfg.orphan_share), replace=False)] = True
    first = max(0, batch - 2)
    # A click refers to an impression of this batch or one of the two before it (the guide).
    picks = rng.choice((batch + 1 - first) * m, size=int((~orphan).sum()), replace=False)
    targets: list[str] = []
    seconds = np.empty(k, dtype=np.int64)
    real = iter(picks.tolist())
    fraction = rng.random(size=k)
    orphan_batch = rng.integers(first, batch + 1, size=k)
    orphan_index = rng.integers(m, m + 1000, size=k)
    recent = rng.integers(0, cfg.recent, size=k)
    for c in range(k):
        if orphan[c]:
            targets.append(f"IMP{orphan_batch[c]:04d}{orphan_index[c]:04d}")
            seconds[c] = now - recent[c]
            continue
        a, i = divmod(next(real), m)
        a += first
        shown = int(cache_.impressions(a).seconds[i])
        # The guide's data summary promises clicks within 10 minutes after the impression;
        # a click never happens after the batch that carries it.
        reach = min(cfg.click_window, now - shown)
        seconds[c] = shown + int(fraction[c] * (reach + 1))
        targets.append(f"IMP{a:04d}{i:04d}")
    ids = _ids("CLK", batch, k)
    lines = _format(_CLICK_LINE, [ids, targets, _times(seconds)])
    manifest = {
        "source": "clicks",
        "batch": batch,
        "batch_time": format_time(cfg.batch_time(batch)),
        "rows": k,
        "orphans": [ids[c] for c in np.flatnonzero(orphan).tolist()],
    }
    return Batch("clicks", batch, lines, manifest)


def _format(template: str, columns: list[list[str]]) -> bytes:
    """Fill ``template`` once per row, in one ``%`` over the whole batch (a C-level loop)."""
    rows = len(columns[0])
    if rows == 0:
        return b""
    flat = [value for row in zip(*columns, strict=True) for value in row]
    return (("\n".join([template] * rows) + "\n") % tuple(flat)).encode()


GENERATORS = {"events": _event_batch, "impressions": _impression_batch, "clicks": _click_batch}


def generate(
    cfg: GeneratorConfig,
    sources: tuple[str, ...] = ("events", "impressions", "clicks"),
    batches: range | None = None,
) -> Iterator[Batch]:
    """Yield every batch of ``sources``, in batch order, for ``batches`` (default: all).

    >>> cfg = GeneratorConfig(batches=1, events_per_batch=2, duplicate_share=0)
    >>> [b.manifest["rows"] for b in generate(cfg)]
    [2, 50, 10]
    """
    for name in sources:
        if name not in GENERATORS:
            raise StreamlabError(f"unknown source {name!r}: choose events, impressions or clicks")
    cache_ = _Cache(cfg)
    for batch in batches if batches is not None else range(cfg.batches):
        for name in sources:
            yield GENERATORS[name](cfg, cache_, batch)

"""The data an exercise is checked on: a lab's landed batches, or a freshly generated variant.

Each source is a list of batches, each a list of records, exactly as Spark's readers see them:
lines the quarantine sets aside (:mod:`streamlab.ingest.rules`) are left out, times are parsed
with the lab's format into naive UTC datetimes. ``raw`` keeps the same records with their
times as the landed text, for the exercises that read the stream themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson

from streamlab.errors import LabNotReadyError
from streamlab.ingest.rules import FIELDS, classify_line, parse_time_text, time_columns
from streamlab.lab.paths import LabPaths
from streamlab.raw.config import GeneratorConfig
from streamlab.raw.landing import DATA_FILE, landed_batches, read_lab

SOURCES = ("events", "impressions", "clicks")
"""The lab's data sets an exercise can take as inputs."""

_DDL = {"string": "string", "double": "double"}


def input_schema(source: str, *, raw: bool = False) -> str:
    """Return the DDL schema ``source`` reaches a ``solve`` with: times typed unless ``raw``.

    >>> input_schema("clicks")
    'click_id string, impression_id string, click_time timestamp'
    """
    times = set(time_columns(source))
    cols = [
        f"{name} {'timestamp' if name in times and not raw else _DDL[kind]}"
        for name, kind in FIELDS[source]
    ]
    return ", ".join(cols)


@dataclass(frozen=True)
class LabData:
    """Every batch of every source of one lab, as records."""

    label: str
    """Where the data comes from, for messages: ``the lab (seed 17)``."""
    config: GeneratorConfig
    """The generator settings of the data."""
    batches: dict[str, list[list[dict[str, Any]]]] = field(default_factory=dict)
    """Per source: each batch's usable records, times as naive UTC datetimes."""
    raw: dict[str, list[list[dict[str, Any]]]] = field(default_factory=dict)
    """The same records with their times as landed text."""

    @property
    def count(self) -> int:
        """The number of batches (of events)."""
        return len(self.batches.get("events", []))

    def records(self, source: str) -> Iterator[tuple[int, dict[str, Any]]]:
        """Yield ``(batch, record)`` for every record of ``source`` in landing order."""
        for number, rows in enumerate(self.batches[source]):
            for r in rows:
                yield number, r


def _parse(
    source: str, lines: Iterable[bytes]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    typed: list[dict[str, Any]] = []
    raw: list[dict[str, Any]] = []
    times = time_columns(source)
    names = [n for n, _ in FIELDS[source]]
    for line in lines:
        text = line.decode("utf-8", errors="replace").strip()
        reason = classify_line(source, text) if text else "empty"
        if reason not in (None, "bad_timestamp"):
            continue
        data = orjson.loads(text)
        record = {n: data.get(n) for n in names}
        raw.append(dict(record))
        if reason == "bad_timestamp":
            continue  # landed as text, so a reading exercise meets it; never a typed record
        for col in times:
            ms = parse_time_text(record[col])
            record[col] = (
                None if ms is None else datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)
            )
        typed.append(record)
    return typed, raw


def load_lab(paths: LabPaths) -> LabData:
    """Return the landed batches of the lab at ``paths``; one line if it has none."""
    cfg = read_lab(paths)
    if cfg is None or not landed_batches(paths, "events"):
        raise LabNotReadyError(
            f"no lab at {paths.root}: run 'streamlab setup' (or 'streamlab lab') first, "
            "or pass --root"
        )
    batches: dict[str, list[list[dict[str, Any]]]] = {}
    raw: dict[str, list[list[dict[str, Any]]]] = {}
    for source in SOURCES:
        batches[source], raw[source] = [], []
        for n in landed_batches(paths, source):
            typed, text = _parse(source, (paths.batch(source, n) / DATA_FILE).open("rb"))
            batches[source].append(typed)
            raw[source].append(text)
    return LabData(f"the lab (seed {cfg.seed})", cfg, batches, raw)


def generate_lab(cfg: GeneratorConfig, label: str) -> LabData:
    """Return the batches ``cfg`` generates, in memory (nothing is written)."""
    from streamlab.raw.generator import generate

    batches: dict[str, list[list[dict[str, Any]]]] = {s: [] for s in SOURCES}
    raw: dict[str, list[list[dict[str, Any]]]] = {s: [] for s in SOURCES}
    for b in generate(cfg):
        typed, text = _parse(b.source, b.lines.splitlines())
        batches[b.source].append(typed)
        raw[b.source].append(text)
    return LabData(label, cfg, batches, raw)


VARIANT_SEED_OFFSET = 1000
"""The variant lab's seed is the lab's plus this."""
VARIANT_BATCHES = 8
"""At most this many batches in the variant lab: enough for windows to close behind 30 min."""
VARIANT_BAD_TIME_SHARE = 0.1
"""At least this share of the variant lab's events land with an event time that does not parse."""


def variant_config(cfg: GeneratorConfig) -> GeneratorConfig:
    """Return the settings of the variant lab: another seed, other lateness, a smaller size.

    A few of its events land with event times that do not parse: only the exercise that reads
    the landed text meets them, and must not fail on them.

    >>> v = variant_config(GeneratorConfig())
    >>> (v.seed, v.lateness_min, v.lateness_max, v.batches, v.bad_time_share)
    (1017, 420, 1500, 8, 0.1)
    """
    # Lateness moves inward by two minutes and out by... less: the exercises' delays (5, 10
    # and 30 minutes) then split the late events differently than on the lab itself.
    lo = min(cfg.lateness_min + 120, cfg.lateness_max)
    hi = max(lo, cfg.lateness_max - 300)
    return replace(
        cfg,
        seed=cfg.seed + VARIANT_SEED_OFFSET,
        lateness_min=lo,
        lateness_max=hi,
        batches=min(cfg.batches, VARIANT_BATCHES),
        events_per_batch=max(10, min(cfg.events_per_batch, 40)),
        impressions_per_batch=max(5, min(cfg.impressions_per_batch, 20)),
        clicks_per_batch=max(4, min(cfg.clicks_per_batch, 8)),
        bad_time_share=max(cfg.bad_time_share, VARIANT_BAD_TIME_SHARE),
    )

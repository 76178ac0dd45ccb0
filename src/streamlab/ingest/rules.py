"""The sources' fields and the quarantine's rules in plain Python, without Spark.

The model reads the landed files with these rules and :mod:`.quarantine` applies the same rules
in Spark; ``tests/test_quarantine_rules.py`` proves the two agree line for line. Every landed
line is either a record or exactly one of :data:`REASONS`:

- ``malformed_json``: the line is not a JSON object of the schema's types;
- ``missing_field``: a required field (an id, a time) is absent or null;
- ``bad_timestamp``: the time is there but does not parse as ``yyyy-MM-dd HH:mm:ss``;
- ``clock_skew``: an event's time is further ahead of its processing time than the skew bound
  allows. A clock that runs ahead would push the watermark forward and make on-time data late.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from streamlab.settings import PipelineConfig

FieldType = Literal["string", "double"]

FIELDS: dict[str, tuple[tuple[str, FieldType], ...]] = {
    "events": (
        ("event_id", "string"),
        ("user_id", "string"),
        ("event_type", "string"),
        ("value", "double"),
        ("event_time", "string"),
        ("processing_time", "string"),
    ),
    "impressions": (
        ("impression_id", "string"),
        ("ad_id", "string"),
        ("user_id", "string"),
        ("impression_time", "string"),
    ),
    "clicks": (
        ("click_id", "string"),
        ("impression_id", "string"),
        ("click_time", "string"),
    ),
}
"""The fields of each generated source as landed (times as text), in file order."""

TIME_FORMAT = "yyyy-MM-dd HH:mm:ss"
"""How event_time, processing_time, impression_time and click_time are written (UTC)."""

TIME_COLUMNS: dict[str, str] = {
    "events": "event_time",
    "impressions": "impression_time",
    "clicks": "click_time",
}
"""The event-time column of each source."""

REASONS = ("malformed_json", "missing_field", "bad_timestamp", "clock_skew")
"""Why a line is not a record, in the order they are checked."""

REQUIRED: dict[str, tuple[str, ...]] = {
    "events": ("event_id", "event_time"),
    "impressions": ("impression_id", "impression_time"),
    "clicks": ("click_id", "impression_id", "click_time"),
}
"""Fields without which a record is quarantined."""

DEFAULT_MAX_SKEW_MS = PipelineConfig.max_skew_ms
"""How far ahead of its processing time an event may be, by default (the pipelines' setting)."""


@dataclass(frozen=True)
class QuarantineConfig:
    """How strict the quarantine is."""

    max_skew_ms: int | None = DEFAULT_MAX_SKEW_MS
    """How far an event's time may run ahead of its processing time before it is quarantined
    as clock skew; ``None`` turns the guard off."""


def time_columns(source: str) -> list[str]:
    """Return the columns of ``source`` that hold times: its event time, and processing time."""
    column = TIME_COLUMNS[source]
    return [column, "processing_time"] if source == "events" else [column]


TIME_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
"""The shape of :data:`TIME_FORMAT` text; only text of this shape can parse."""
_NON_NUMERIC = {"NaN", "Infinity", "+Infinity", "-Infinity", "+INF", "-INF", "INF"}


def _spark_string(value: object) -> str | None:
    """Return what Spark's JSON reader makes of ``value`` for a string field."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    # Any other JSON value is kept as its JSON text (JacksonParser, StringType converter).
    return json.dumps(value, separators=(",", ":"))


def parse_time_text(text: str | None) -> int | None:
    """Return epoch milliseconds for ``yyyy-MM-dd HH:mm:ss`` text, or ``None`` as Spark would."""
    if text is None or not TIME_PATTERN.fullmatch(text):
        return None
    try:
        moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(moment.timestamp()) * 1000


def classify_line(source: str, line: str, cfg: QuarantineConfig | None = None) -> str | None:
    """Return why ``line`` is quarantined (a reason of :data:`REASONS`), or ``None`` if usable.

    The same rules as :func:`classify`, for code that reads the landed files without Spark.
    Blank lines are not records; callers skip them.

    >>> classify_line("clicks", '{"click_id":"C1","impression_id":"I1","click_time":"noon"}')
    'bad_timestamp'
    """
    cfg = cfg or QuarantineConfig()
    try:
        record = json.loads(line)
    except ValueError:
        return "malformed_json"
    if not isinstance(record, dict):
        return "malformed_json"
    for name, kind in FIELDS[source]:
        value = record.get(name)
        if kind == "double" and value is not None:
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if not numeric and not (isinstance(value, str) and value in _NON_NUMERIC):
                return "malformed_json"
    texts = {name: _spark_string(record.get(name)) for name, _ in FIELDS[source]}
    if any(texts[name] is None for name in REQUIRED[source]):
        return "missing_field"
    times = time_columns(source)
    parsed = {t: parse_time_text(texts[t]) for t in times}
    if any(texts[t] is not None and parsed[t] is None for t in times):
        return "bad_timestamp"
    if source == "events" and cfg.max_skew_ms is not None:
        event, processing = parsed["event_time"], parsed["processing_time"]
        if event is not None and processing is not None and event - processing > cfg.max_skew_ms:
            return "clock_skew"
    return None

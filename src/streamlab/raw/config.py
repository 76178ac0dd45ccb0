"""How a lab's data is generated: the one settings object of :mod:`streamlab.raw.generator`.

Kept apart from the generator (which draws with numpy) so that the CLI builds its options'
defaults and help from these fields without importing numpy.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from streamlab.errors import StreamlabError
from streamlab.settings import PipelineConfig

BAD_KINDS = {
    "malformed_json": "malformed_share",
    "missing_field": "missing_field_share",
    "bad_timestamp": "bad_time_share",
    "clock_skew": "future_share",
}
"""Each kind of bad record the generator can inject, and the setting that asks for it."""


@dataclass(frozen=True)
class GeneratorConfig:
    """How much data to generate, and how late, duplicated and orphaned it is."""

    seed: int = 17
    """Seed of every random draw; the same seed and base time give the same bytes."""
    base_time: datetime = field(
        default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    )
    """Time of batch 0 (naive, UTC); later batches follow every ``batch_interval`` seconds."""
    batches: int = 10
    """Number of batches of each data set."""
    events_per_batch: int = 100
    """Events in each batch, duplicates not included."""
    impressions_per_batch: int = 50
    """Ad impressions in each batch."""
    clicks_per_batch: int = 10
    """Ad clicks in each batch (orphans included)."""
    late_share: float = 0.10
    """Share of each batch's events that arrive late (exact per batch, rounded)."""
    lateness_min: int = 300
    """Seconds: a late event happened at least this long before its batch."""
    lateness_max: int = 1800
    """Seconds: a late event happened at most this long before its batch."""
    recent: int = 300
    """Seconds: an on-time event happened less than this long before its batch."""
    duplicate_share: float = 0.05
    """Extra re-sent events per batch, as a share of events_per_batch: same event_id and
    content as an event of this or one of the two previous batches."""
    orphan_share: float = 0.10
    """Share of each batch's clicks that refer to an impression that does not exist."""
    batch_interval: int = 300
    """Seconds between two batches. The default equals ``recent``, so on-time events cover
    event time without gaps, and the guide's 10 batches span 50 minutes: enough for windows to
    close behind a 10-minute watermark."""
    click_window: int = PipelineConfig.click_window_ms // 1000
    """Seconds: a click on an existing impression happens 0 to this long after it."""
    impression_spread: int = 600
    """Seconds: an impression happened 0 to this long before its batch."""
    users: int = 100
    """Distinct users, USER001 onwards."""
    ads: int = 20
    """Distinct ads, AD001 onwards."""
    malformed_share: float = 0.0
    """Extra event lines per batch, as a share of events_per_batch, that are not valid JSON."""
    missing_field_share: float = 0.0
    """Extra event records per batch without their event_id or event_time."""
    bad_time_share: float = 0.0
    """Extra event records per batch whose event_time does not parse."""
    future_share: float = 0.0
    """Extra event records per batch from a clock that runs ahead: event_time is
    future_min to future_max seconds after the batch's processing_time."""
    future_min: int = 3600
    """Seconds: least lead of a future event over its processing time."""
    future_max: int = 86_400
    """Seconds: most lead of a future event over its processing time."""

    def __post_init__(self) -> None:
        """Reject impossible settings with one line naming the option and the fix."""
        for name in ("batches", "events_per_batch", "impressions_per_batch", "users", "ads"):
            if getattr(self, name) <= 0:
                raise StreamlabError(
                    f"{_opt(name)} must be a positive number, got {getattr(self, name)}"
                )
        if self.clicks_per_batch < 0:
            raise StreamlabError(
                f"--clicks-per-batch must not be negative, got {self.clicks_per_batch}"
            )
        for name in (*BAD_KINDS.values(), "late_share", "duplicate_share", "orphan_share"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0.0 <= value <= 1.0) or math.isnan(value):
                raise StreamlabError(f"{_opt(name)} must be a share between 0 and 1, got {value}")
        for name in (
            "lateness_min",
            "lateness_max",
            "recent",
            "batch_interval",
            "click_window",
            "impression_spread",
            "future_min",
            "future_max",
        ):
            if getattr(self, name) < 0:
                raise StreamlabError(
                    f"{_opt(name)} must not be negative, got {getattr(self, name)}s"
                )
        if self.recent <= 0:
            raise StreamlabError("--recent must be at least 1 second")
        if self.future_min > self.future_max:
            raise StreamlabError(
                f"future range is upside down ({self.future_min}s > {self.future_max}s): "
                "--future-min must not exceed --future-max"
            )
        if self.lateness_min > self.lateness_max:
            raise StreamlabError(
                f"lateness range is upside down ({self.lateness_min}s > {self.lateness_max}s): "
                "--lateness-min must not exceed --lateness-max"
            )
        if self.batches > 10_000:
            raise StreamlabError(f"--batches must be at most 10000, got {self.batches}")
        if self.clicks_per_batch > self.impressions_per_batch:
            raise StreamlabError(
                f"--clicks-per-batch ({self.clicks_per_batch}) must not exceed "
                f"--impressions-per-batch ({self.impressions_per_batch}): "
                "each click in a batch refers to a different impression"
            )
        if self.base_time.tzinfo is not None:
            utc = self.base_time.astimezone(UTC).replace(tzinfo=None)
            object.__setattr__(self, "base_time", utc)
        object.__setattr__(self, "base_time", self.base_time.replace(microsecond=0))

    def batch_time(self, batch: int) -> datetime:
        """Return the time at which batch ``batch`` is produced."""
        return self.base_time + timedelta(seconds=batch * self.batch_interval)

    def to_dict(self) -> dict[str, Any]:
        """Return the configuration as JSON-ready data."""
        data = asdict(self)
        data["base_time"] = format_time(self.base_time)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GeneratorConfig:
        """Rebuild a configuration written by :meth:`to_dict`."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["base_time"] = parse_base_time(str(values["base_time"]))
        return cls(**values)

    def fingerprint(self) -> str:
        """Return a digest of everything but ``batches``: labs with equal digests share batches."""
        data = self.to_dict()
        data.pop("batches")
        import hashlib

        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def parse_base_time(text: str) -> datetime:
    """Parse ``--base-time`` (ISO 8601, e.g. ``2026-01-01T09:00:00`` or with ``Z``) as naive UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise StreamlabError(
            f"--base-time {text!r} is not a date and time: write it like 2026-01-01T09:00:00"
        ) from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.replace(microsecond=0)


def _opt(name: str) -> str:
    return "--" + name.replace("_", "-")


def format_time(moment: datetime) -> str:
    """Return ``moment`` as the lab writes times: ``yyyy-MM-dd HH:mm:ss``."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")

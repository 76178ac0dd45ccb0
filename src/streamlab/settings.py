"""The event-time settings of the lab's pipelines, declared once: every default lives here.

:class:`PipelineConfig` holds the watermark delays, windows, slide, the join's time range and
the skew bound; :class:`Trigger` says when a query runs its micro-batches. The Spark pipelines
(:mod:`streamlab.pipelines`) read them directly; the model is built from them through
:meth:`streamlab.model.ModelConfig.from_settings`; the CLI derives its options' defaults and
help text from them (:func:`streamlab.settings.shown_default`).

Durations are accepted as ``timedelta``, seconds or text (``"10 minutes"``, ``"10m"``) and
normalized once, here, to milliseconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any

from streamlab.durations import Duration, describe, spark_interval, to_millis
from streamlab.errors import StreamlabError

MINUTE_MS = 60_000

SWEEP_DELAYS = ("0s", "1m", "5m", "10m", "30m")
"""The watermark delays ``streamlab sweep`` and ``streamlab report`` try unless told otherwise."""


@dataclass(frozen=True)
class PipelineConfig:
    """Event-time settings shared by the pipelines (the guide's defaults)."""

    watermark_delay_ms: int = 10 * MINUTE_MS
    """How far the events' watermark trails the latest event time seen."""
    window_ms: int = 5 * MINUTE_MS
    """Size of the tumbling windows (``events_tumbling``) and of the CTR windows."""
    sliding_window_ms: int = 10 * MINUTE_MS
    """Size of the sliding windows (``events_sliding``)."""
    slide_ms: int = 5 * MINUTE_MS
    """How often a sliding window starts; at most ``sliding_window_ms``."""
    impressions_delay_ms: int = 10 * MINUTE_MS
    """Watermark delay of the impressions stream in the join."""
    clicks_delay_ms: int = 10 * MINUTE_MS
    """Watermark delay of the clicks stream in the join."""
    click_window_ms: int = 10 * MINUTE_MS
    """A click joins an impression when it happens 0 to this long after it."""
    max_skew_ms: int | None = 5 * MINUTE_MS
    """Events whose time runs further ahead of their processing time are quarantined as
    clock skew; ``None`` turns the guard off."""

    def __post_init__(self) -> None:
        """Reject settings Spark would refuse or that make no sense, naming the option."""
        for name in ("window_ms", "sliding_window_ms", "slide_ms"):
            if getattr(self, name) <= 0:
                raise StreamlabError(f"{_option(name)} must be longer than zero")
        for name in (
            "watermark_delay_ms",
            "impressions_delay_ms",
            "clicks_delay_ms",
            "click_window_ms",
        ):
            if getattr(self, name) < 0:
                raise StreamlabError(f"{_option(name)} must not be negative")
        if self.slide_ms > self.sliding_window_ms:
            raise StreamlabError(
                f"--slide ({describe(self.slide_ms)}) is longer than --sliding-window "
                f"({describe(self.sliding_window_ms)}): make the slide at most the window"
            )

    @classmethod
    def from_options(
        cls,
        *,
        watermark_delay: Duration | None = None,
        window: Duration | None = None,
        sliding_window: Duration | None = None,
        slide: Duration | None = None,
        impressions_delay: Duration | None = None,
        clicks_delay: Duration | None = None,
        click_window: Duration | None = None,
        max_skew: Duration | None = None,
    ) -> PipelineConfig:
        """Build a configuration from durations given by a user; ``None`` keeps the default.

        >>> PipelineConfig.from_options(watermark_delay="2m", window="1m").window_ms
        60000
        """
        given = {
            "watermark_delay_ms": watermark_delay,
            "window_ms": window,
            "sliding_window_ms": sliding_window,
            "slide_ms": slide,
            "impressions_delay_ms": impressions_delay,
            "clicks_delay_ms": clicks_delay,
            "click_window_ms": click_window,
        }
        values: dict[str, int | None] = {
            key: to_millis(value, what=_option(key))
            for key, value in given.items()
            if value is not None
        }
        if isinstance(max_skew, str) and max_skew.strip().lower() == "off":
            values["max_skew_ms"] = None
        elif max_skew is not None:
            values["max_skew_ms"] = to_millis(max_skew, what="--max-skew")
        return cls(**values)  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PipelineConfig:
        """Rebuild settings from :meth:`to_dict`'s data; unknown keys are ignored, missing default.

        >>> PipelineConfig.from_dict({"window_ms": 60_000, "other": 1}).window_ms
        60000
        """
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as JSON-ready data, in milliseconds."""
        return asdict(self)


class TriggerKind(StrEnum):
    """The two kinds of trigger, which decide whether no-data batches run in between."""

    AVAILABLE_NOW = "available-now"
    """``trigger(availableNow=True)`` over every landed batch: no-data batches never run between
    data batches (there is always new data), only once after the last one."""
    PROCESSING_TIME = "processing-time"
    """A live trigger with idle time between batches: after each data batch, one no-data batch
    runs when the watermark moved."""


@dataclass(frozen=True)
class Trigger:
    """When a query runs its micro-batches: the one trigger type of the pipelines and the model."""

    interval_ms: int | None = None
    """``None``: AvailableNow (process what has landed, then stop); else a processing-time
    trigger that runs a micro-batch every ``interval_ms`` until stopped."""

    @property
    def available_now(self) -> bool:
        """Whether the queries stop once everything that has landed is processed."""
        return self.interval_ms is None

    @property
    def kind(self) -> TriggerKind:
        """The kind of trigger, which is all the model needs to know of it.

        >>> Trigger.parse("10s").kind
        <TriggerKind.PROCESSING_TIME: 'processing-time'>
        """
        return TriggerKind.AVAILABLE_NOW if self.available_now else TriggerKind.PROCESSING_TIME

    @classmethod
    def parse(cls, text: str) -> Trigger:
        """Parse ``available-now`` or a processing-time interval such as ``10s``.

        >>> Trigger.parse("available-now").available_now, Trigger.parse("10s").interval_ms
        (True, 10000)
        """
        cleaned = text.strip().lower().replace("_", "-")
        if cleaned in ("available-now", "availablenow", "now"):
            return cls(None)
        try:
            ms = to_millis(cleaned, what="--trigger")
        except StreamlabError:
            raise StreamlabError(
                f"--trigger {text!r} is neither 'available-now' nor an interval: "
                "write --trigger available-now or e.g. --trigger 10s"
            ) from None
        if ms <= 0:
            raise StreamlabError("--trigger interval must be longer than zero, e.g. 10s")
        return cls(ms)

    def spark_options(self) -> dict[str, Any]:
        """Return the keyword arguments of ``DataStreamWriter.trigger`` for this trigger."""
        if self.interval_ms is None:
            return {"availableNow": True}
        return {"processingTime": spark_interval(self.interval_ms)}

    def describe(self) -> str:
        """Return the trigger as the CLI writes it."""
        return "available-now" if self.interval_ms is None else describe(self.interval_ms)


def _option(field_name: str) -> str:
    return "--" + field_name.removesuffix("_ms").replace("_", "-")


def shown_default(ms: int | None) -> str:
    """Return a duration default as the CLI's help shows it: ``[default: 10m]``.

    >>> shown_default(PipelineConfig().watermark_delay_ms)
    '[default: 10m]'
    >>> shown_default(None)
    '[default: off]'
    """
    return f"[default: {'off' if ms is None else describe(ms)}]"

"""Settings of a live run: how often batches land, how many events, and the lab's clock, faster.

The lab's batches are 5 minutes apart, with a 10-minute watermark and 5-minute windows. Live,
a batch lands every few seconds, so every duration of the lab is scaled by the same factor
(``every / 5 minutes``): with ``--every 5s`` the lab runs 60 times faster, a window is 5 s, the
watermark trails by 10 s and a late event is 5 to 30 s late. What the pictures show is then the
guide's lab, at a pace a person can watch.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import datetime

from streamlab.durations import describe, to_millis
from streamlab.errors import StreamlabError
from streamlab.pipelines.config import PipelineConfig
from streamlab.raw.generator import GeneratorConfig
from streamlab.run.doctor import Thresholds

LAB_INTERVAL_MS = 300_000
"""The lab's batch interval (5 minutes): the unit live runs scale from."""

MIN_EVERY_MS = 2_000
"""The shortest ``--every``: each landed batch is a micro-batch of every query, and on a small
machine one round of the lab's seven queries takes one to three seconds."""

CASES = ("late-burst", "idle", "skew", "state")
"""The guide's troubleshooting cases a live run can bring about on purpose."""


@dataclass(frozen=True)
class LiveSettings:
    """How a live run lands its data."""

    every_ms: int = 5_000
    """A batch of each source lands this often; the queries trigger at the same interval."""
    rate: float = 200.0
    """Events a second (impressions at half and clicks at a tenth of it, as in the lab)."""
    duration_ms: int | None = None
    """How long the run lasts; ``None``: until Ctrl-C."""
    cases: tuple[str, ...] = ()
    """Troubleshooting cases to bring about a few batches into the run (see :data:`CASES`)."""
    case_after_batches: int = 4
    """Batches that land before a case asked for on the command line starts."""
    burst_batches: int = 3
    """How many batches a late burst lasts."""
    burst_late_share: float = 0.9
    """Share of a burst batch's events that arrive late."""
    skew_share: float = 0.2
    """Extra events per batch, as a share of its events, from a clock running ahead."""

    def __post_init__(self) -> None:
        """Reject settings a live run cannot keep, naming the option and the fix."""
        if not (math.isfinite(self.rate) and self.rate > 0):
            raise StreamlabError(
                f"--rate must be a positive number of events a second, got {self.rate:g}"
            )
        if self.every_ms < MIN_EVERY_MS:
            raise StreamlabError(
                f"--every {describe(self.every_ms)} is shorter than Spark can keep up with: each "
                f"batch runs every query of the lab; use --every {describe(MIN_EVERY_MS)} or more"
            )
        if self.duration_ms is not None and self.duration_ms <= 0:
            raise StreamlabError("--duration must be longer than zero, e.g. 2m")
        if self.events_per_batch > 50_000:
            raise StreamlabError(
                f"--rate {self.rate:g}/s with --every {describe(self.every_ms)} makes "
                f"{self.events_per_batch} events a batch: keep it under 50000"
            )
        unknown = [c for c in self.cases if c not in CASES]
        if unknown:
            raise StreamlabError(f"unknown --case {unknown[0]!r}: choose from {', '.join(CASES)}")

    @property
    def scale(self) -> float:
        """How much shorter every duration of the lab is in this run."""
        return self.every_ms / LAB_INTERVAL_MS

    @property
    def events_per_batch(self) -> int:
        """Events in each batch."""
        return max(1, round(self.rate * self.every_ms / 1000))

    def scaled_ms(self, lab_ms: int) -> int:
        """Return a duration of the lab on this run's clock, in whole milliseconds."""
        return max(1, round(lab_ms * self.scale))

    def generator(self, base_time: datetime, seed: int = 17) -> GeneratorConfig:
        """Return the lab's generator settings on this run's clock, batch 0 at ``base_time``."""
        lab = GeneratorConfig()
        events = self.events_per_batch
        seconds = {
            name: max(1, round(getattr(lab, name) * self.scale))
            for name in ("lateness_min", "lateness_max", "recent", "click_window")
        }
        seconds["impression_spread"] = max(1, round(lab.impression_spread * self.scale))
        interval = max(1, round(self.every_ms / 1000))
        return GeneratorConfig(
            seed=seed,
            base_time=base_time,
            batches=1,
            events_per_batch=events,
            impressions_per_batch=max(1, events // 2),
            clicks_per_batch=max(0, events // 10),
            batch_interval=interval,
            **seconds,
        )

    def pipeline_defaults(self) -> dict[str, str]:
        """Return the pipelines' settings on this run's clock, as options would give them."""
        lab = PipelineConfig()
        names = (
            "watermark_delay",
            "window",
            "sliding_window",
            "slide",
            "impressions_delay",
            "clicks_delay",
            "click_window",
            "max_skew",
        )
        out = {n: f"{self.scaled_ms(getattr(lab, n + '_ms') or 0)}ms" for n in names}
        if "state" in self.cases:
            # A delay far too long for the rate: the guide's own 10 minutes at live speed.
            out["watermark_delay"] = f"{lab.watermark_delay_ms}ms"
        return out

    def thresholds(self) -> Thresholds:
        """Return the doctor's thresholds for this run's rate (state: six batches of events)."""
        return Thresholds(state_rows=6 * self.events_per_batch, growth_batches=4)

    def to_dict(self) -> dict[str, object]:
        """Return the settings as JSON-ready data."""
        return dataclasses.asdict(self)


def parse_rate(text: str) -> float:
    """Parse ``--rate`` such as ``200/s``, ``200``, ``600/m``.

    >>> parse_rate("200/s"), parse_rate("600/m")
    (200.0, 10.0)
    """
    value, _, unit = text.strip().lower().partition("/")
    per = {"": 1.0, "s": 1.0, "sec": 1.0, "second": 1.0, "m": 60.0, "min": 60.0, "minute": 60.0}
    try:
        number = float(value)
    except ValueError:
        raise StreamlabError(
            f"--rate {text!r} is not a rate: write events a second, e.g. --rate 200/s"
        ) from None
    if unit not in per:
        raise StreamlabError(f"--rate {text!r}: the unit must be /s or /m, e.g. --rate 200/s")
    if not (math.isfinite(number) and number > 0):
        raise StreamlabError(f"--rate must be a positive number of events a second, got {text!r}")
    return number / per[unit]


def parse_every(text: str) -> int:
    """Parse ``--every`` into milliseconds."""
    return to_millis(text, what="--every")

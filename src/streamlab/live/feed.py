"""The live feed: batches of events, impressions and clicks that land in real time.

Every ``every`` seconds the feed generates the next batch of each source with the lab's own
generator (:mod:`streamlab.raw.generator`), its batch time set to now, and lands it with
:func:`streamlab.raw.landing.land` (atomically, newer than the batch before). The running
queries pick each batch up as one micro-batch.

The guide's troubleshooting cases are brought about by changing what the next batches hold:

- ``late-burst``: for a few batches most events arrive later than the watermark delay;
- ``idle``: impressions stop landing while clicks go on, so the join's watermark stalls;
- ``skew``: some events come from a clock running ahead (quarantined as ``clock_skew``);
- ``state``: a watermark delay far too long for the rate; chosen when the run starts
  (a query's delay is fixed by its checkpoint), see :meth:`LiveSettings.pipeline_defaults`.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from streamlab.errors import StreamlabError
from streamlab.lab.paths import SOURCES, LabPaths
from streamlab.live.settings import LiveSettings
from streamlab.raw.generator import GeneratorConfig, generate
from streamlab.raw.landing import land, landed_batches, read_lab

LIVE_KEY = "live"
"""The key of ``lab.json`` that marks a lab made by ``streamlab live``."""


@dataclass(frozen=True)
class Landed:
    """One batch of one source the feed has landed."""

    source: str
    batch: int
    rows: int
    at_ms: int
    """When it landed (epoch milliseconds)."""
    cases: tuple[str, ...]
    """The troubleshooting cases that shaped it."""


def next_batch(paths: LabPaths) -> int:
    """Return the number of the next batch to land: one after the newest of any source."""
    newest = [max(b) for s in SOURCES if (b := landed_batches(paths, s))]
    return max(newest) + 1 if newest else 0


def prepare_live_lab(paths: LabPaths, settings: LiveSettings, *, reset: bool = False) -> bool:
    """Make ``paths`` a live lab (databases, checkpoint folders, ``lab.json``).

    Returns whether a live lab was there already (a restart). A lab made by
    ``streamlab setup`` is refused: its event times are from another day.
    """
    from streamlab.raw.provision import reset_lab, setup_lab

    paths.ensure_writable()
    if reset:
        reset_lab(paths)
    existing = _live_record(paths)
    if existing is not None:
        return True
    if read_lab(paths) is not None or next_batch(paths) > 0:
        raise StreamlabError(
            f"the lab at {paths.root} was made by 'streamlab setup', not 'streamlab live': "
            "choose another --root, or pass --reset to start a live lab there"
        )
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    cfg = settings.generator(now)
    setup_lab(paths, cfg)  # lands batch 0 of each source, records lab.json
    _write_record(paths, cfg, settings, batches=1)
    return False


def _live_record(paths: LabPaths) -> dict[str, Any] | None:
    if not paths.lab_file.exists():
        return None
    try:
        data = orjson.loads(paths.lab_file.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    live = data.get(LIVE_KEY) if isinstance(data, dict) else None
    return dict(live) if isinstance(live, dict) else None


def _write_record(
    paths: LabPaths, cfg: GeneratorConfig, settings: LiveSettings, batches: int
) -> None:
    record = dataclasses.replace(cfg, batches=batches)
    data = {
        "generator": record.to_dict(),
        "fingerprint": record.fingerprint(),
        LIVE_KEY: settings.to_dict(),
    }
    tmp = paths.lab_file.with_name(f".{paths.lab_file.name}.tmp")
    tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    tmp.replace(paths.lab_file)


class Feed:
    """Lands a batch of each source every ``settings.every_ms`` until stopped.

    Run it in a thread (:meth:`start`); :meth:`trigger` starts a troubleshooting case from any
    thread (the dashboard's buttons).
    """

    def __init__(
        self,
        paths: LabPaths,
        settings: LiveSettings,
        watermark_delay_ms: int,
        *,
        backlog: Callable[[], int] | None = None,
        max_backlog: int = 3,
    ) -> None:
        self.paths = paths
        self.backlog = backlog
        """Returns how many landed batches the queries have still to read."""
        self.max_backlog = max_backlog
        """Hold landing back while more batches than this wait: never fall behind unseen."""
        self.held = 0
        """Intervals in which nothing landed because the queries were behind."""
        self.settings = settings
        self.delay_ms = watermark_delay_ms
        self.landed: list[Landed] = []
        self.error: BaseException | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._burst_left = 0
        self._idle = False
        self._skew = False
        self._pending = list(c for c in settings.cases if c != "state")
        self._thread: threading.Thread | None = None
        self._count = 0

    # --- cases ---------------------------------------------------------------------------

    def trigger(self, case: str, on: bool = True) -> None:
        """Start (or, for ``idle`` and ``skew``, stop) a troubleshooting case."""
        with self._lock:
            if case == "late-burst":
                self._burst_left = self.settings.burst_batches if on else 0
            elif case == "idle":
                self._idle = on
            elif case == "skew":
                self._skew = on
            elif case == "state":
                raise StreamlabError(
                    "a state that grows needs a delay too long for the rate, fixed when the "
                    "queries start: run 'streamlab live --case state' (on a new --root)"
                )
            else:
                raise StreamlabError(f"unknown case {case!r}: choose late-burst, idle or skew")

    def active(self) -> list[str]:
        """Return the cases shaping the next batches."""
        with self._lock:
            return self.active_locked()

    # --- landing -------------------------------------------------------------------------

    def land_next(self) -> list[Landed]:
        """Generate and land the next batch of each source; return what landed."""
        batch = next_batch(self.paths)
        now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
        with self._lock:
            if self._count >= self.settings.case_after_batches and self._pending:
                for case in self._pending:
                    self._start_locked(case)
                self._pending = []
            cases = tuple(self.active_locked())
            burst = self._burst_left > 0
            if burst:
                self._burst_left -= 1
            idle, skew = self._idle, self._skew
        cfg = self._config(now, batch, burst=burst, skew=skew)
        sources = tuple(s for s in SOURCES if not (idle and s == "impressions"))
        out = []
        for generated in generate(cfg, sources, batches=range(batch, batch + 1)):
            land(self.paths, generated)
            out.append(
                Landed(
                    generated.source,
                    batch,
                    int(generated.manifest["rows"]),
                    int(time.time() * 1000),
                    cases,
                )
            )
        _write_record(self.paths, cfg, self.settings, batches=batch + 1)
        with self._lock:
            self.landed.extend(out)
            self._count += 1
        return out

    def _start_locked(self, case: str) -> None:
        if case == "late-burst":
            self._burst_left = self.settings.burst_batches
        elif case == "idle":
            self._idle = True
        elif case == "skew":
            self._skew = True

    def active_locked(self) -> list[str]:
        """Like :meth:`active`, for a caller that holds the lock."""
        found = [
            name
            for name, on in (
                ("late-burst", self._burst_left > 0),
                ("idle", self._idle),
                ("skew", self._skew),
                ("state", "state" in self.settings.cases),
            )
            if on
        ]
        return found

    def _config(self, now: datetime, batch: int, *, burst: bool, skew: bool) -> GeneratorConfig:
        """Return the generator settings that put batch ``batch`` at ``now``."""
        base = self.settings.generator(now)
        cfg = dataclasses.replace(
            base,
            base_time=now - timedelta(seconds=batch * base.batch_interval),
            batches=batch + 1,
        )
        if burst:
            # Later than the watermark delay: the windows drop them.
            least = self.delay_ms // 1000 + base.batch_interval
            cfg = dataclasses.replace(
                cfg,
                late_share=self.settings.burst_late_share,
                lateness_min=least,
                lateness_max=max(least, 3 * least),
            )
        if skew:
            # Ahead by more than the skew bound: quarantined, never counted.
            bound = max(1, self.settings.scaled_ms(300_000) // 1000)
            cfg = dataclasses.replace(
                cfg,
                future_share=self.settings.skew_share,
                future_min=2 * bound,
                future_max=6 * bound,
            )
        return cfg

    # --- the thread ----------------------------------------------------------------------

    def start(self) -> None:
        """Land batches in a background thread, the first one ``every`` from now."""
        self._thread = threading.Thread(target=self._loop, name="streamlab-live-feed", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        every = self.settings.every_ms / 1000
        started = time.monotonic()
        k = 1
        try:
            while not self._stop.wait(max(0.0, started + k * every - time.monotonic())):
                if self.backlog is not None and self.backlog() > self.max_backlog:
                    self.held += 1  # the dashboard and the terminal say so
                else:
                    self.land_next()
                k += 1
                # Landing took longer than an interval: skip, never pile batches up.
                k = max(k, int((time.monotonic() - started) / every) + 1)
        except BaseException as exc:  # reported by the run, which stops
            self.error = exc

    def stop(self) -> None:
        """Stop landing batches (the current one finishes landing first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

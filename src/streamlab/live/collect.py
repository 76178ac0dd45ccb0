"""What the dashboard shows, gathered from the lab on disk: the state behind ``/api/state``.

Everything is read from what the run writes and readers may see: the landed batches (their
lines and manifests), the progress log, the queries' checkpoints and the committed files of
their tables. So the same collector serves a live run, an ordinary ``run --ui`` and, read-only,
a finished lab (``streamlab ui``). Each refresh reads only what is new since the last one.

The warnings are the doctor's rules (:func:`streamlab.run.doctor.diagnose`), run on each
query's recent batches, plus two that only a live run has: a clock running ahead (records
quarantined as ``clock_skew``) and queries falling behind the feed.
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from streamlab.ingest.rules import QuarantineConfig, classify_line, parse_time_text
from streamlab.lab.catalog import table_ref
from streamlab.lab.paths import SOURCES, LabPaths
from streamlab.pipelines.config import PipelineConfig
from streamlab.pipelines.registry import LATE_TABLE, TUMBLING
from streamlab.raw.landing import DATA_FILE, MANIFEST, landed_batches
from streamlab.run.checkpoint import batch_files, committed_batches, uri_to_path
from streamlab.run.doctor import Thresholds, diagnose
from streamlab.run.progress import latest_by_batch, parse_watermark, progress_log

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from streamlab.live.feed import Feed
    from streamlab.model.watermark import InputWatermark

DEDUP_QUERY = "dedup"
LATE_CAPTURE = "late_data"
"""The late capture's folder of per-batch markers (counted like commits)."""
JOIN_QUERY = "stream_join/clicks"
"""The inner join (impressions with their clicks); its watermark is the join's."""
CTR_QUERY = "stream_join/ctr"
"""The left outer join: an impression without a click leaves as a row with NULL click."""
EVENT_TIME = {"events": "event_time", "impressions": "impression_time", "clicks": "click_time"}
WATERMARK_OF = {"events": TUMBLING, "impressions": JOIN_QUERY, "clicks": JOIN_QUERY}
"""Whose watermark each source's picture draws."""
RECENT_BATCHES = 8
"""The doctor's rules look at each query's last this many batches: live warnings come and go."""
KEEP_BATCHES = 60
"""Landed batches each picture keeps (older ones scroll out)."""
MAX_DOTS = 4000
"""At most this many dots per source picture (every k-th event beyond it)."""
HISTORY = 240
"""Batches per query kept for the time series."""
LATE_SHOWN = 50
_BATCH = re.compile(r"/batch_(\d+)/[^/]*$")
_SOURCE_BATCH = re.compile(r"/(events|impressions|clicks)/batch_(\d+)/[^/]*$")
JOIN_INPUTS = ("impressions", "clicks")
"""The join's two inputs, each with its own ``withWatermark`` node."""
_ENTRY = re.compile(r"^(\d+)(\.compact)?$")


def _ms(text: str | None) -> int | None:
    moment = parse_watermark(text)
    return None if moment is None else int(moment.timestamp() * 1000)


def _text_ms(text: str) -> int:
    value = parse_time_text(text)
    return 0 if value is None else value


class _NotReadYet(Exception):
    """A micro-batch read a landed batch the collector has not read yet."""


@dataclass
class _Dot:
    arrival_ms: int
    event_ms: int
    event_id: str
    batch: int
    kind: str
    """``ok``, ``late`` (dropped behind the watermark) or ``quarantined``."""


@dataclass
class _Source:
    batches: dict[int, list[_Dot]] = field(default_factory=dict)
    arrival: dict[int, int] = field(default_factory=dict)


class Collector:
    """Keeps the dashboard's state current; :meth:`state` returns it as JSON-ready data."""

    def __init__(
        self,
        paths: LabPaths,
        config: PipelineConfig,
        *,
        mode: str,
        thresholds: Thresholds | None = None,
        every_ms: int | None = None,
        feed: Feed | None = None,
        spark: SparkSession | None = None,
        spark_ui: str | None = None,
        verdict_every_s: float = 15.0,
    ) -> None:
        self.paths = paths
        self.config = config
        self.mode = mode
        self.thresholds = thresholds or Thresholds()
        self.every_ms = every_ms
        self.feed = feed
        self.spark = spark
        self.spark_ui = spark_ui
        self.verdict_every_s = verdict_every_s
        self.quarantine = QuarantineConfig(config.max_skew_ms)
        self.version = 0
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._state: dict[str, Any] = {}
        self._sources = {s: _Source() for s in SOURCES}
        self._log_offset = 0
        self._records: list[dict[str, Any]] = []
        # Every captured row: an exact duplicate that arrived late is captured (and counted)
        # twice, as Spark drops it twice.
        self._late: list[dict[str, Any]] = []
        self._late_keys: set[str] = set()
        self._late_files: set[str] = set()
        self._emitted: dict[tuple[int, str], dict[str, Any]] = {}
        self._sink_files: dict[str, set[str]] = {}
        self._micro_landed: dict[int, int | None] = {}
        # Per micro-batch of the join, the largest event time each input read (None: no row).
        self._join_maxima: dict[int, tuple[int | None, ...] | None] = {}
        self._skewed: dict[int, int] = {}
        self._join_history: deque[dict[str, Any]] = deque(maxlen=HISTORY)
        self._verdict: dict[str, Any] | None = None
        self._verdict_at = 0.0
        self._failed_before: tuple[str, ...] = ()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._verdicts: threading.Thread | None = None
        self.started_ms = int(time.time() * 1000)

    # --- the refresh thread --------------------------------------------------------------

    def start(self, interval: float = 1.0) -> None:
        """Refresh every ``interval`` seconds in a background thread until :meth:`stop`."""
        self.refresh()

        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    self.refresh()
                except Exception:  # a file caught mid-write: the next refresh reads it
                    continue

        def verdicts() -> None:
            # The model's comparison runs Spark jobs: in a thread of its own, never holding
            # up the page's refreshes.
            while not self._stop.wait(self.verdict_every_s):
                if self.spark is not None:
                    try:
                        self._read_verdict()
                    except Exception:  # shown as unavailable on the next try
                        continue

        self._thread = threading.Thread(target=loop, name="streamlab-live-collect", daemon=True)
        self._thread.start()
        self._verdicts = threading.Thread(target=verdicts, name="streamlab-verdict", daemon=True)
        self._verdicts.start()

    def stop(self) -> None:
        """Stop refreshing, after one last refresh so the final state is complete."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._verdicts is not None:  # a comparison under way is left to finish on its own
            self._verdicts.join(timeout=1)
        try:
            self.refresh()
        except Exception:  # the last picture stays as it was
            return

    def state(self) -> dict[str, Any]:
        """Return the current state (what ``GET /api/state`` returns)."""
        with self._lock:
            return self._state

    # --- reading -------------------------------------------------------------------------

    def refresh(self, *, verdict: bool = False) -> dict[str, Any]:
        """Read what is new on disk and rebuild the state (``verdict``: run the model too)."""
        with self._refresh_lock:
            return self._refresh(verdict)

    def _refresh(self, verdict: bool) -> dict[str, Any]:
        self._read_progress()
        self._read_landed()
        self._read_late()
        self._read_emitted()
        self._map_batches()
        if verdict and self.spark is not None:
            self._read_verdict(final=True)
        state = self._build()
        with self._lock:
            self._state = state
            self.version += 1
        return state

    def _read_progress(self) -> None:
        log = progress_log(self.paths)
        if not log.exists():
            return
        with log.open("rb") as handle:
            handle.seek(self._log_offset)
            data = handle.read()
        end = data.rfind(b"\n") + 1  # a line still being written waits for the next refresh
        for line in data[:end].splitlines():
            try:
                self._records.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
        self._log_offset += end

    def _read_landed(self) -> None:
        for source in SOURCES:
            known = self._sources[source]
            for batch in landed_batches(self.paths, source):
                if batch in known.batches:
                    continue
                folder = self.paths.batch(source, batch)
                manifest = orjson.loads((folder / MANIFEST).read_bytes())
                arrival = _text_ms(str(manifest.get("batch_time", "")))
                known.arrival[batch] = arrival
                known.batches[batch] = self._dots(source, batch, folder / DATA_FILE, arrival)
            for old in sorted(known.batches)[:-KEEP_BATCHES]:
                del known.batches[old]

    def _dots(self, source: str, batch: int, file: Path, arrival: int) -> list[_Dot]:
        column = EVENT_TIME[source]
        ident = {"events": "event_id", "impressions": "impression_id", "clicks": "click_id"}
        dots = []
        skewed = 0
        for line in file.read_text().splitlines():
            reason = classify_line(source, line, self.quarantine)
            if reason not in (None, "clock_skew"):
                continue
            record = orjson.loads(line)
            event_ms = parse_time_text(record.get(column))
            if event_ms is None:
                continue
            if reason == "clock_skew":
                skewed += 1
            kind = "quarantined" if reason else "ok"
            dots.append(_Dot(arrival, event_ms, str(record.get(ident[source])), batch, kind))
        if source == "events":
            self._skewed[batch] = skewed
        return dots

    def _read_late(self) -> None:
        import pyarrow.parquet as pq  # type: ignore[import-untyped]

        from streamlab.run.tables import committed_files

        folder = table_ref(self.paths, LATE_TABLE).path
        for file in committed_files(folder):
            if str(file) in self._late_files:
                continue
            table = pq.read_table(file)
            for row in table.to_pylist():
                self._late_keys.add(f"{row['batch']}/{row['event_id']}")
                self._late.append(
                    {
                        "event_id": row["event_id"],
                        "event_time": _iso(row["event_time"]),
                        "batch": row["batch"],
                        "micro_batch": row["batch_id"],
                        "late_watermark": _iso(row["late_watermark"]),
                        "lateness_ms": row["lateness_ms"],
                    }
                )
            self._late_files.add(str(file))

    def _read_emitted(self) -> None:
        """Read the tumbling windows Spark has written, and the batch that wrote each."""
        import pyarrow.parquet as pq

        folder = table_ref(self.paths, "streaming_gold.events_tumbling").path
        for file, batch in _sink_files_by_batch(folder, self._sink_files.setdefault("t", set())):
            for row in pq.read_table(file).to_pylist():
                start = _dt_ms(row["window_start"])
                key = (start, str(row["event_type"]))
                self._emitted[key] = {
                    "start_ms": start,
                    "end_ms": _dt_ms(row["window_end"]),
                    "event_type": row["event_type"],
                    "count": int(row["event_count"]),
                    "batch": batch,
                }

    def _map_batches(self) -> None:
        """Find which landed batch each of the tumbling query's micro-batches read."""
        ckpt = self.paths.checkpoint(TUMBLING)
        for micro in committed_batches(ckpt) if ckpt.is_dir() else []:
            if micro in self._micro_landed:
                continue
            try:
                files = batch_files(ckpt, micro)
            except Exception:  # the source log was compacted away: not drawn
                files = []
            landed = [int(m.group(1)) for f in files if (m := _BATCH.search(uri_to_path(f)))]
            self._micro_landed[micro] = max(landed) if landed else None
        ckpt = self.paths.checkpoint(JOIN_QUERY)
        for micro in committed_batches(ckpt) if ckpt.is_dir() else []:
            if micro not in self._join_maxima:
                try:
                    self._join_maxima[micro] = self._maxima_read(ckpt, micro)
                except _NotReadYet:  # landed after this refresh read the batches: next time
                    continue

    def _maxima_read(self, ckpt: Path, micro: int) -> tuple[int | None, ...] | None:
        """Return the largest event time of each join input in ``micro`` (``None``: unknown).

        From the dots of the landed batches the micro-batch read: the rows that reach the
        input's ``withWatermark`` (quarantined ones never do).
        """
        read: dict[str, set[int]] = {s: set() for s in JOIN_INPUTS}
        try:
            for index in range(len(JOIN_INPUTS)):
                for f in batch_files(ckpt, micro, index):
                    if m := _SOURCE_BATCH.search(uri_to_path(f)):
                        read.setdefault(m.group(1), set()).add(int(m.group(2)))
        except Exception:  # the source log was compacted away: not known
            return None
        maxima: list[int | None] = []
        for source in JOIN_INPUTS:
            known = self._sources[source].batches
            missing = [b for b in read[source] if b not in known]
            if missing and max(missing) > max(known, default=-1):
                raise _NotReadYet
            if missing:
                return None  # scrolled out of the picture before it was mapped
            times = [d.event_ms for b in read[source] for d in known[b] if d.kind != "quarantined"]
            maxima.append(max(times) if times else None)
        return tuple(maxima)

    def _committed_now(self) -> tuple[int, ...]:
        """Return how far the compared queries (and the late capture) have got."""
        markers = self.paths.checkpoint(LATE_CAPTURE) / "batches"
        captured = len(list(markers.iterdir())) if markers.is_dir() else 0
        return (
            *(len(committed_batches(self.paths.checkpoint(q))) for q in (TUMBLING, DEDUP_QUERY)),
            captured,
        )

    def _read_verdict(self, *, final: bool = False) -> None:
        """Compare Spark with the model; while queries run, keep only a settled comparison.

        A batch that commits while the tables are read makes the two sides differ for a
        moment: such a comparison is dropped, and a difference is shown once it is seen
        twice in a row (or at the end of the run).
        """
        from streamlab.checks.groundtruth import compare_with_model

        self._verdict_at = time.monotonic()
        assert self.spark is not None
        before = self._committed_now()
        try:
            report = compare_with_model(self.spark, self.paths).to_dict()
        except Exception as exc:  # shown on the page, never fatal to the run
            line = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            self._verdict = {"ok": None, "error": line, "comparisons": []}
            return
        rows = []
        for name in ("windows_emitted", "late_events", "duplicates_removed"):
            c = report[name]
            detail = next(k["detail"] for k in report["checks"] if k["name"] == f"model.{name}")
            rows.append({"name": name, **c, "detail": detail})
        if not final:
            if self._committed_now() != before:
                return
            failed = tuple(r["name"] for r in rows if not r["ok"])
            seen, self._failed_before = self._failed_before, failed
            if failed and failed != seen:
                return
        self._verdict = {
            "ok": report["ok"],
            "error": None,
            "comparisons": rows,
            "at": _iso_ms(int(time.time() * 1000)),
        }

    # --- the next batch's watermark ------------------------------------------------------

    def _watermark_inputs(self, query: str) -> list[InputWatermark]:
        """Return the ``withWatermark`` inputs of ``query`` (the tumbling windows or the join)."""
        from streamlab.model.watermark import InputWatermark

        if query == TUMBLING:
            return [InputWatermark("events", self.config.watermark_delay_ms)]
        return [
            InputWatermark("impressions", self.config.impressions_delay_ms),
            InputWatermark("clicks", self.config.clicks_delay_ms),
        ]

    def _next_watermark(
        self, query: str, records: dict[int, dict[str, Any]]
    ) -> dict[str, Any] | None:
        """Return the watermark ``query``'s next micro-batch will run with, by Spark's rule.

        Spark computes it when a batch ends (:func:`streamlab.model.watermark.advance`) but
        reports it only in the next batch's progress; computing it from the batches of the
        query's current run (whose per-input maxima Spark keeps) shows it one batch sooner.
        ``None`` while it is still 0, or when a batch's event times are not known.
        """
        if not records or query not in (TUMBLING, JOIN_QUERY):
            return None
        # Here, not at the top: the model (and numpy) load once Spark has run a batch, not
        # before the page is up.
        from streamlab.model.watermark import Policy, advance

        newest = list(records.values())[-1]
        run = [r for r in records.values() if r.get("run_id") == newest.get("run_id")]
        inputs = self._watermark_inputs(query)
        # The run's first batch ran with the watermark restored from the checkpoint (0 at first).
        global_ms = _ms(run[0]["watermark"]) or 0
        nodes: tuple[int | None, ...] = (None,) * len(inputs)
        for rec in run:
            if query == TUMBLING:  # one withWatermark node: the progress's max is its max
                maxima: tuple[int | None, ...] | None = (_ms(rec.get("event_time_max")),)
            else:
                maxima = self._join_maxima.get(int(rec["batch"]))
            if maxima is None:
                return None
            global_ms, nodes = advance(global_ms, nodes, inputs, maxima, Policy.MIN)
        if global_ms <= 0:
            return None
        return {
            "watermark": _iso_ms(global_ms),
            "watermark_ms": global_ms,
            "after_batch": newest["batch"],
            "kind": "next",
        }

    def _landed_watermark(self, query: str) -> dict[str, Any] | None:
        """Return the watermark ``query`` reaches once Spark has read every batch landed so far.

        Until Spark's first batch of the query ends there is no watermark of Spark's to draw;
        Spark's rule (:func:`streamlab.model.watermark.advance`) on the landed event times
        (each input's latest less its delay; an input with no rows yet holds it at 0) gives the
        one it will reach, drawn dashed until Spark reports its own. Quarantined rows never
        reach the watermark and are left out. ``None`` while that is still 0.
        """
        if query not in (TUMBLING, JOIN_QUERY) or self.version == 0:
            # The first state is built before the page is served: the model's modules (and
            # numpy) load with the next refresh, a second later, not before the page is up.
            return None
        from streamlab.model.watermark import Policy, advance

        inputs = self._watermark_inputs(query)
        maxima = tuple(
            max(
                (
                    d.event_ms
                    for dots in self._sources[i.name].batches.values()
                    for d in dots
                    if d.kind != "quarantined"
                ),
                default=None,
            )
            for i in inputs
        )
        global_ms, _ = advance(0, (None,) * len(inputs), inputs, maxima, Policy.MIN)
        if global_ms <= 0:
            return None
        return {
            "watermark": _iso_ms(global_ms),
            "watermark_ms": global_ms,
            "after_batch": None,
            "landed_batch": {i.name: _last(list(self._sources[i.name].batches)) for i in inputs},
            "kind": "landed",
        }

    # --- the state -----------------------------------------------------------------------

    def _build(self) -> dict[str, Any]:
        by_query = latest_by_batch(self._records)
        queries = {q: _history(list(b.values())[-HISTORY:]) for q, b in by_query.items()}
        current = {q: {**h[-1], "query": q} for q, h in queries.items() if h}
        warnings = self._warnings(by_query)
        upcoming = {q: self._next_watermark(q, by_query.get(q, {})) for q in (TUMBLING, JOIN_QUERY)}
        # Before a query's first batch: the watermark the landed batches will give it.
        ahead = {
            q: upcoming[q] or (None if q in current else self._landed_watermark(q))
            for q in upcoming
        }
        pictures = {s: self._picture(s, current, ahead[WATERMARK_OF[s]]) for s in SOURCES}
        late = sorted(self._late, key=lambda r: (r["micro_batch"], r["event_id"]))
        landed = {s: max(self._sources[s].arrival.values(), default=None) for s in SOURCES}
        join = self._join(current)
        return {
            "mode": self.mode,
            "root": str(self.paths.root),
            "now": _iso_ms(int(time.time() * 1000)),
            "started": _iso_ms(self.started_ms),
            "settings": {**self.config.to_dict(), "every_ms": self.every_ms},
            "spark_ui": self.spark_ui,
            "cases": {
                "active": self.feed.active() if self.feed is not None else [],
                "available": ["late-burst", "idle", "skew"] if self.feed is not None else [],
            },
            "batch": {
                "landed": {s: _last(landed_batches(self.paths, s)) for s in SOURCES},
                "landed_at": {s: _iso_ms(v) if v else None for s, v in landed.items()},
                "processed": {q: c["batch"] for q, c in current.items()},
            },
            "watermarks": {q: c["watermark"] for q, c in current.items()},
            "next_watermarks": upcoming,
            "queries": list(current.values()),
            "history": queries,
            "pictures": pictures,
            "windows": self._windows(current),
            "state_rows": {q: c["state_rows"] for q, c in current.items()},
            "late_events": {"total": len(late), "recent": late[-LATE_SHOWN:]},
            "join": join,
            "verdict": self._verdict,
            "warnings": warnings,
        }

    def _picture(
        self,
        source: str,
        current: dict[str, dict[str, Any]],
        upcoming: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        known = self._sources[source]
        dots = [d for b in sorted(known.batches) for d in known.batches[b]]
        if source == "events":
            for d in dots:
                if d.kind == "ok" and f"{d.batch}/{d.event_id}" in self._late_keys:
                    d.kind = "late"
        step = max(1, len(dots) // MAX_DOTS)
        shown = dots[::step]
        query = WATERMARK_OF[source]
        line = []
        if source == "events":
            for micro, rec in sorted(latest_by_batch(self._records).get(query, {}).items()):
                landed = self._micro_landed.get(micro)
                arrival = known.arrival.get(landed) if landed is not None else None
                wm = _ms(rec["watermark"]) or 0
                if arrival is not None and wm > 0:
                    line.append([arrival, wm])
        else:
            for rec in latest_by_batch(self._records).get(query, {}).values():
                wm = _ms(rec["watermark"]) or 0
                stamp = _ms(rec.get("timestamp"))
                if wm > 0 and stamp is not None:
                    line.append([stamp, wm])
        first = min(known.arrival[b] for b in known.batches) if known.batches else 0
        line = [p for p in line if p[0] >= first]
        counts = {k: sum(1 for d in dots if d.kind == k) for k in ("ok", "late", "quarantined")}
        spark_wm = current.get(query, {}).get("watermark")
        following = None
        if upcoming is not None and known.batches:
            # A dashed step from the newest micro-batch on, where the next batches' dots land.
            newest = max(known.arrival[b] for b in known.batches)
            if line:
                start = line[-1][0]
            elif upcoming["kind"] == "landed":  # across every landed batch it comes from
                start = first
            else:
                start = self._newest_arrival(source, query, newest)
            reach = self.every_ms or self.config.window_ms
            end = max(start + reach, newest)
            wm = upcoming["watermark_ms"]
            following = {**upcoming, "line": [[start, wm], [end, wm]]}
        kind = "spark" if (_ms(spark_wm) or 0) > 0 else (following["kind"] if following else None)
        return {
            "query": query,
            "watermark": spark_wm,
            "watermark_kind": kind,
            "next_watermark": following,
            "dots": [[d.arrival_ms, d.event_ms, d.kind[0], d.event_id] for d in shown],
            "sampled_every": step,
            "counts": counts,
            "watermark_line": line,
            "window_ms": self.config.window_ms,
        }

    def _newest_arrival(self, source: str, query: str, fallback: int) -> int:
        """Return where the newest micro-batch of ``query`` sits on ``source``'s picture."""
        records = latest_by_batch(self._records).get(query, {})
        if not records:
            return fallback
        micro, rec = list(records.items())[-1]
        if source == "events":
            landed = self._micro_landed.get(micro)
            arrival = self._sources[source].arrival.get(landed) if landed is not None else None
            return arrival if arrival is not None else fallback
        return _ms(rec.get("timestamp")) or fallback

    def _windows(self, current: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        size = self.config.window_ms
        wm = _ms(current.get(TUMBLING, {}).get("watermark")) or 0
        seen: dict[int, dict[str, Any]] = {}
        events = self._sources["events"]
        unique: dict[int, set[str]] = {}
        dropped: dict[int, int] = {}
        counted: set[str] = set()
        for batch in sorted(events.batches):
            for d in events.batches[batch]:
                start = d.event_ms - d.event_ms % size
                if d.kind == "late":
                    dropped[start] = dropped.get(start, 0) + 1
                elif d.kind == "ok" and d.event_id not in counted:  # a re-sent event counts once
                    counted.add(d.event_id)
                    unique.setdefault(start, set()).add(d.event_id)
        emitted: dict[int, dict[str, Any]] = {}
        for (start, _kind), w in self._emitted.items():
            e = emitted.setdefault(start, {"count": 0, "batch": w["batch"], "by_type": {}})
            e["count"] += w["count"]
            e["batch"] = min(e["batch"], w["batch"])
            e["by_type"][w["event_type"]] = w["count"]
        first = min(unique) if unique else 0
        for start in sorted(set(unique) | {s for s in emitted if s >= first}):
            ids = sorted(unique.get(start, set()))
            win = emitted.get(start)
            seen[start] = {
                "start": _iso_ms(start),
                "end": _iso_ms(start + size),
                "start_ms": start,
                "end_ms": start + size,
                "status": "emitted" if win else ("closing" if start + size <= wm else "open"),
                "count": win["count"] if win else len(ids),
                "landed_events": len(ids),
                "emitted_batch": win["batch"] if win else None,
                "by_type": win["by_type"] if win else {},
                "events": ids[:12],
                "dropped_late": dropped.get(start, 0),
            }
        return list(seen.values())[-40:]

    def _join(self, current: dict[str, dict[str, Any]]) -> dict[str, Any]:
        from streamlab.run.tables import row_count

        clicks = row_count(table_ref(self.paths, "streaming_silver.ad_clicks").path)
        nulls = _null_rows(table_ref(self.paths, "streaming_gold.ad_ctr").path)
        waiting = int(current.get(JOIN_QUERY, {}).get("state_rows", 0))
        point = {
            "at": int(time.time() * 1000),
            "waiting": waiting,
            "matched": clicks,
            "null_rows": nulls,
        }
        if not self._join_history or self._join_history[-1] != point:
            self._join_history.append(point)
        return {
            "query": JOIN_QUERY,
            "watermark": current.get(JOIN_QUERY, {}).get("watermark"),
            "rows_waiting": waiting,
            "clicks_matched": clicks,
            "null_rows": nulls,
            "history": list(self._join_history),
        }

    def _warnings(self, by_query: dict[str, dict[int, dict[str, Any]]]) -> list[dict[str, Any]]:
        # Queries without event time (bad_records has no watermark) have nothing to stall.
        timed = {
            q: b for q, b in by_query.items() if any(r.get("event_time_max") for r in b.values())
        }
        recent = [r for b in timed.values() for r in list(b.values())[-RECENT_BATCHES:]]
        found = [f.to_dict() for f in diagnose(recent, self.thresholds)]
        skewed = sum(n for b, n in self._skewed.items() if b in self._recent_landed())
        if skewed:
            found.append(
                {
                    "query": "events",
                    "symptom": "clock_skew",
                    "detail": f"{skewed} events in the last {RECENT_BATCHES} batches were stamped "
                    f"more than {self.config.max_skew_ms or 0} ms ahead of their processing time "
                    "and were quarantined in streaming_bronze.bad_records",
                    "remedy": "Fix the producer's clock (or raise --max-skew if it is right)",
                    "evidence": {"quarantined_clock_skew": skewed},
                }
            )
        behind = self._behind(by_query)
        if behind is not None:
            found.append(behind)
        return found

    def _recent_landed(self) -> set[int]:
        return set(sorted(self._sources["events"].batches)[-RECENT_BATCHES:])

    def backlog(self) -> int:
        """Return how many landed batches the slowest query has still to read.

        Each data micro-batch reads one landed batch of each of its sources, so a query's
        backlog is its source's landed batches less its micro-batches that read rows (the
        join's source is the clicks, which go on landing while impressions are idle).
        """
        landed = {s: len(landed_batches(self.paths, s)) for s in ("events", "clicks")}
        records = list(self._records)
        read: dict[str, set[int]] = {}
        for rec in records:
            if rec["input_rows"] > 0:
                read.setdefault(str(rec["query"]), set()).add(int(rec["batch"]))
        queries = {str(r["query"]) for r in records} or {TUMBLING}
        return max(
            landed["clicks" if q.startswith("stream_join") else "events"] - len(read.get(q, ()))
            for q in queries
        )

    def _behind(self, by_query: dict[str, dict[int, dict[str, Any]]]) -> dict[str, Any] | None:
        """Warn when Spark does not keep up with the feed: slow batches, landed ones waiting."""
        if self.every_ms is None:
            return None
        held = self.feed.held if self.feed is not None else 0
        durations = [
            r.get("duration_ms") or 0
            for b in by_query.values()
            for r in list(b.values())[-3:]
            if r["input_rows"] > 0
        ]
        slow = max(durations, default=0)
        landed = _last(landed_batches(self.paths, "events"))
        done = [b for b in self._micro_landed.values() if b is not None]
        waiting = (landed - max(done)) if landed is not None and done else 0
        if slow <= self.every_ms and waiting <= 2 and not held:
            return None
        pace = (
            f"the slowest recent batch took {slow} ms"
            if durations
            else "no query has finished a batch yet (Spark is starting)"
        )
        return {
            "query": "all",
            "symptom": "falling_behind",
            "detail": f"a batch lands every {self.every_ms} ms but {pace}; "
            f"{max(waiting, 0)} landed batches wait for the windows"
            + (
                f", and landing was held back {held} times so the picture stays current"
                if held
                else ""
            ),
            "remedy": "Land less often (--every) or fewer events (--rate)",
            "evidence": {
                "every_ms": self.every_ms,
                "slowest_ms": slow,
                "waiting": waiting,
                "held_back": held,
            },
        }


def _history(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    before: int | None = None
    for rec in records:
        stamp = _ms(rec.get("timestamp")) or 0
        rows = int(rec["input_rows"])
        duration = int(rec.get("duration_ms") or 0)
        gap = (stamp - before) / 1000 if before is not None and stamp > before else None
        out.append(
            {
                "batch": rec["batch"],
                "at": stamp,
                "watermark": rec["watermark"],
                "input_rows": rows,
                "state_rows": int(rec["state_rows"]),
                "memory_bytes": int(rec["state_memory_bytes"]),
                "dropped_by_watermark": int(rec["dropped_by_watermark"]),
                "output_rows": rec["output_rows"],
                "duration_ms": duration,
                "input_rate": round(rows / gap, 2) if gap else 0.0,
                "processing_rate": round(rows * 1000 / duration, 2) if duration else 0.0,
                "operators": [
                    {
                        k: op[k]
                        for k in ("operator", "rows_total", "memory_bytes", "dropped_by_watermark")
                    }
                    for op in rec["state_operators"]
                ],
            }
        )
        before = stamp
    return out


def _sink_files_by_batch(folder: Path, seen: set[str]) -> list[tuple[Path, int]]:
    """Return the committed files of a file-sink table not seen yet, with the batch of each."""
    log = folder / "_spark_metadata"
    if not log.is_dir():
        return []
    ids = sorted(int(m.group(1)) for p in log.iterdir() if (m := _ENTRY.match(p.name)))
    out = []
    for i in ids:
        entry = log / str(i)
        if not entry.exists():
            entry = log / f"{i}.compact"
        try:
            lines = entry.read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            if not line:
                continue
            item = orjson.loads(line)
            if item.get("action", "add") != "add" or item["path"] in seen:
                continue
            seen.add(item["path"])
            out.append((Path(uri_to_path(item["path"])), i))
    return out


def _null_rows(folder: Path) -> int:
    """Return the impressions the outer join emitted with a NULL click (``ad_ctr``)."""
    import pyarrow.parquet as pq

    from streamlab.run.tables import committed_files

    total = 0
    for file in committed_files(folder):
        table = pq.read_table(file, columns=["impressions", "clicked_impressions"])
        for row in table.to_pylist():
            total += int(row["impressions"]) - int(row["clicked_impressions"])
    return total


def _dt_ms(value: Any) -> int:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    return int(value)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return _iso_ms(_dt_ms(value))


def _iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _last(values: list[int]) -> int | None:
    return values[-1] if values else None

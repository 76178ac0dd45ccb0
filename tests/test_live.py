"""``streamlab live`` without Spark: its settings, the feed, the dashboard's state and server.

The feed lands real batches into a temporary lab; the collector and the server read them back
exactly as they do during a live run. The run itself, in a browser, is tests/test_live_browser.py.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from streamlab.cli import app
from streamlab.cli.live import stop_on_signals
from streamlab.errors import StreamlabError
from streamlab.ingest.rules import QuarantineConfig, classify_line, parse_time_text
from streamlab.lab.paths import LabPaths
from streamlab.live.collect import Collector
from streamlab.live.feed import Feed, prepare_live_lab
from streamlab.live.server import Dashboard, check_port
from streamlab.live.settings import LiveSettings, parse_rate
from streamlab.pipelines.config import PipelineConfig
from streamlab.pipelines.registry import TUMBLING
from streamlab.raw.landing import DATA_FILE, landed_batches, read_manifests
from streamlab.run.progress import EPOCH, progress_log
from tests.support.ports import closed_port, listening_port

runner = CliRunner()


# --- settings ----------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=10_000), st.sampled_from(["", "/s", "/m"]))
def test_a_rate_is_events_a_second(number: int, unit: str) -> None:
    expected = number / 60 if unit == "/m" else float(number)
    assert parse_rate(f"{number}{unit}") == pytest.approx(expected)


@pytest.mark.parametrize("text", ["-5/s", "0", "fast", "5/h", "nan"])
def test_a_bad_rate_is_refused(text: str) -> None:
    with pytest.raises(StreamlabError, match="--rate"):
        parse_rate(text)


def test_the_labs_clock_is_scaled_to_the_interval() -> None:
    # 5 s for the lab's 5 minutes: every duration of the lab divided by 60.
    settings = LiveSettings(every_ms=5_000, rate=20)
    cfg = PipelineConfig.from_options(**settings.pipeline_defaults())
    assert (cfg.watermark_delay_ms, cfg.window_ms, cfg.max_skew_ms) == (10_000, 5_000, 5_000)
    assert (cfg.sliding_window_ms, cfg.slide_ms, cfg.click_window_ms) == (10_000, 5_000, 10_000)
    gen = settings.generator(datetime(2026, 1, 1))
    assert (gen.events_per_batch, gen.impressions_per_batch, gen.clicks_per_batch) == (100, 50, 10)
    assert (gen.lateness_min, gen.lateness_max, gen.batch_interval) == (5, 30, 5)
    # The state case keeps the guide's own delay: 60 batches of events held.
    grown = LiveSettings(every_ms=5_000, rate=20, cases=("state",)).pipeline_defaults()
    assert PipelineConfig.from_options(**grown).watermark_delay_ms == 600_000


def test_impossible_live_settings_are_refused() -> None:
    with pytest.raises(StreamlabError, match="shorter than Spark can keep up with"):
        LiveSettings(every_ms=500)
    with pytest.raises(StreamlabError, match="--rate"):
        LiveSettings(rate=-1)
    with pytest.raises(StreamlabError, match="unknown --case"):
        LiveSettings(cases=("meteor",))


# --- the feed and the collector ----------------------------------------------------------


@pytest.fixture(scope="module")
def fed(tmp_path_factory: pytest.TempPathFactory) -> tuple[LabPaths, Feed, Collector]:
    """A live lab with six batches: two plain, two of a late burst, one idle, one skewed."""
    paths = LabPaths.resolve(tmp_path_factory.mktemp("live") / "lab")
    settings = LiveSettings(every_ms=5_000, rate=20, burst_batches=2)
    cfg = PipelineConfig.from_options(**settings.pipeline_defaults())
    assert prepare_live_lab(paths, settings) is False  # batch 0 of each source
    feed = Feed(paths, settings, cfg.watermark_delay_ms)
    feed.land_next()
    feed.trigger("late-burst")
    feed.land_next()
    feed.land_next()
    feed.trigger("idle")
    feed.land_next()
    feed.trigger("idle", on=False)
    feed.trigger("skew")
    feed.land_next()
    collector = Collector(paths, cfg, mode="live", feed=feed, every_ms=settings.every_ms)
    collector.refresh()
    return paths, feed, collector


def test_batches_land_with_event_times_around_now(fed: tuple[LabPaths, Feed, Collector]) -> None:
    paths, _, _ = fed
    assert landed_batches(paths, "events") == [0, 1, 2, 3, 4, 5]
    now = datetime.now(UTC).timestamp() * 1000
    for manifest in read_manifests(paths, "events"):
        batch_time = parse_time_text(manifest["batch_time"])
        assert batch_time is not None and abs(batch_time - now) < 120_000
        assert manifest["events"] == 100


def test_a_late_burst_sends_events_later_than_the_delay(
    fed: tuple[LabPaths, Feed, Collector],
) -> None:
    paths, _, _ = fed
    manifests = read_manifests(paths, "events")
    assert [len(m["late"]) for m in manifests] == [10, 10, 90, 90, 10, 10]
    burst = manifests[2]
    lines = (paths.batch("events", 2) / "part-00000.json").read_text().splitlines()
    times = {r["event_id"]: r["event_time"] for r in map(json.loads, lines)}
    batch_time = parse_time_text(burst["batch_time"])
    assert batch_time is not None
    for event_id in burst["late"]:
        event_time = parse_time_text(times[event_id])
        assert event_time is not None and batch_time - event_time > 10_000  # the 10 s delay


def test_an_idle_input_stops_impressions_only(fed: tuple[LabPaths, Feed, Collector]) -> None:
    paths, _, _ = fed
    assert landed_batches(paths, "impressions") == [0, 1, 2, 3, 5]
    assert landed_batches(paths, "clicks") == [0, 1, 2, 3, 4, 5]


def test_a_clock_ahead_is_quarantined_and_warned_about(
    fed: tuple[LabPaths, Feed, Collector],
) -> None:
    paths, _, collector = fed
    skewed = [b for b in read_manifests(paths, "events")[5]["bad"] if b["reason"] == "clock_skew"]
    assert len(skewed) == 20
    rule = QuarantineConfig(max_skew_ms=5_000)
    assert all(classify_line("events", b["raw"], rule) == "clock_skew" for b in skewed)
    state = collector.state()
    assert state["pictures"]["events"]["counts"]["quarantined"] == 20
    warning = next(w for w in state["warnings"] if w["symptom"] == "clock_skew")
    assert warning["evidence"]["quarantined_clock_skew"] == 20


def test_the_state_draws_every_landed_event(fed: tuple[LabPaths, Feed, Collector]) -> None:
    paths, _, collector = fed
    state = collector.state()
    for source in ("events", "impressions", "clicks"):
        # Every usable record, and the skewed ones drawn as quarantined.
        rows = sum(
            m["rows"] + sum(b["reason"] == "clock_skew" for b in m.get("bad", []))
            for m in read_manifests(paths, source)
        )
        assert len(state["pictures"][source]["dots"]) == rows
    assert state["batch"]["landed"] == {"events": 5, "impressions": 5, "clicks": 5}
    # Nothing ran yet: no watermark, no window emitted, nothing late, six batches waiting.
    assert state["watermarks"] == {} and state["late_events"]["total"] == 0
    assert collector.backlog() == 6
    assert {w["status"] for w in state["windows"]} == {"open"}
    assert sum(w["count"] for w in state["windows"]) == len(
        {d[3] for d in state["pictures"]["events"]["dots"] if d[2] == "o"}
    )


def test_the_server_serves_the_page_the_state_and_the_cases(
    fed: tuple[LabPaths, Feed, Collector],
) -> None:
    _, feed, collector = fed
    port = closed_port()
    with Dashboard(collector, port) as server:
        page = urllib.request.urlopen(server.url, timeout=10).read().decode()
        assert "/static/chart.umd.min.js" in page
        chart = urllib.request.urlopen(server.url + "static/chart.umd.min.js", timeout=10).read()
        assert b"Chart.js v4.6.1" in chart[:200]
        state = json.loads(urllib.request.urlopen(server.url + "api/state", timeout=10).read())
        assert state["batch"] == collector.state()["batch"]
        post = urllib.request.Request(server.url + "api/case/idle?on=1", method="POST")
        answer = json.loads(urllib.request.urlopen(post, timeout=10).read())
        assert answer["active"] == ["idle", "skew"] == feed.active()
        feed.trigger("idle", on=False)
        bad = urllib.request.Request(server.url + "api/case/state", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad, timeout=10)
        assert refused.value.code == 409
        with urllib.request.urlopen(server.url + "api/events", timeout=10) as stream:
            first = stream.readline().decode()
        assert first.startswith("data: ") and json.loads(first[6:])["mode"] == "live"


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _progress(batch: int, run: str, watermark_ms: int, max_ms: int) -> dict[str, object]:
    """A progress log record of the tumbling windows' query (the fields the collector reads)."""
    return {
        "query": TUMBLING,
        "run_id": run,
        "batch": batch,
        "timestamp": _iso(max_ms),
        "input_rows": 10,
        "watermark": _iso(watermark_ms) if watermark_ms else EPOCH,
        "event_time_max": _iso(max_ms),
        "state_rows": 1,
        "state_memory_bytes": 0,
        "dropped_by_watermark": 0,
        "state_operators": [],
        "duration_ms": 100,
        "output_rows": 0,
    }


def test_a_computed_watermark_is_shown_until_spark_reports_one(tmp_path: Path) -> None:
    paths = LabPaths.resolve(tmp_path / "lab")
    settings = LiveSettings(every_ms=5_000, rate=20)
    cfg = PipelineConfig.from_options(**settings.pipeline_defaults())  # a 10 s delay
    prepare_live_lab(paths, settings)
    collector = Collector(paths, cfg, mode="live", every_ms=settings.every_ms)
    log = progress_log(paths)
    log.parent.mkdir(parents=True, exist_ok=True)
    t = 1_800_000_000_000

    def after(*records: dict[str, object]) -> dict[str, object]:
        with log.open("a") as out:
            out.writelines(json.dumps(r) + "\n" for r in records)
        state: dict[str, object] = collector.refresh()
        return state

    # Before Spark's first batch: the watermark the landed batch 0 gives each query, from the
    # landed lines (latest event time less the delay; the join's is the lower of its inputs').
    def latest(source: str, column: str) -> int:
        lines = (paths.batch(source, 0) / DATA_FILE).read_text().splitlines()
        times = [datetime.fromisoformat(json.loads(x)[column]) for x in lines]
        return int(max(t.replace(tzinfo=UTC) for t in times).timestamp() * 1000)

    state = after()  # the first state, built before the page is served, has none yet
    assert state["pictures"]["events"]["watermark_kind"] is None  # type: ignore[index]
    state = after()
    events: dict[str, object] = state["pictures"]["events"]  # type: ignore[index]
    assert events["watermark_kind"] == "landed" and events["watermark"] is None
    want = latest("events", "event_time") - cfg.watermark_delay_ms
    assert events["next_watermark"]["watermark_ms"] == want  # type: ignore[index]
    joined: dict[str, object] = state["pictures"]["impressions"]  # type: ignore[index]
    want = min(
        latest("impressions", "impression_time") - cfg.impressions_delay_ms,
        latest("clicks", "click_time") - cfg.clicks_delay_ms,
    )
    assert joined["watermark_kind"] == "landed"
    assert joined["next_watermark"]["watermark_ms"] == want  # type: ignore[index]
    assert state["next_watermarks"][TUMBLING] is None  # type: ignore[index]  # no batch yet

    # Batch 0 ran with no watermark and saw events up to t: batch 1 runs with t - 10 s.
    state = after(_progress(0, "run-1", 0, t))
    events = state["pictures"]["events"]  # type: ignore[index]
    assert events["watermark_kind"] == "next" and events["watermark"] == EPOCH
    upcoming = events["next_watermark"]
    assert upcoming["watermark"] == _iso(t - 10_000) and upcoming["after_batch"] == 0  # type: ignore[index]
    assert {y for _, y in upcoming["line"]} == {t - 10_000}  # type: ignore[index]
    assert events["sampled_every"] == 1  # a few dots: every one drawn
    assert state["next_watermarks"][TUMBLING]["watermark_ms"] == t - 10_000  # type: ignore[index]
    # Batch 1 reports it; its own events are older, and a watermark never moves back.
    state = after(_progress(1, "run-1", t - 10_000, t - 30_000))
    events = state["pictures"]["events"]  # type: ignore[index]
    assert events["watermark_kind"] == "spark" and events["watermark"] == _iso(t - 10_000)
    assert events["next_watermark"]["watermark_ms"] == t - 10_000  # type: ignore[index]
    # A restart keeps the watermark from the checkpoint; newer events move it on.
    state = after(_progress(2, "run-2", t - 10_000, t + 5_000))
    assert state["next_watermarks"][TUMBLING]["watermark_ms"] == t - 5_000  # type: ignore[index]


def test_sigterm_stops_a_run_like_ctrl_c() -> None:
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    for sent in (signal.SIGTERM, signal.SIGINT):
        stop = threading.Event()
        with stop_on_signals(stop):
            os.kill(os.getpid(), sent)
            assert stop.wait(5), f"{sent.name} did not ask the run to stop"
            with pytest.raises(KeyboardInterrupt):  # a second one interrupts at once
                os.kill(os.getpid(), sent)  # the handler runs before the next line
        assert {s: signal.getsignal(s) for s in before} == before


# --- bad input ---------------------------------------------------------------------------


def test_a_taken_port_is_one_line_and_status_2(tmp_path: Path) -> None:
    with listening_port() as port:
        with pytest.raises(StreamlabError, match=f"port {port} on 127.0.0.1 is taken"):
            check_port(port)
        result = runner.invoke(app, ["live", "--root", str(tmp_path / "lab"), "--port", str(port)])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "is taken" in lines[0] and "--port" in lines[0]
    assert not (tmp_path / "lab" / "events").exists()  # nothing landed


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "-5/s"], "--rate must be a positive number"),
        (["--every", "1s"], "shorter than Spark can keep up with"),
        (["--case", "meteor"], "unknown --case"),
    ],
)
def test_bad_live_options_are_one_line_and_status_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["live", "--root", str(tmp_path / "lab"), *args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]
    assert not (tmp_path / "lab").exists()


def test_live_refuses_a_lab_made_by_setup(tmp_path: Path) -> None:
    root = str(tmp_path / "lab")
    assert runner.invoke(app, ["setup", "--root", root, "--batches", "1"]).exit_code == 0
    before = sorted(p.name for p in (tmp_path / "lab" / "events").iterdir())
    result = runner.invoke(app, ["live", "--root", root, "--port", str(closed_port())])
    assert result.exit_code == 2
    assert "made by 'streamlab setup'" in result.output and "--reset" in result.output
    assert sorted(p.name for p in (tmp_path / "lab" / "events").iterdir()) == before


def test_ui_needs_a_lab(tmp_path: Path) -> None:
    result = runner.invoke(app, ["ui", "--root", str(tmp_path / "none")])
    assert result.exit_code == 2 and "no lab under" in result.output

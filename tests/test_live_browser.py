"""``streamlab live`` as a user sees it: a real run, its page in headless Chromium, Ctrl-C.

One live run is shared by the module (a small rate, a batch every 4 s); the tests drive it in
order: the watermark advances (the next batch's, computed, then Spark's own, the same) and a
window turns emitted, a late burst forced from the page shows late events, an idle input
forced from the page raises the doctor's warning, a second ``live`` on the same root is
refused, SIGTERM stops it cleanly (as Ctrl-C does: the same handler, tests/test_live.py), and
``/api/state`` of the finished lab (``streamlab ui``) matches its checkpoints and tables.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from streamlab.lab.catalog import table_ref
from streamlab.lab.paths import LabPaths
from streamlab.pipelines.registry import LATE_TABLE, QUERIES, TUMBLING
from streamlab.run.checkpoint import committed_batches, find_damage, read_offsets
from streamlab.run.tables import committed_files, row_count
from tests.support.lab import snapshot
from tests.support.ports import closed_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 600_000
JOIN = "stream_join/clicks"
"""The join's inner query: the impressions' and clicks' pictures draw its watermark."""
"""How long a page waits for Spark to show something (a loaded machine is slow)."""


@dataclass
class LiveRun:
    root: Path
    url: str
    process: subprocess.Popen[str]
    stderr: Path
    shots: Path


def _streamlab(command: str, root: Path) -> list[str]:
    return [sys.executable, "-m", "streamlab", command, "--root", str(root)]


def _get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as answer:
        data: dict[str, Any] = json.loads(answer.read())
        return data


def _wait_for_server(url: str, process: subprocess.Popen[str], stderr: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"streamlab live ended early: {stderr.read_text()[-2000:]}")
        try:
            _get(url + "api/state")
            return
        except OSError:
            time.sleep(0.5)
    pytest.fail("the dashboard did not start within 2 minutes")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRun]:
    base = tmp_path_factory.mktemp("live-run")
    root, stderr = base / "lab", base / "stderr.txt"
    port = closed_port()
    # The tumbling windows with their late capture, and the join: what the page is tested on.
    command = [*_streamlab("live", root), "windowed_agg", "late_data", "stream_join"]
    command += ["--every", "4s", "--rate", "5/s", "--duration", "30m", "--port", str(port)]
    with stderr.open("w") as err:
        process = subprocess.Popen(
            [*command, "--json"],
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env={**os.environ, "STREAMLAB_ROOT": str(root)},
        )
    run = LiveRun(root, f"http://127.0.0.1:{port}/", process, stderr, base / "screenshots")
    run.shots.mkdir()
    try:
        _wait_for_server(run.url, process, stderr)
        yield run
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=240)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="module")
def page(live: LiveRun) -> Iterator[Any]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("no chromium: apt-get install chromium")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1500, "height": 1500})
        tab.goto(live.url)
        yield tab
        browser.close()


def _number(page: Any, selector: str) -> int:
    return int(page.inner_text(selector).strip() or 0)


def test_the_watermark_advances_and_a_window_turns_emitted(live: LiveRun, page: Any) -> None:
    page.wait_for_function(
        "document.getElementById('watermark-events').textContent !== '-'", timeout=WAIT_MS
    )
    first = page.inner_text("#watermark-events")
    # The next batch's watermark, computed when a batch ends, and the join's.
    upcoming = {}
    for query in (TUMBLING, JOIN):
        page.wait_for_function(f"latest.next_watermarks[{json.dumps(query)}]", timeout=WAIT_MS)
        upcoming[query] = page.evaluate(f"latest.next_watermarks[{json.dumps(query)}]")
    page.wait_for_function(
        f"document.getElementById('watermark-events').textContent > {json.dumps(first)}",
        timeout=WAIT_MS,
    )
    page.wait_for_function(
        "+document.getElementById('windows-emitted').textContent > 0", timeout=WAIT_MS
    )
    # The page shows what the server says: an emitted window is in the table Spark wrote.
    state = _get(live.url + "api/state")
    emitted = [w for w in state["windows"] if w["status"] == "emitted"]
    assert emitted and all(w["emitted_batch"] is not None for w in emitted)
    paths = LabPaths.resolve(live.root)
    assert row_count(table_ref(paths, "streaming_gold.events_tumbling").path)
    page.screenshot(path=str(live.shots / "emitted.png"), full_page=True)
    # Spark ran the next batch with exactly the watermark the page showed for it beforehand.
    for query, shown in upcoming.items():
        ran_next = f"latest.batch.processed[{json.dumps(query)}] > {shown['after_batch']}"
        page.wait_for_function(ran_next, timeout=WAIT_MS)
        ckpt = next(s for s in QUERIES if s.name == query).checkpoint(paths)
        ran = read_offsets(ckpt, shown["after_batch"] + 1).watermark_ms
        assert ran == shown["watermark_ms"], (query, shown)


def test_a_late_burst_from_the_page_shows_late_events(live: LiveRun, page: Any) -> None:
    landed = _get(live.url + "api/state")["batch"]["landed"]["events"]
    page.click("button[data-case='late-burst']")
    # The burst's batches land after the click; the page lists their late events.
    page.wait_for_function(
        f"latest.late_events.recent.filter(r => r.batch > {landed}).length >= 5", timeout=WAIT_MS
    )
    assert page.locator("#late tr").count() > 1  # the recent late events, listed
    state = _get(live.url + "api/state")
    burst = [r for r in state["late_events"]["recent"] if r["batch"] > landed]
    late_dots = {d[3] for d in state["pictures"]["events"]["dots"] if d[2] == "l"}
    assert {r["event_id"] for r in burst} <= late_dots, "drawn as dropped"
    page.screenshot(path=str(live.shots / "late-burst.png"), full_page=True)


def test_an_idle_input_from_the_page_raises_the_warning(live: LiveRun, page: Any) -> None:
    page.click("button[data-case='idle']")
    warning = "#warnings li[data-symptom='watermark_not_advancing']"
    page.wait_for_selector(warning, timeout=WAIT_MS)
    text = page.inner_text(warning)
    assert "stream_join" in text and "Fix:" in text
    page.screenshot(path=str(live.shots / "idle.png"), full_page=True)
    assert (live.shots / "idle.png").stat().st_size > 10_000


def test_a_second_live_on_the_same_root_is_refused(live: LiveRun) -> None:
    result = subprocess.run(
        [*_streamlab("live", live.root), "--port", str(closed_port())],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "is in use by" in lines[0], result.stderr


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_sigterm_stops_cleanly_and_the_state_matches_checkpoints_and_tables(
    live: LiveRun,
) -> None:
    # Run alone, this test must not stop the lab before Spark has dropped a late row.
    deadline = time.monotonic() + WAIT_MS / 1000
    while _get(live.url + "api/state")["late_events"]["total"] == 0:
        assert time.monotonic() < deadline, "no late event within the wait"
        time.sleep(1)
    # What `timeout` and service managers send: a clean stop, as for Ctrl-C, and exit 0.
    written = len(live.stderr.read_text())
    live.process.send_signal(signal.SIGTERM)
    out, _ = live.process.communicate(timeout=240)
    errors = live.stderr.read_text()[written:]  # what the stop printed
    assert live.process.returncode == 0, out[-3000:] + errors[-3000:]
    assert "\tat " not in errors, "a Java stack trace: " + errors[-3000:]
    summary = json.loads(out)
    assert summary["ok"] is True and summary["late_events"] > 0
    paths = LabPaths.resolve(live.root)
    for spec in QUERIES:
        assert find_damage(spec.checkpoint(paths)) is None, spec.name

    before = snapshot(live.root)
    port = closed_port()
    ui = subprocess.Popen(
        [*_streamlab("ui", live.root), "--port", str(port), "--duration", "3m", "--json"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_for_server(url, ui, live.stderr)
        state = _get(url + "api/state")
    finally:
        ui.send_signal(signal.SIGINT)
        ui.wait(timeout=300)
    assert state["mode"] == "ui"
    for spec in QUERIES:
        committed = committed_batches(spec.checkpoint(paths))
        if not committed:
            continue
        assert state["batch"]["processed"][spec.name] == committed[-1], spec.name
        watermark = read_offsets(spec.checkpoint(paths), committed[-1]).watermark_ms
        assert state["watermarks"][spec.name] == _iso(watermark), spec.name
    # Late events: the rows of late_events, one for one.
    assert state["late_events"]["total"] == row_count(table_ref(paths, LATE_TABLE).path)
    # Emitted windows: those in events_tumbling, with their counts.
    import pyarrow.parquet as pq

    counts: dict[int, int] = {}
    for file in committed_files(table_ref(paths, "streaming_gold.events_tumbling").path):
        for row in pq.read_table(file).to_pylist():
            start = int(row["window_start"].replace(tzinfo=UTC).timestamp() * 1000)
            counts[start] = counts.get(start, 0) + int(row["event_count"])
    shown = {w["start_ms"]: w["count"] for w in state["windows"] if w["status"] == "emitted"}
    assert shown and all(counts[s] == c for s, c in shown.items())
    assert state["join"]["clicks_matched"] == row_count(
        table_ref(paths, "streaming_silver.ad_clicks").path
    )
    assert state["batch"]["landed"]["events"] == summary["batches"]["landed"]["events"]
    assert TUMBLING in state["history"]
    assert snapshot(live.root) == before  # the ui is read-only

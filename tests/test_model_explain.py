"""Fates, stories and the ``explain`` command on a generated lab."""

from __future__ import annotations

import json
import types

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import streamlab.model as model
from streamlab.cli import app
from streamlab.lab.paths import LabPaths
from streamlab.model import ModelConfig, Rows, WindowSpec, explain_lab, report, simulate, story
from streamlab.model.explain import event_chunks, event_rows, events

S = 1000


def test_all_lists_the_public_api() -> None:
    exported = {
        name
        for name, value in vars(model).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name != "annotations"
    }
    assert exported == set(model.__all__)


def small_result():  # type: ignore[no-untyped-def]
    rows = Rows.from_batches(
        [[("a", 30 * S, "x"), ("dup", 31 * S, "x")], [("dup", 31 * S, "x")], [("late", 5 * S, "x")]]
    )
    return simulate(
        {"events": rows}, ModelConfig(delay_ms=10 * S, window=WindowSpec(10 * S, 10 * S))
    )


def test_report_has_batches_events_and_windows() -> None:
    data = report(small_result())
    assert [b["batch"] for b in data["batches"]] == [0, 1, 2]
    assert data["batches"][2]["late_watermark"] == "1970-01-01T00:00:21.000Z"
    fates = {e["event_id"]: e["fate"] for e in data["events"]}
    assert fates == {"a": "counted", "dup": "duplicate", "late": "late"}
    assert data["windows"] == [
        {
            "start": "1970-01-01T00:00:30.000Z",
            "end": "1970-01-01T00:00:40.000Z",
            "event_type": "x",
            "count": 2,
            "emitted_batch": None,
        }
    ]


def test_story_names_the_watermark_and_the_gap() -> None:
    text = story(small_result(), "late")
    assert "late watermark 1970-01-01 00:00:21 (by 16s)" in text


def test_story_of_unknown_event_is_one_line_error() -> None:
    from streamlab.errors import StreamlabError

    with pytest.raises(StreamlabError, match="no event"):
        story(small_result(), "nope")


def test_explain_lab_counts_every_landed_event(guide_lab: LabPaths) -> None:
    result = explain_lab(guide_lab, ModelConfig())
    events = report(result)["events"]
    assert len(events) == 10 * 105  # 100 events + 5 re-sent per batch
    assert {e["fate"] for e in events} <= {
        "counted",
        "late",
        "duplicate",
        "partly_dropped",
        "dropped_late",
    }


def test_cli_json_and_event(guide_lab: LabPaths) -> None:
    runner = CliRunner()
    out = runner.invoke(
        app,
        [
            "explain",
            "--root",
            str(guide_lab.root),
            "--json",
            "--window",
            "10m",
            "--slide",
            "5m",
            "--watermark",
            "2m",
        ],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert {"batches", "events", "windows"} <= data.keys()
    assert {"batch", "late_watermark", "eviction_watermark"} <= data["batches"][0].keys()
    assert {"event_id", "fate"} <= data["events"][0].keys()
    # The counts of fates are the per-event fates counted, and a person is shown them.
    counted: dict[str, int] = {}
    for e in data["events"]:
        counted[e["fate"]] = counted.get(e["fate"], 0) + 1
    assert data["fates"] == counted
    text = runner.invoke(
        app,
        [
            "explain",
            "--root",
            str(guide_lab.root),
            "--watermark",
            "2m",
            "--window",
            "10m",
            "--slide",
            "5m",
        ],
    )
    assert text.exit_code == 0, text.output
    assert "Fates: " + ", ".join(f"{k} {v}" for k, v in sorted(counted.items())) in text.stdout
    event_id = data["events"][0]["event_id"]
    story_out = runner.invoke(app, ["explain", "--root", str(guide_lab.root), "--event", event_id])
    assert story_out.exit_code == 0
    assert event_id in story_out.stdout


def test_cli_join_and_bad_option(guide_lab: LabPaths) -> None:
    runner = CliRunner()
    out = runner.invoke(
        app,
        [
            "explain",
            "stream_join",
            "--join",
            "left-outer",
            "--json",
            "--root",
            str(guide_lab.root),
            "--trigger",
            "10s",
        ],
    )
    assert out.exit_code == 0, out.output
    data = json.loads(out.stdout)
    assert "join" in data
    assert sum(data["fates"].values()) == len(data["events"])  # both sides
    bad = runner.invoke(app, ["explain", "--root", str(guide_lab.root), "--window", "soon"])
    assert bad.exit_code == 2


def _sliding(guide_lab: LabPaths) -> object:
    return explain_lab(
        guide_lab, ModelConfig(delay_ms=120 * S, window=WindowSpec(600 * S, 300 * S))
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(size=st.integers(1, 400), picks=st.sets(st.integers(0, 10 * 105 - 1), max_size=60))
def test_chunks_and_picked_rows_are_the_whole_list_cut(
    guide_lab: LabPaths, size: int, picks: set[int]
) -> None:
    result = _sliding(guide_lab)
    whole = report(result)["events"]  # built in one chunk
    assert len(whole) == 10 * 105
    chunks = list(event_chunks(result, size=size))
    assert all(len(c) <= size for c in chunks)
    assert [e for c in chunks for e in c] == whole
    chosen = sorted(picks)
    assert events(result, chosen) == [whole[i] for i in chosen]


def test_event_rows_are_every_copy_on_every_side(guide_lab: LabPaths) -> None:
    result = _sliding(guide_lab)
    whole = report(result)["events"]
    duplicate = next(e for e in whole if e["fate"] == "duplicate")["event_id"]
    places = event_rows(result, duplicate).tolist()
    assert places == [i for i, e in enumerate(whole) if e["event_id"] == duplicate]
    assert len(places) >= 2
    joined = explain_lab(guide_lab, ModelConfig(pipeline="stream_join"))
    both = report(joined)["events"]
    impression = next(e for e in both if e["source"] == "impressions" and e["joined_with"])
    assert events(joined, event_rows(joined, impression["event_id"])) == [
        e for e in both if e["event_id"] == impression["event_id"]
    ]


@pytest.mark.parametrize("pipeline", ["windowed_agg", "stream_join"])
def test_cli_json_streams_what_report_holds(guide_lab: LabPaths, pipeline: str) -> None:
    """``explain --json`` writes the events a chunk at a time: the same JSON as the report."""
    out = CliRunner().invoke(app, ["explain", pipeline, "--root", str(guide_lab.root), "--json"])
    assert out.exit_code == 0, out.output
    expected = report(explain_lab(guide_lab, ModelConfig(pipeline=pipeline)))
    assert json.loads(out.stdout) == expected

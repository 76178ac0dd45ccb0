"""The generators' distributions and guarantees, checked on the JSON they write."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamlab.errors import StreamlabError
from streamlab.raw.generator import EVENT_TYPES, GeneratorConfig, generate, parse_base_time

BASE = parse_base_time("2026-01-01T09:00:00")


def rows(cfg: GeneratorConfig, source: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for batch in generate(cfg, (source,)):
        out += [orjson.loads(line) for line in batch.lines.splitlines()]
    return out


def ts(text: object) -> datetime:
    return datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S")


def test_guide_schema_and_sizes() -> None:
    cfg = GeneratorConfig(base_time=BASE)
    events = rows(cfg, "events")
    assert list(events[0]) == [
        "event_id",
        "user_id",
        "event_type",
        "value",
        "event_time",
        "processing_time",
    ]
    unique = {e["event_id"] for e in events}
    assert len(unique) == 1000
    assert len(events) == 1050  # 5% re-sent, reported apart
    assert all(
        str(e["event_id"]).startswith("EVT") and len(str(e["event_id"])) == 11 for e in events
    )
    assert {e["event_type"] for e in events} == set(EVENT_TYPES)
    users = {e["user_id"] for e in events}
    assert users <= {f"USER{i:03d}" for i in range(1, 101)} and len(users) > 90
    assert all(1 <= float(str(e["value"])) <= 100 for e in events)
    assert all(round(float(str(e["value"])), 2) == float(str(e["value"])) for e in events)
    assert len(rows(cfg, "impressions")) == 500
    assert len(rows(cfg, "clicks")) == 100


def test_late_share_and_lateness_range() -> None:
    cfg = GeneratorConfig(base_time=BASE)
    late = on_time = 0
    seen: set[object] = set()
    for e in rows(cfg, "events"):
        if e["event_id"] in seen:
            continue  # a re-sent copy: judged by its first arrival
        seen.add(e["event_id"])
        behind = (ts(e["processing_time"]) - ts(e["event_time"])).total_seconds()
        assert 0 <= behind <= 1800
        if behind >= 300:
            late += 1
        else:
            on_time += 1
    assert late == 100 and on_time == 900


def test_duplicates_repeat_an_earlier_event_exactly() -> None:
    cfg = GeneratorConfig(base_time=BASE)
    first: dict[object, dict[str, object]] = {}
    batch_of: dict[object, int] = {}
    dups = 0
    for batch in generate(cfg, ("events",)):
        for line in batch.lines.splitlines():
            e = orjson.loads(line)
            key = e["event_id"]
            if key in first:
                dups += 1
                same = {k: v for k, v in e.items() if k != "processing_time"}
                assert same == {k: v for k, v in first[key].items() if k != "processing_time"}
                assert batch.batch - batch_of[key] <= 2
            else:
                first[key], batch_of[key] = e, batch.batch
        listed = {d["event_id"] for d in batch.manifest["duplicates"]}
        assert len(listed) == len(batch.manifest["duplicates"])
    assert dups == 50


def test_clicks_follow_their_impressions_within_ten_minutes() -> None:
    cfg = GeneratorConfig(base_time=BASE)
    impressions = {i["impression_id"]: ts(i["impression_time"]) for i in rows(cfg, "impressions")}
    orphans = 0
    for batch in generate(cfg, ("clicks",)):
        now = ts(batch.manifest["batch_time"])
        for line in batch.lines.splitlines():
            c = orjson.loads(line)
            shown = impressions.get(c["impression_id"])
            if shown is None:
                orphans += 1
                assert c["click_id"] in batch.manifest["orphans"]
                continue
            delay = (ts(c["click_time"]) - shown).total_seconds()
            assert 0 <= delay <= 600
            assert ts(c["click_time"]) <= now
            ref_batch = int(str(c["impression_id"])[3:7])
            assert batch.batch - 2 <= ref_batch <= batch.batch
    assert orphans == 10


def test_same_seed_and_base_time_give_the_same_bytes() -> None:
    a = [b.lines for b in generate(GeneratorConfig(base_time=BASE, seed=5))]
    b = [b.lines for b in generate(GeneratorConfig(base_time=BASE, seed=5))]
    c = [b.lines for b in generate(GeneratorConfig(base_time=BASE, seed=6))]
    assert a == b and a != c


def test_extending_a_lab_keeps_its_batches() -> None:
    short = [b.lines for b in generate(GeneratorConfig(base_time=BASE, batches=3))]
    long = [b.lines for b in generate(GeneratorConfig(base_time=BASE, batches=5))]
    assert long[: len(short)] == short


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    events=st.integers(1, 300),
    late=st.floats(0, 1),
    dup=st.floats(0, 1),
    orphan=st.floats(0, 1),
    imps=st.integers(1, 60),
    batches=st.integers(1, 4),
    lo=st.integers(0, 600),
    span=st.integers(0, 1200),
)
def test_guarantees_hold_for_any_settings(
    events: int,
    late: float,
    dup: float,
    orphan: float,
    imps: int,
    batches: int,
    lo: int,
    span: int,
) -> None:
    cfg = GeneratorConfig(
        base_time=BASE,
        events_per_batch=events,
        late_share=late,
        duplicate_share=dup,
        orphan_share=orphan,
        impressions_per_batch=imps,
        clicks_per_batch=min(10, imps),
        batches=batches,
        lateness_min=lo,
        lateness_max=lo + span,
    )
    for batch in generate(cfg):
        lines = [orjson.loads(x) for x in batch.lines.splitlines()]
        m = batch.manifest
        assert len(lines) == m["rows"]
        if batch.source == "events":
            assert len(m["late"]) == round(events * late)
            assert len(m["duplicates"]) == round(events * dup)
            now = ts(m["batch_time"])
            late_ids = set(m["late"])
            for e in lines:
                own = str(e["event_id"]).startswith(f"EVT{batch.batch:04d}")
                if own and e["event_id"] in late_ids:
                    assert lo <= (now - ts(e["event_time"])).total_seconds() <= lo + span
            assert Counter(e["event_id"] for e in lines).most_common(1)[0][1] <= 2
        if batch.source == "clicks":
            assert len(m["orphans"]) == round(min(10, imps) * orphan)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"events_per_batch": 0}, "--events-per-batch must be a positive number"),
        ({"batches": -1}, "--batches must be a positive number"),
        ({"late_share": 1.5}, "--late-share must be a share between 0 and 1"),
        ({"duplicate_share": -0.1}, "--duplicate-share must be a share"),
        ({"lateness_min": 900, "lateness_max": 300}, "lateness range is upside down"),
        ({"clicks_per_batch": 60}, "--clicks-per-batch"),
    ],
)
def test_bad_settings_are_refused_with_the_option_named(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(StreamlabError, match=message):
        GeneratorConfig(base_time=BASE, **change)  # type: ignore[arg-type]


def test_base_time_parsing() -> None:
    assert parse_base_time("2026-01-01T09:00:00Z") == BASE
    assert parse_base_time("2026-01-01T10:00:00+01:00") == BASE
    with pytest.raises(StreamlabError, match="--base-time"):
        parse_base_time("yesterday")
    assert GeneratorConfig(base_time=BASE).batch_time(2) == BASE + timedelta(minutes=10)

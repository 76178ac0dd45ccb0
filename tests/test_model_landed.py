"""The model's reading of landed files agrees with the quarantine's rules, value for value,
whether it parses them or reads the lab's cache of their columns."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamlab.ingest.rules import QuarantineConfig, parse_time_text
from streamlab.lab.paths import LabPaths
from streamlab.model import landed
from streamlab.model.events import Rows, factorize, first_rows, objects
from streamlab.model.landed import load_source, parse_times

moments = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59))
well_formed = moments.map(lambda m: m.strftime("%Y-%m-%d %H:%M:%S").rjust(19, "0"))
# Every field out of its range at times: month 13, day 31 of a 30-day month, Feb 29 of a
# non-leap year, hour 24, second 60, year 0000.
fields = st.tuples(
    st.integers(0, 9999),
    st.integers(0, 19),
    st.integers(0, 39),
    st.integers(0, 29),
    st.integers(0, 69),
    st.integers(0, 69),
).map(lambda f: "{:04d}-{:02d}-{:02d} {:02d}:{:02d}:{:02d}".format(*f))
shaped = st.text(alphabet="0123456789-: T", min_size=17, max_size=21)
odd = st.sampled_from(
    ["", "2026-01-01", "2026-01-01T09:00:00", "２０２６-01-01 09:00:00", "2026-01-01 09:00:00Z"]
)
values = st.lists(st.one_of(well_formed, fields, shaped, odd, st.none()), max_size=40)


@given(values)
def test_parse_times_is_the_quarantine_rule(texts: list[str | None]) -> None:
    ms, valid = parse_times(texts)
    want = [parse_time_text(t) for t in texts]
    assert valid.tolist() == [w is not None for w in want]
    assert ms.tolist() == [w or 0 for w in want]


def test_a_known_moment() -> None:
    text = "2024-02-29 23:59:59"
    want = int(datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC).timestamp() * 1000)
    assert parse_times([text])[0].tolist() == [want]


# The model's reading of whole landed files, parsed or from the lab's cache of their columns.

field_text = st.text(
    # What a JSON writer leaves unescaped: the generator's lines, which the cache holds.
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\\'),
    max_size=6,
)
event = st.fixed_dictionaries(
    {
        "event_id": field_text,
        "user_id": field_text,
        "event_type": st.sampled_from(["click", "view", "purchase", "ünïcode", ""]),
        "value": st.floats(0, 100, allow_nan=False).map(lambda v: round(v, 2)),
        "event_time": st.one_of(well_formed, fields),
        "processing_time": st.one_of(well_formed, fields),
    }
)


ROW = {
    "event_id": "e1",
    "user_id": "u1",
    "event_type": "click",
    "value": 1.0,
    "event_time": "2026-01-01 09:00:00",
    "processing_time": "2026-01-01 09:01:00",
}
"""One event of the generator's shape."""
ORDER = ("event_id", "user_id", "event_type", "value", "event_time", "processing_time")


def _lab(root: Path, batches: list[list[dict[str, object]]]) -> LabPaths:
    paths = LabPaths.resolve(root)
    for b, rows in enumerate(batches):
        folder = paths.batch("events", b)
        folder.mkdir(parents=True)
        # The generator's order of fields, which the model reads without the JSON parser.
        lines = "".join(orjson.dumps({k: r[k] for k in ORDER}).decode() + "\n" for r in rows)
        (folder / "part-00000.json").write_text(lines, encoding="utf-8")
    return paths


def _expected(batches: list[list[dict[str, object]]]) -> list[tuple[int, int, str, str]]:
    """The usable events by the quarantine's rule, one at a time: (batch, ms, key, group)."""
    skew = QuarantineConfig().max_skew_ms
    out = []
    for b, rows in enumerate(batches):
        for r in rows:
            ms = parse_time_text(str(r["event_time"]))
            processing = parse_time_text(str(r["processing_time"]))
            if ms is None or processing is None:
                continue
            if skew is not None and ms - processing > skew:
                continue
            out.append((b, ms, str(r["event_id"]), str(r["event_type"])))
    return out


def _rows(rows: Rows) -> list[tuple[int, int, str, str]]:
    return list(
        zip(
            rows.batch.tolist(),
            rows.time_ms.tolist(),
            rows.key.tolist(),
            rows.group.tolist(),
            strict=True,
        )
    )


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.lists(event, max_size=12), min_size=1, max_size=3))
def test_cached_columns_are_the_parsed_ones(
    tmp_path_factory: pytest.TempPathFactory, batches: list[list[dict[str, object]]]
) -> None:
    paths = _lab(tmp_path_factory.mktemp("lab"), batches)
    first = _rows(load_source(paths, "events"))
    assert first == _expected(batches)
    assert len(list((paths.cache / "model").glob("events-*.npz"))) == len(
        {(paths.batch("events", b) / "part-00000.json").read_bytes() for b in range(len(batches))}
    )
    assert _rows(load_source(paths, "events")) == first  # read back from the cache


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(event, min_size=1, max_size=12),
    st.integers(1, 400),
    st.sampled_from(["none", "blank", "other order"]),
)
def test_a_file_read_in_pieces_gives_the_rows_of_one_read(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    rows: list[dict[str, object]],
    piece: int,
    extra: str,
) -> None:
    # A file is read a few bytes at a time: blank lines are skipped in any piece, and a line
    # of another shape in any piece sends the whole file through the quarantine's rules.
    monkeypatch.setattr(landed, "_PIECE_BYTES", piece)
    paths = _lab(tmp_path_factory.mktemp("lab"), [rows])
    file = paths.batch("events", 0) / "part-00000.json"
    lines = file.read_text(encoding="utf-8").splitlines(keepends=True)
    if extra == "blank":
        lines.insert(len(lines) // 2, "\n")
    elif extra == "other order":
        lines.append(orjson.dumps(dict(reversed(list(ROW.items())))).decode() + "\n")
    file.write_text("".join(lines), encoding="utf-8")
    want = _expected([[*rows, ROW] if extra == "other order" else rows])
    assert _rows(load_source(paths, "events")) == want
    assert _rows(load_source(paths, "events")) == want  # from the cache, if any
    cached = list((paths.cache / "model").glob("events-*.npz"))
    assert len(cached) == (extra != "other order")


def test_an_edited_file_is_read_again(tmp_path: Path) -> None:
    row = dict(ROW)
    paths = _lab(tmp_path, [[row]])
    assert load_source(paths, "events").key.tolist() == ["e1"]
    data = paths.batch("events", 0) / "part-00000.json"
    data.write_text(orjson.dumps({**row, "event_id": "e2"}).decode() + "\n", encoding="utf-8")
    assert load_source(paths, "events").key.tolist() == ["e2"]


def test_a_damaged_cache_is_parsed_again_and_other_lines_are_never_cached(tmp_path: Path) -> None:
    row = dict(ROW)
    paths = _lab(tmp_path, [[row]])
    load_source(paths, "events")
    (cache,) = (paths.cache / "model").glob("*.npz")
    cache.write_bytes(cache.read_bytes()[:100])
    assert load_source(paths, "events").key.tolist() == ["e1"]
    assert cache.stat().st_size > 100  # written again
    # A line that is not the generator's (fields reordered) goes through the quarantine's rules.
    shutil.rmtree(paths.cache)
    reordered = {
        "event_time": row["event_time"],
        **{k: v for k, v in row.items() if k != "event_time"},
    }
    data = paths.batch("events", 0) / "part-00000.json"
    data.write_text(orjson.dumps(reordered).decode() + "\nnot json\n", encoding="utf-8")
    assert load_source(paths, "events").key.tolist() == ["e1"]
    assert not paths.cache.exists()


def test_a_read_only_lab_is_read_without_a_cache(tmp_path: Path) -> None:
    row = dict(ROW)
    paths = _lab(tmp_path, [[row]])
    paths.cache.write_text("not a folder")  # the cache cannot be made
    assert load_source(paths, "events").key.tolist() == ["e1"]


class _Clash:
    """A value whose hash is the same as every other's: the collision factorize must catch."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __hash__(self) -> int:
        return 7

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Clash) and other.name == self.name


@given(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "None", ""]), field_text)))
def test_factorize_numbers_values_by_first_appearance(values: list[object]) -> None:
    first: dict[object, int] = {}
    want = [first.setdefault(v, len(first)) for v in values]
    assert factorize(objects(values)).tolist() == want
    by_name: dict[str, int] = {}
    want = [by_name.setdefault(str(v), len(by_name)) for v in values]
    assert factorize(objects([_Clash(str(v)) for v in values])).tolist() == want


@given(st.lists(st.sampled_from(["a", "b", "c", "d"])))
def test_first_rows_are_where_each_value_first_appears(values: list[str]) -> None:
    want = [values.index(v) for v in dict.fromkeys(values)]
    assert first_rows(factorize(objects(values))).tolist() == want

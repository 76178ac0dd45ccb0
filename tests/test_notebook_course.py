"""A course-style notebook on a fresh lab: schemaless reads, Delta tables, chains, no triggers.

The notebook (``tests/data/notebooks/course_streaming.py``) is written as a Databricks course
writes it. It runs once for the module; the tests read what it left. Each learner mistake is
the same notebook with one change, cut after the cell that must fail, so it stays cheap.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from streamlab.lab.paths import LabPaths
from streamlab.notebook import RunResult, parse_notebook, run_notebook
from streamlab.raw.generator import GeneratorConfig
from streamlab.raw.provision import setup_lab
from tests.support.lab import BASE_TIME

COURSE = Path(__file__).parent / "data" / "notebooks" / "course_streaming.py"
SMALL = GeneratorConfig(
    base_time=BASE_TIME, batches=4, events_per_batch=40, impressions_per_batch=20
)
NAMES = ["bronze_events", "silver_events", "gold_windowed", "gold_ad_clicks", "display_query_1"]


def _landed(root: Path, source: str) -> list[dict[str, object]]:
    return [
        json.loads(line)
        for file in sorted((root / source).glob("batch_*/part-*.json"))
        for line in file.read_text().splitlines()
        if line.strip()
    ]


def _time(text: object) -> datetime:
    return datetime.strptime(str(text), "%Y-%m-%d %H:%M:%S")


@pytest.fixture(scope="module")
def course(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, RunResult]:
    root = tmp_path_factory.mktemp("course") / "lab"
    setup_lab(LabPaths.resolve(root), SMALL)
    return root, run_notebook(COURSE, spark, root, capture=True, timeout=900)


@pytest.mark.slow
def test_course_notebook_runs_end_to_end(
    spark: SparkSession, course: tuple[Path, RunResult]
) -> None:
    root, result = course
    assert result.status == "ok", result.to_dict()["error"]
    assert {c.status for c in result.cells} == {"ok"}
    # One notice per schemaless folder, one for Delta at its first use, and no other.
    assert len(result.notices) == 4
    assert sum("Delta Lake is not in this Spark" in n for n in result.notices) == 1
    assert all(".schema(" in n or "schema(" in n for n in result.notices[:3])
    # Every query the notebook started was drained and stopped, and is summed up.
    assert [q.name for q in result.queries] == NAMES
    assert not {q.name for q in spark.streams.active} & set(NAMES)
    events = _landed(root, "events")
    bronze = next(q for q in result.queries if q.name == "bronze_events")
    assert bronze.rows == len(events)
    assert bronze.batches >= 1
    silver = next(q for q in result.queries if q.name == "silver_events")
    assert silver.watermark is not None

    # The tables are in the lab's warehouse, holding what the data says they should.
    assert spark.table("streaming_bronze.events").count() == len(events)
    unique = {(e["event_id"], e["event_time"]): e for e in events}
    assert spark.table("streaming_silver.events").count() == len(unique)
    windows: Counter[tuple[datetime, str]] = Counter()
    for e in unique.values():
        t = _time(e["event_time"])
        start = t - timedelta(minutes=t.minute % 5, seconds=t.second)
        windows[(start, str(e["event_type"]))] += 1
    gold = spark.table("streaming_gold.windowed_metrics").collect()
    assert gold, "the watermark released no window"
    for row in gold:
        assert row["events"] == windows[(row["window"]["start"], row["event_type"])]
    impressions = {
        str(i["impression_id"]): _time(i["impression_time"]) for i in _landed(root, "impressions")
    }
    matches = 0
    for c in _landed(root, "clicks"):
        shown = impressions.get(str(c["impression_id"]))
        if shown is not None and shown <= _time(c["click_time"]) <= shown + timedelta(minutes=10):
            matches += 1
    joined = spark.table("streaming_gold.ad_clicks").count()
    assert 0 < joined <= matches
    for db in ("streaming_bronze", "streaming_silver", "streaming_gold"):
        assert (root / "warehouse" / f"{db}.db").is_dir()
    assert (
        root / "warehouse" / "streaming_gold.db" / "windowed_metrics" / "_spark_metadata"
    ).is_dir()


@pytest.mark.slow
def test_course_display_monitoring_and_show_tables(
    spark: SparkSession, course: tuple[Path, RunResult]
) -> None:
    root, result = course
    by_title = {c.number: c.output or "" for c in result.cells}
    display_cell, monitor_cell, show_cell = (by_title[n] for n in (9, 10, 11))
    assert "display() of stream display_query_1 (complete mode" in display_cell
    # The last redraw, when the run stopped the query, has the final counts per event type.
    assert "display() of stream display_query_1 (final, complete mode" in (result.closing or "")
    per_type = Counter(
        str(e["event_type"])
        for e in {(e["event_id"], e["event_time"]): e for e in _landed(root, "events")}.values()
    )
    for kind, n in per_type.items():
        assert f"|{kind.rjust(11)}|{str(n).rjust(5)}|" in (result.closing or "")
    # The time.sleep loop saw real progress; the handles answer as monitoring code reads them.
    assert "bronze batch " in monitor_cell
    seen = int(monitor_cell.split("bronze batch ")[1].split(": ")[1].split(" rows")[0])
    assert seen > 0
    active = monitor_cell.split("active: ")[1].splitlines()[0]
    assert all(repr(name) in active for name in NAMES)
    assert "table exists: True" in monitor_cell
    assert "ad_clicks" in show_cell and "windowed_metrics" in show_cell


def _cut(text: str, cell: int, path: Path) -> Path:
    """Write ``text`` up to the end of cell ``cell`` to ``path``: the run must stop there."""
    end = parse_notebook(text, COURSE.name).cells[cell - 1].last_line
    path.write_text("\n".join(text.split("\n")[:end]) + "\n")
    return path


MISTAKES = {
    "countDistinct": (
        [
            ("approx_count_distinct, col,", "col, countDistinct,"),
            ('approx_count_distinct("user_id")', 'countDistinct("user_id")'),
        ],
        7,
        'countDistinct("user_id")',
        "distinct aggregations (countDistinct, count(DISTINCT ...)) are not supported on a "
        "stream: use approx_count_distinct()",
    ),
    "ambiguous join column": (
        [
            ('    .withColumnRenamed("impression_id", "click_impression_id")\n', ""),
            ('"click_impression_id = impression_id AND "', '"impression_id = impression_id AND "'),
        ],
        8,
        "joined = impressions.join(",
        "a column name is ambiguous: both joined streams have a column of that name",
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("mistake", list(MISTAKES))
def test_course_mistake_stops_at_its_cell_and_line(
    spark: SparkSession, tmp_path: Path, mistake: str
) -> None:
    changes, cell, marker, message = MISTAKES[mistake]
    text = COURSE.read_text()
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    path = _cut(text, cell, tmp_path / "solution.py")
    line = next(i for i, t in enumerate(text.split("\n"), 1) if marker in t)
    root = tmp_path / "lab"
    setup_lab(LabPaths.resolve(root), SMALL)
    result = run_notebook(path, spark, root, capture=True)
    failure = result.failure
    assert failure is not None
    assert failure.where == f"cell {cell} (line {line} of solution.py)"
    assert failure.error.startswith(message), failure.error
    assert "\n" not in failure.error
    assert not {q.name for q in spark.streams.active} & set(NAMES)


def _parses(text: object) -> bool:
    try:
        _time(text)
    except (TypeError, ValueError):
        return False
    return True


@pytest.mark.slow
def test_query_failing_in_the_background_names_the_cell_that_started_it(
    spark: SparkSession, tmp_path: Path
) -> None:
    root = tmp_path / "lab"
    cfg = GeneratorConfig(base_time=BASE_TIME, batches=2, events_per_batch=20, bad_time_share=0.2)
    setup_lab(LabPaths.resolve(root), cfg)
    # The landed events hold times that do not parse: bronze's to_timestamp stops at them under
    # ANSI mode, in the query's thread, after cell 5 has started the query and returned.
    assert not all(_parses(e.get("event_time")) for e in _landed(root, "events"))
    text = COURSE.read_text()
    line = text.split("\n").index('    .toTable("streaming_bronze.events")') + 1
    result = run_notebook(_cut(text, 5, tmp_path / "solution.py"), spark, root, capture=True)
    failure = result.failure
    assert result.status == "failed"
    assert failure is not None
    assert (failure.number, failure.error_line) == (5, line)
    assert failure.where == f"cell 5 (line {line} of solution.py)"
    assert failure.error.startswith(
        "query bronze_events failed in the background: a value could not be parsed as a "
        "timestamp under ANSI mode, which stops the query"
    ), failure.error
    assert "try_to_timestamp" in failure.error
    assert "\n" not in failure.error
    assert [c.status for c in result.cells] == ["ok"] * 4 + ["failed"]
    # The failed batch committed nothing, to this lab's own bronze table.
    assert spark.table("streaming_bronze.events").count() == 0
    assert not {q.name for q in spark.streams.active} & set(NAMES)

"""``streamlab doctor`` on real runs that show each of the guide's troubleshooting cases."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from streamlab.cli import app
from streamlab.errors import StreamlabError
from streamlab.lab.paths import LabPaths
from streamlab.pipelines.config import PipelineConfig
from streamlab.raw.generator import Batch, GeneratorConfig
from streamlab.raw.landing import land
from streamlab.raw.provision import setup_lab
from streamlab.run.doctor import REMEDIES, Thresholds, diagnose, diagnose_log
from streamlab.run.progress import progress_log, read_progress
from streamlab.run.runner import run_pipelines
from tests.support.lab import BASE_TIME

SMALL = GeneratorConfig(
    base_time=BASE_TIME,
    batches=5,
    events_per_batch=30,
    impressions_per_batch=20,
    clicks_per_batch=6,
)


def symptoms(paths: LabPaths, **limits: object) -> dict[tuple[str, str], dict[str, object]]:
    found = diagnose_log(progress_log(paths), Thresholds(**limits))  # type: ignore[arg-type]
    return {(f.query, f.symptom): f.to_dict() for f in found}


def test_too_much_late_data_with_no_watermark_delay(spark: SparkSession, lab: LabPaths) -> None:
    from dataclasses import replace

    # Half the events 5-30 minutes late, and no delay: most late ones are dropped.
    setup_lab(lab, replace(SMALL, late_share=0.5))
    run_pipelines(spark, lab, ["dedup"], config=PipelineConfig.from_options(watermark_delay="0s"))
    found = symptoms(lab)
    late = found[("dedup", "late_data_dropped")]
    assert late["remedy"] == "Increase watermark delay"
    evidence = late["evidence"]
    assert isinstance(evidence, dict)
    assert evidence["dropped_by_watermark"] / evidence["input_rows"] >= 0.2
    # The guide's 10-minute delay drops far less.
    other = LabPaths.resolve(lab.root.parent / "healthy")
    setup_lab(other, SMALL)
    run_pipelines(spark, other, ["dedup"])
    assert not [k for k in symptoms(other) if k[1] == "late_data_dropped"]


def test_state_growing_with_a_huge_watermark_delay(spark: SparkSession, lab: LabPaths) -> None:
    setup_lab(lab, SMALL)
    run_pipelines(spark, lab, ["dedup"], config=PipelineConfig.from_options(watermark_delay="1d"))
    found = symptoms(lab, state_rows=50, growth_batches=3)
    state = found[("dedup", "state_too_large")]
    assert state["remedy"] == "Reduce watermark delay or increase window size"
    evidence = state["evidence"]
    assert isinstance(evidence, dict)
    assert evidence["state_rows_to"] > evidence["state_rows_from"] > 0
    # Below the size threshold nothing is reported.
    assert ("dedup", "state_too_large") not in symptoms(lab)


def test_join_producing_nothing_when_no_click_matches(spark: SparkSession, lab: LabPaths) -> None:
    from dataclasses import replace

    setup_lab(lab, replace(SMALL, orphan_share=1.0))
    run_pipelines(spark, lab, ["stream_join"])
    found = symptoms(lab)
    join = found[("stream_join/clicks", "join_produces_nothing")]
    assert join["remedy"] == REMEDIES["join_produces_nothing"]
    evidence = join["evidence"]
    assert isinstance(evidence, dict)
    assert evidence["input_rows"] == 5 * (20 + 6)
    assert evidence["output_rows"] == 0


def test_watermark_not_advancing_when_times_do_not_parse(
    spark: SparkSession, lab: LabPaths
) -> None:
    for batch in range(3):
        lines = "".join(
            f'{{"event_id":"E{batch}{i}","user_id":"U1","event_type":"click","value":1.0,'
            f'"event_time":"yesterday","processing_time":"now"}}\n'
            for i in range(5)
        )
        land(lab, Batch("events", batch, lines.encode(), {"rows": 5}))
    run_pipelines(spark, lab, ["watermark_test"])
    found = symptoms(lab)
    stuck = found[("watermark_test", "watermark_not_advancing")]
    assert stuck["remedy"] == "Ensure events have timestamps and data is flowing"
    assert "1970" in str(stuck["detail"])
    records = list(read_progress(progress_log(lab)))
    assert [r["input_rows"] for r in records if r["query"] == "watermark_test"] == [5, 5, 5]
    # The events themselves are kept, as bad records.
    bad = spark.read.parquet(str(lab.warehouse / "streaming_bronze.db" / "bad_records"))
    assert bad.where("reason = 'bad_timestamp'").count() == 15


def test_diagnose_on_records_and_cli(tmp_path: Path) -> None:
    assert diagnose([]) == []
    with pytest.raises(StreamlabError, match="streamlab run"):
        diagnose_log(tmp_path / "missing.jsonl")
    log = tmp_path / "lab" / "logs" / "progress.jsonl"
    log.parent.mkdir(parents=True)
    record = {
        "query": "q",
        "run_id": "r",
        "batch": 0,
        "input_rows": 10,
        "watermark": "1970-01-01T00:00:00.000Z",
        "state_rows": 0,
        "state_memory_bytes": 0,
        "dropped_by_watermark": 6,
        "state_operators": [
            {
                "operator": "dedupeWithinWatermark",
                "rows_total": 0,
                "rows_removed": 0,
                "memory_bytes": 0,
                "dropped_by_watermark": 6,
            }
        ],
        "output_rows": 4,
    }
    import json

    log.write_text("\n".join(json.dumps({**record, "batch": b}) for b in range(3)) + "\n{broken")
    result = CliRunner().invoke(app, ["doctor", "--root", str(tmp_path / "lab"), "--json"])
    assert result.exit_code == 0, result.output
    found = {(f["query"], f["symptom"]) for f in json.loads(result.output)}
    assert found == {("q", "late_data_dropped"), ("q", "watermark_not_advancing")}
    text = CliRunner().invoke(app, ["doctor", "--root", str(tmp_path / "lab")])
    assert "Remedy: Increase watermark delay" in text.output


def test_each_rule_judges_only_the_queries_it_applies_to() -> None:
    from streamlab.pipelines.registry import QUERIES, query_kinds
    from streamlab.run.doctor import RULES

    # Which rule can judge which of the lab's queries, from what each query computes.
    stateful = {"watermark_not_advancing", "state_too_large", "late_data_dropped"}
    expected = {
        "watermark_test": {"watermark_not_advancing"},  # stateless, watermarked
        "bad_records": set(),  # no watermark and no state, by design
        "dedup": stateful,
        "windowed_agg/tumbling": stateful,
        "windowed_agg/sliding": stateful,
        "stream_join/clicks": set(REMEDIES),
        # Windows over a left outer join: no output yet means windows still open, not no match.
        "stream_join/ctr": stateful,
    }
    kinds = query_kinds()
    assert set(kinds) == {q.name for q in QUERIES} == set(expected)
    assert {
        name: {r.symptom for r in RULES if r.applies(kinds[name])} for name in kinds
    } == expected
    assert [r.symptom for r in RULES] == list(REMEDIES)
    assert all(r.applies(None) for r in RULES), "a query of unknown kind gets every rule"


def stuck_records(query: str) -> list[dict[str, object]]:
    """Three batches that read rows and leave the watermark at 1970, as the quarantine does."""
    return [
        {
            "query": query,
            "run_id": "r",
            "batch": b,
            "input_rows": 10,
            "watermark": "1970-01-01T00:00:00.000Z",
            "event_time_max": None,
            "state_rows": 0,
            "state_memory_bytes": 0,
            "dropped_by_watermark": 0,
            "state_operators": [],
            "output_rows": 1,
        }
        for b in range(3)
    ]


def test_the_quarantine_is_not_judged_by_watermark_rules() -> None:
    # The false alarm once seen after a clean 'streamlab lab': bad_records has no watermark.
    assert diagnose(stuck_records("bad_records")) == []
    # The same numbers from a watermarked query are the guide's troubleshooting case.
    (found,) = diagnose(stuck_records("watermark_test"))
    assert found.symptom == "watermark_not_advancing"
    (unknown,) = diagnose(stuck_records("my_query"))
    assert unknown.symptom == "watermark_not_advancing"


def test_a_restart_with_nothing_new_is_no_evidence() -> None:
    # A query started again on a finished lab reports one progress without input, state
    # operators or event time: its watermark shows as 1970, but no batch ran.
    ran = [
        {**r, "watermark": f"2026-01-01T09:0{b}:00.000Z", "event_time_max": "2026-01-01"}
        for b, r in enumerate(stuck_records("dedup"))
    ]
    restart = {**ran[-1], "run_id": "again", "batch": 3, "input_rows": 0, "output_rows": -1}
    restart.update(watermark="1970-01-01T00:00:00.000Z", event_time_max=None)
    assert diagnose(ran) == []
    assert diagnose([*ran, restart]) == []

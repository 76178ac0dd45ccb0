"""The pipelines' tables against expectations computed with pandas from the landed files.

One guide-sized lab is run once for the module (every pipeline, AvailableNow). The model
below knows only what the landed files hold and Spark's documented rules: batch N is landed
batch N; the watermark after batch N is ``max(event_time so far) - delay``; batch N filters
late rows with the watermark batch N-1 ran with (semantics T1: the one computed after batch
N-2); the final no-data batch closes every window that ends at or before the last watermark.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from streamlab.lab.catalog import table_ref
from streamlab.lab.paths import LabPaths
from streamlab.raw.landing import DATA_FILE, landed_batches
from streamlab.run.checkpoint import batch_files, committed_batches, late_watermark
from streamlab.run.runner import RunResult
from tests.support.lab import GuideRun

DELAY_MS = 10 * 60_000
WINDOW_MS = 5 * 60_000


def landed(paths: LabPaths, source: str) -> pd.DataFrame:
    """Every landed row of ``source`` with its batch number, times in epoch ms."""
    frames = []
    for batch in landed_batches(paths, source):
        file = paths.batch(source, batch) / DATA_FILE
        df = pd.read_json(file, lines=True, dtype=False, convert_dates=False)
        df["batch"] = batch
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    for column in ("event_time", "impression_time", "click_time"):
        if column in out:
            out[column + "_ms"] = (
                pd.to_datetime(out[column], format="%Y-%m-%d %H:%M:%S", utc=True).astype("int64")
                // 1_000_000
            )
    return out


@dataclass
class Model:
    """What Spark should do to the events, derived from the files alone."""

    events: pd.DataFrame  # every row, with late_wm and late flag
    watermarks: list[int]  # watermark after each data batch
    first: pd.DataFrame  # the rows that survive dedup (first non-late occurrence per id)


def model_events(paths: LabPaths, delay_ms: int = DELAY_MS) -> Model:
    events = landed(paths, "events")
    after: list[int] = []
    wm, seen_max = 0, None
    for batch in sorted(events["batch"].unique()):
        top = int(events.loc[events["batch"] == batch, "event_time_ms"].max())
        seen_max = top if seen_max is None else max(seen_max, top)
        wm = max(wm, seen_max - delay_ms)
        after.append(wm)
    # batch N runs with after[N-1]; its late rows are filtered with what batch N-1 ran with.
    events["late_wm"] = [after[b - 2] if b >= 2 else 0 for b in events["batch"]]
    events["late"] = events["event_time_ms"] <= events["late_wm"]
    on_time = events[~events["late"]].sort_values(["batch"], kind="stable")
    first = on_time.drop_duplicates("event_id", keep="first")
    return Model(events, after, first)


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ran_lab(guide_run: GuideRun) -> tuple[LabPaths, RunResult]:
    return guide_run.paths, guide_run.result


def table(spark: SparkSession, paths: LabPaths, name: str) -> pd.DataFrame:
    return spark.read.parquet(str(table_ref(paths, name).path)).toPandas()


def test_bronze_holds_every_event_with_its_origin(spark: SparkSession, ran_lab) -> None:
    paths, _ = ran_lab
    expected = landed(paths, "events")
    bronze = table(spark, paths, "streaming_bronze.events")
    assert len(bronze) == len(expected)
    pairs = sorted(zip(bronze["event_id"], bronze["batch"], strict=True))
    assert pairs == sorted(zip(expected["event_id"], expected["batch"], strict=True))
    assert bronze["source_file"].str.endswith(DATA_FILE).all()
    assert str(bronze["event_time"].dtype).startswith("datetime64")
    assert bronze["event_time"].notna().all()


def test_dedup_keeps_one_row_per_event_id(spark: SparkSession, ran_lab) -> None:
    paths, _ = ran_lab
    model = model_events(paths)
    silver = table(spark, paths, "streaming_silver.events_dedup")
    assert silver["event_id"].is_unique
    # Late rows never reach the deduplication; a re-sent copy that was on time does.
    assert set(silver["event_id"]) == set(model.first["event_id"])
    assert len(silver) < len(model.events)


def test_late_events_are_exactly_what_spark_dropped(spark: SparkSession, ran_lab) -> None:
    paths, _ = ran_lab
    model = model_events(paths)
    late = table(spark, paths, "streaming_bronze.late_events")
    expected = model.events[model.events["late"]]
    assert len(late) > 0
    assert sorted(zip(late["event_id"], late["batch_id"], strict=True)) == sorted(
        zip(expected["event_id"], expected["batch"], strict=True)
    )
    wm_ms = late["late_watermark"].astype("int64") // 1000
    ev_ms = late["event_time"].astype("int64") // 1000
    if str(late["event_time"].dtype).endswith("[ns]"):
        wm_ms, ev_ms = wm_ms // 1000, ev_ms // 1000
    assert (late["lateness_ms"] == wm_ms - ev_ms).all()
    assert (late["lateness_ms"] >= 0).all()
    # Spark's own count of rows its deduplication dropped as late, batch by batch, agrees.
    log = [json.loads(line) for line in (paths.logs / "progress.jsonl").read_text().splitlines()]
    dropped = {
        r["batch"]: sum(
            op["dropped_by_watermark"]
            for op in r["state_operators"]
            if op["operator"] == "dedupeWithinWatermark"
        )
        for r in log
        if r["query"] == "windowed_agg/tumbling"
    }
    per_batch = late.groupby("batch_id").size().to_dict()
    assert {b: n for b, n in dropped.items() if n} == per_batch


def test_checkpoint_logs_name_the_files_and_watermarks(ran_lab) -> None:
    paths, _ = ran_lab
    ckpt = paths.checkpoint("windowed_agg/tumbling")
    model = model_events(paths)
    committed = committed_batches(ckpt)
    assert committed == list(range(11))  # ten data batches and the closing no-data batch
    for batch in range(10):
        (file,) = batch_files(ckpt, batch)
        assert file.endswith(f"batch_{batch:04d}/{DATA_FILE}")
        assert late_watermark(ckpt, batch) == (model.watermarks[batch - 2] if batch >= 2 else 0)
    assert batch_files(ckpt, 10) == []


def _window_counts(rows: pd.DataFrame, size_ms: int, slide_ms: int) -> pd.Series:
    parts = []
    for back in range(0, size_ms, slide_ms):
        start = (rows["event_time_ms"] - back) // slide_ms * slide_ms
        keep = (start <= rows["event_time_ms"]) & (rows["event_time_ms"] < start + size_ms)
        parts.append(
            pd.DataFrame(
                {
                    "start": start[keep],
                    "event_type": rows["event_type"][keep],
                    "value": rows["value"][keep],
                    "user_id": rows["user_id"][keep],
                }
            )
        )
    return pd.concat(parts)


def test_tumbling_windows_count_the_events_in_them_and_the_accounting_closes(
    spark: SparkSession, ran_lab
) -> None:
    paths, result = ran_lab
    model = model_events(paths)
    gold = table(spark, paths, "streaming_gold.events_tumbling")
    counted = _window_counts(model.first, WINDOW_MS, WINDOW_MS)
    final_wm = model.watermarks[-1]
    counted["end"] = counted["start"] + WINDOW_MS
    closed = counted[counted["end"] <= final_wm]
    expected = closed.groupby(["start", "event_type"]).agg(
        event_count=("value", "size"),
        value_sum=("value", "sum"),
        distinct_users=("user_id", "nunique"),
    )
    got = gold.assign(start=gold["window_start"].astype("int64") // 1_000_000)
    if str(gold["window_start"].dtype).endswith("[us]"):
        got["start"] = gold["window_start"].astype("int64") // 1000
    got = got.set_index(["start", "event_type"]).sort_index()
    assert len(got) == len(expected) > 0
    assert got.index.is_unique
    assert (got["event_count"] == expected["event_count"]).all()
    assert (got["distinct_users"] == expected["distinct_users"]).all()
    assert ((got["value_sum"] - expected["value_sum"]).abs() < 1e-6).all()
    assert ((got["value_avg"] - got["value_sum"] / got["event_count"]).abs() < 1e-6).all()

    (late_result,) = [p for p in result.pipelines if p.pipeline == "late_data"]
    acct = late_result.accounting
    assert acct is not None
    assert acct["closes"]
    # Each part of the accounting, computed independently.
    assert acct["input_events"] == len(model.events)
    assert acct["late_captured"] == int(model.events["late"].sum())
    assert acct["duplicates_removed"] == int((~model.events["late"]).sum()) - len(model.first)
    assert acct["counted_emitted"] == len(closed)
    assert acct["counted_open"] == len(counted) - len(closed)
    assert acct["quarantined"] == 0


def test_sliding_windows_count_each_event_in_each_of_its_windows(
    spark: SparkSession, ran_lab
) -> None:
    paths, _ = ran_lab
    model = model_events(paths)
    gold = table(spark, paths, "streaming_gold.events_sliding")
    counted = _window_counts(model.first, 2 * WINDOW_MS, WINDOW_MS)
    closed = counted[counted["start"] + 2 * WINDOW_MS <= model.watermarks[-1]]
    expected = closed.groupby(["start", "event_type"]).size()
    got = (
        gold.assign(
            start=pd.to_datetime(gold["window_start"], utc=True).astype("int64") // 1_000_000
        )
        .set_index(["start", "event_type"])["event_count"]
        .sort_index()
    )
    assert len(got) > 0
    assert got.to_dict() == expected.to_dict()
    assert ((gold["window_end"] - gold["window_start"]) == pd.Timedelta(minutes=10)).all()


def test_joined_clicks_are_0_to_10_minutes_after_their_impression(
    spark: SparkSession, ran_lab
) -> None:
    paths, _ = ran_lab
    impressions = landed(paths, "impressions")
    clicks = landed(paths, "clicks")
    joined = table(spark, paths, "streaming_silver.ad_clicks")
    assert len(joined) > 0
    assert joined["click_id"].is_unique
    assert ((joined["seconds_to_click"] >= 0) & (joined["seconds_to_click"] <= 600)).all()
    pairs = clicks.merge(impressions, on="impression_id", suffixes=("_c", "_i"))
    delta = pairs["click_time_ms"] - pairs["impression_time_ms"]
    expected = pairs[(delta >= 0) & (delta <= 600_000)]
    found = set(zip(joined["impression_id"], joined["click_id"], strict=True))
    wanted = set(zip(expected["impression_id"], expected["click_id"], strict=True))
    assert found <= wanted
    # A pair is missing only when the watermark dropped one of its rows as late.
    ckpt = paths.checkpoint("stream_join/clicks")
    for _, row in expected.iterrows():
        if (row["impression_id"], row["click_id"]) in found:
            continue
        dropped_click = row["click_time_ms"] <= late_watermark(ckpt, int(row["batch_c"]))
        dropped_imp = row["impression_time_ms"] <= late_watermark(ckpt, int(row["batch_i"]))
        assert dropped_click or dropped_imp, row.to_dict()


def test_summary_reports_every_pipeline(ran_lab) -> None:
    paths, result = ran_lab
    data = result.to_dict()
    assert [p["pipeline"] for p in data["pipelines"]] == [
        "watermark_test",
        "dedup",
        "windowed_agg",
        "stream_join",
        "late_data",
    ]
    assert data["ok"]
    queries = {q["name"]: q for p in data["pipelines"] for q in p["queries"]}
    assert queries["watermark_test"]["input_rows"] == queries["watermark_test"]["table_rows"]
    assert queries["dedup"]["dropped_duplicates"] > 0
    assert queries["windowed_agg/tumbling"]["watermark_ms"] > 0
    assert queries["windowed_agg/tumbling"]["state_rows"] > 0
    assert (paths.logs / "progress.jsonl").exists()


def test_ctr_counts_each_impression_once_its_window_is_final(spark: SparkSession, ran_lab) -> None:
    # An impression without a click is emitted by the outer join only once the watermark is
    # 10 minutes past it, and its window only when final: the table holds final windows only.
    paths, _ = ran_lab
    ckpt = paths.checkpoint("stream_join/ctr")
    impressions = landed(paths, "impressions")
    clicks = landed(paths, "clicks")
    # Both sides drop rows at or behind the watermark the batch before ran with (J1, T1).
    impressions = impressions[
        impressions["impression_time_ms"]
        > impressions["batch"].map(lambda b: late_watermark(ckpt, int(b)))
    ]
    clicks = clicks[
        clicks["click_time_ms"] > clicks["batch"].map(lambda b: late_watermark(ckpt, int(b)))
    ]
    pairs = impressions.merge(clicks, on="impression_id", suffixes=("", "_c"))
    delta = pairs["click_time_ms"] - pairs["impression_time_ms"]
    clicked = set(pairs.loc[(delta >= 0) & (delta <= 600_000), "impression_id"])
    impressions["start"] = impressions["impression_time_ms"] // WINDOW_MS * WINDOW_MS
    impressions["clicked"] = impressions["impression_id"].isin(clicked)
    expected = impressions.groupby(["start", "ad_id"]).agg(
        impressions=("impression_id", "nunique"), clicked=("clicked", "sum")
    )
    ctr = table(spark, paths, "streaming_gold.ad_ctr")
    assert len(ctr) > 0
    ctr["start"] = pd.to_datetime(ctr["window_start"], utc=True).astype("int64") // 1_000_000
    for _, row in ctr.iterrows():
        want = expected.loc[(row["start"], row["ad_id"])]
        assert row["impressions"] == want["impressions"], row.to_dict()
        assert row["clicked_impressions"] == want["clicked"], row.to_dict()
        assert row["ctr"] == pytest.approx(want["clicked"] / want["impressions"])
    # Windows are final: every window written is complete, and none is written twice.
    assert not ctr.duplicated(["start", "ad_id"]).any()
    final = ctr["start"].unique()
    assert len(expected.loc[expected.index.get_level_values(0).isin(final)]) == len(ctr)


def test_doctor_finds_nothing_on_the_guide_lab(ran_lab) -> None:
    from streamlab.run.doctor import diagnose_log
    from streamlab.run.progress import progress_log, read_progress

    paths, _ = ran_lab
    queries = {r["query"] for r in read_progress(progress_log(paths))}
    assert "bad_records" in queries and "stream_join/ctr" in queries
    assert [f.to_dict() for f in diagnose_log(progress_log(paths))] == []

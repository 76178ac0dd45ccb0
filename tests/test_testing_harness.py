"""The stream test harness on real Spark: steps, checks, restarts, crashes, the model's answer."""

from __future__ import annotations

from typing import Any

import pytest
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from streamlab.testing import (
    AddData,
    CheckAnswer,
    CheckLastBatch,
    CheckNewAnswer,
    CrashAndRestart,
    ExpectLate,
    ExpectStateRows,
    ExpectWatermark,
    ModelAnswer,
    StartStream,
    StopStream,
    StreamTestFailure,
)


def counts(events: DataFrame) -> DataFrame:
    return (
        events.withWatermark("event_time", "10 seconds")
        .groupBy(F.window("event_time", "5 seconds"))
        .count()
    )


def t(s: int) -> str:
    return f"2026-01-01 00:00:{s:02d}"


def test_late_event_is_dropped(stream_test: Any) -> None:
    # The example: window [10 s, 15 s) closes when the watermark reaches 15 s (25 - 10);
    # the event at 11 s arrives after that, behind the watermark, and is dropped.
    stream_test(counts, schema="event_time timestamp", output_mode="append").run(
        AddData([(t(10),), (t(14),)]),
        CheckNewAnswer([]),
        ExpectWatermark(t(4)),
        AddData([(t(25),)]),
        CheckNewAnswer([((t(10), t(15)), 2)]),
        ExpectWatermark(t(15)),
        ExpectStateRows(1),
        AddData([(t(11),)]),
        CheckNewAnswer([]),
        ExpectLate(1),
        ExpectLate([(t(11),)]),
        CheckAnswer([((t(10), t(15)), 2)]),
    )


def test_model_answer_matches_spark(stream_test: Any) -> None:
    stream_test(counts, schema="event_time timestamp", expect_model=True).run(
        AddData([(t(10),), (t(14),), (t(12),)]),
        CheckNewAnswer(),
        ExpectWatermark(ModelAnswer()),
        AddData([(t(25),), (t(3),)]),
        CheckNewAnswer(),
        ExpectStateRows(ModelAnswer()),
        AddData([(t(11),), (t(26),), (t(40),)]),
        CheckLastBatch(),
        CheckAnswer(),
        ExpectWatermark(ModelAnswer()),
        ExpectStateRows(ModelAnswer()),
    )


def sliding_sums(events: DataFrame) -> DataFrame:
    return (
        events.withWatermark("event_time", "5 seconds")
        .groupBy(F.window("event_time", "10 seconds", "5 seconds"), "user")
        .agg(F.sum("amount").alias("total"), F.count("*").alias("n"))
    )


def test_stop_start_and_crash_restart(stream_test: Any) -> None:
    # Sliding 10 s windows every 5 s, 5 s delay. A clean restart and a crash in the last batch
    # (offsets written, no commit) must both leave the output as if nothing had happened.
    stream_test(sliding_sums, schema="event_time timestamp, user string, amount long").run(
        AddData([(t(1), "a", 1), (t(7), "a", 2), (t(8), "b", 5)]),
        CheckNewAnswer([]),
        StopStream(),
        StartStream(),
        AddData([(t(21), "a", 10)]),  # watermark 16 s: [0,10) and [5,15) close
        CheckNewAnswer(  # the data batch leaves the watermark at 3 s; its no-data batch at 16 s
            [
                (("2025-12-31 23:59:55", t(5)), "a", 1, 1),
                ((t(0), t(10)), "a", 3, 2),
                ((t(0), t(10)), "b", 5, 1),
                ((t(5), t(15)), "a", 2, 1),
                ((t(5), t(15)), "b", 5, 1),
            ]
        ),
        CrashAndRestart(),
        CheckAnswer(ModelAnswer()),
        AddData([(t(4), "a", 100), (t(40), "b", 1)]),  # 4 s: both its windows ended by 16 s
        CheckNewAnswer(ModelAnswer()),
        ExpectLate([(t(4), "a", 100)]),
        CrashAndRestart(),
        CheckAnswer(ModelAnswer()),
        ExpectStateRows(ModelAnswer()),
    )


def test_wrong_watermark_delay_is_explained(stream_test: Any) -> None:
    def slow(events: DataFrame) -> DataFrame:  # the job waits 20 s, the test expects 10 s
        return (
            events.withWatermark("event_time", "20 seconds")
            .groupBy(F.window("event_time", "5 seconds"))
            .count()
        )

    with pytest.raises(StreamTestFailure) as failure:
        stream_test(slow, schema="event_time timestamp").run(
            AddData([(t(10),), (t(14),)]),
            CheckNewAnswer([]),
            AddData([(t(25),)]),
            CheckNewAnswer([((t(10), t(15)), 2)]),
        )
    text = str(failure.value)
    assert "step 4 CheckNewAnswer(rows) failed" in text
    assert (
        "window [00:00:10, 00:00:15) was expected in batch 3 when the watermark reached "
        "00:00:15; your query has not emitted it (its watermark is 00:00:05): its watermark "
        "delay is 20 seconds, not 10 seconds"
    ) in text, text

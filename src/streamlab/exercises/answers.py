"""The model's answers to the exercises whose answer is a number, a time or a list.

Each is computed by streamlab's model of Spark's event-time rules from a query's plan (the
same :class:`streamlab.testing.oracle.Oracle` the stream tests use), or, for the duplicate
exercises, from the landed records themselves. No query runs: building a plan is enough.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamlab.exercises.data import LabData, input_schema

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from streamlab.testing.oracle import Prediction


def _counts(size: str, slide: str | None, delay: str) -> Callable[..., DataFrame]:
    def query(events: DataFrame) -> DataFrame:
        from pyspark.sql import functions as F

        window = F.window("event_time", size, slide) if slide else F.window("event_time", size)
        return (
            events.withWatermark("event_time", delay)
            .groupBy(window, "event_type")
            .agg(F.count("*").alias("events"))
        )

    return query


def _dedup(events: DataFrame) -> DataFrame:
    return events.withWatermark("event_time", "10 minutes").dropDuplicatesWithinWatermark(
        ["event_id"]
    )


def _left_outer(impressions: DataFrame, clicks: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    imps = impressions.withWatermark("impression_time", "10 minutes")
    cl = clicks.withWatermark("click_time", "10 minutes").withColumnRenamed(
        "impression_id", "click_impression_id"
    )
    return imps.join(
        cl,
        F.expr(
            "impression_id = click_impression_id AND click_time >= impression_time "
            "AND click_time <= impression_time + interval 10 minutes"
        ),
        "leftOuter",
    )


def predict(
    spark: SparkSession, query: Callable[..., DataFrame], data: LabData, scratch: Path
) -> Prediction:
    """Return the model's prediction for ``query`` over every batch of ``data``."""
    from streamlab.testing.oracle import Oracle
    from streamlab.testing.source import ScriptedInput, parse_schema

    names = list(query.__code__.co_varnames[: query.__code__.co_argcount])
    inputs = {
        n: ScriptedInput(n, scratch / "inputs" / n, parse_schema(input_schema(n))) for n in names
    }
    df = query(**{n: i.frame(spark) for n, i in inputs.items()})
    oracle = Oracle.from_query(
        df, {n: i.schema for n, i in inputs.items()}, "append", df.schema.fieldNames()
    )
    return oracle.predict(landed_steps(data, names))


def landed_steps(data: LabData, names: list[str]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Return the ``AddData`` steps of a lab: per batch, one step per input, in order."""
    return [(n, data.batches[n][b]) for b in range(data.count) for n in names]


def _dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None)


def _landed_batch(pred: Prediction, batch: int) -> int | None:
    """Return the landed batch whose processing ran model batch ``batch``."""
    step = None
    for b in pred.batches[: batch + 1]:
        if b.data_step is not None:
            step = b.data_step
    return step


def expected_answer(
    slug: str, session: Callable[[], SparkSession], data: LabData, scratch: Path
) -> Any:
    """Return the model's answer to exercise ``slug`` on ``data`` (``session`` builds plans)."""
    counts = Counter(e["event_id"] for _, e in data.records("events"))
    if slug == "duplicate-rate":
        rows = sum(counts.values())
        return round((rows - len(counts)) / rows, 4)
    if slug == "duplicates-aside":
        return sorted(k for k, n in counts.items() if n > 1)
    spark = session()
    if slug == "next-watermark":
        return _dt(
            predict(spark, _counts("5 minutes", None, "10 minutes"), data, scratch).next_watermark
        )
    if slug == "delay-drops":
        pred = predict(spark, _counts("5 minutes", None, "5 minutes"), data, scratch)
        return sum(len(rows) for rows in pred.late.values())
    if slug == "window-emitted":
        pred = predict(spark, _counts("5 minutes", None, "10 minutes"), data, scratch)
        first = data.batches["events"][0][0]
        for key, batch in pred.emitted.items():
            start, end, kind = key[0], key[1], key[2]
            if start <= first["event_time"] < end and kind == first["event_type"]:
                return _landed_batch(pred, batch)
        return None
    if slug == "sliding-vs-tumbling":
        sliding = predict(spark, _counts("10 minutes", "5 minutes", "10 minutes"), data, scratch)
        tumbling = predict(spark, _counts("5 minutes", None, "10 minutes"), data, scratch)
        return len(sliding.rows_since(0)) - len(tumbling.rows_since(0))
    if slug == "slide-state":
        pred = predict(spark, _counts("10 minutes", "5 minutes", "10 minutes"), data, scratch)
        return pred.state_rows
    if slug == "dedup-state-rows":
        return predict(spark, _dedup, data, scratch).state_rows
    if slug == "unclicked-impressions":
        pred = predict(spark, _left_outer, data, scratch)
        return sum(1 for r in pred.rows_since(0) if r.get("click_id") is None)
    raise KeyError(slug)

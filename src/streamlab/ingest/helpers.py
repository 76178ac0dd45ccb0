"""The guide's Step 5 helpers, with its signatures and without its bugs.

The guide's versions stream JSON without a schema (refused by Spark), load ``events/`` without
reading its ``batch_NNNN/`` subfolders, and parse times with ``to_timestamp``, which under
Spark 4's ANSI mode kills the query on the first bad string. Its star import from
``pyspark.sql.functions`` also shadows Python's ``round`` and ``max``; streamlab never star-imports.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pyspark.sql import Column
from pyspark.sql import functions as F

from streamlab.durations import Duration, spark_interval, to_millis
from streamlab.errors import StreamlabError
from streamlab.ingest.schemas import SCHEMAS
from streamlab.ingest.sources import parse_time
from streamlab.raw.landing import DATA_GLOB

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming.query import StreamingQuery
    from pyspark.sql.types import StructType


def create_watermarked_stream(
    source_path: str,
    time_column: str,
    watermark_delay: Duration,
    *,
    spark: SparkSession | None = None,
    schema: StructType | None = None,
    files_per_trigger: int | None = 1,
) -> DataFrame:
    """Return a streaming DataFrame of the JSON batches under ``source_path``, watermarked.

    ``time_column`` is parsed to a timestamp (``NULL`` when it does not parse, instead of
    killing the query) and carries a watermark ``watermark_delay`` behind the latest event.
    ``schema`` defaults to the lab's schema for ``events``, ``impressions`` or ``clicks``,
    chosen by the folder's name. Every ``batch_NNNN/`` subfolder is read, one per trigger.

    >>> events = create_watermarked_stream("/tmp/streaming/events", "event_time",
    ...                                    "10 minutes")  # doctest: +SKIP
    """
    from pyspark.sql import SparkSession

    session = spark or SparkSession.active()
    folder = Path(str(source_path).removeprefix("dbfs:").removeprefix("file:").rstrip("/"))
    if schema is None:
        schema = SCHEMAS.get(folder.name)
        if schema is None:
            raise StreamlabError(
                f"no schema for {source_path}: a streaming JSON source needs one; "
                "pass schema=... or read one of events, impressions, clicks"
            )
    if time_column not in schema.fieldNames():
        raise StreamlabError(f"{time_column!r} is not a column of {source_path}")
    delay = spark_interval(to_millis(watermark_delay, what="watermark delay"))
    reader = session.readStream.schema(schema)
    if files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", files_per_trigger)
    pattern = str(folder / DATA_GLOB) if any(folder.glob("batch_*")) else str(folder)
    df = reader.json(pattern).withColumn(time_column, parse_time(time_column))
    return df.withWatermark(time_column, delay)


def create_windowed_aggregation(
    df: DataFrame,
    time_column: str,
    window_duration: Duration,
    group_columns: Sequence[str | Column] | None = None,
    agg_exprs: Sequence[Column] | None = None,
    *,
    slide_duration: Duration | None = None,
) -> DataFrame:
    """Group ``df`` by a window on ``time_column`` (plus ``group_columns``) and aggregate.

    Tumbling windows by default; ``slide_duration`` shorter than the window gives sliding
    windows. ``agg_exprs`` defaults to ``count(*) AS count``.

    >>> counts = create_windowed_aggregation(events, "event_time", "5 minutes",
    ...                                      ["event_type"])  # doctest: +SKIP
    """
    size = to_millis(window_duration, what="window duration")
    if size <= 0:
        raise StreamlabError("window duration must be longer than zero")
    slide = size
    if slide_duration is not None:
        slide = to_millis(slide_duration, what="slide duration")
        if not 0 < slide <= size:
            raise StreamlabError("slide duration must be longer than zero and at most the window")
    window = F.window(F.col(time_column), spark_interval(size), spark_interval(slide))
    exprs = list(agg_exprs) if agg_exprs else [F.count(F.lit(1)).alias("count")]
    groups = [window, *(group_columns or [])]
    return df.groupBy(*groups).agg(*exprs)


def monitor_watermark(
    query: StreamingQuery, duration: float = 30, *, poll: int = 1, out: TextIO | None = None
) -> list[str]:
    """Print each change of ``query``'s watermark for up to ``duration`` seconds.

    Returns the watermarks seen, in order. Stops early when the query ends, so it suits
    AvailableNow queries too. Unlike the guide's version it reads every progress report since
    the last poll, so no change is missed between polls.
    """
    stream = out or sys.stdout
    seen: list[str] = []
    reported = 0
    deadline = duration
    while True:
        finished = bool(query.awaitTermination(max(1, poll))) if deadline > 0 else True
        deadline -= max(1, poll)
        progress: list[dict[str, Any]] = list(query.recentProgress)
        for report in progress[reported:]:
            mark = (report.get("eventTime") or {}).get("watermark")
            if mark and (not seen or seen[-1] != mark):
                seen.append(mark)
                print(f"batch {report.get('batchId')}: watermark {mark}", file=stream)
        reported = len(progress)
        if finished or not query.isActive:
            return seen

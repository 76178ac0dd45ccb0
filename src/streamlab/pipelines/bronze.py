"""Bronze: every event that arrived, typed, with its event time parsed and a watermark.

Nothing is filtered here: an event whose time does not parse keeps a ``NULL`` event_time, so
bronze still holds everything that arrived. Each row keeps the file it came from and the
landed batch (``batch_NNNN``) it belongs to.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F

from streamlab.durations import spark_interval
from streamlab.pipelines.config import PipelineConfig

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

_BATCH_IN_PATH = r"batch_(\d+)"


def with_origin(df: DataFrame) -> DataFrame:
    """Add ``source_file`` (the file a row was read from) and ``batch`` (its landed batch).

    Uses the file source's hidden ``_metadata`` column, which streaming file sources carry.
    """
    if {"source_file", "batch"} <= set(df.columns):
        return df
    path = F.col("_metadata.file_path")
    return df.withColumn("source_file", path).withColumn(
        "batch", F.regexp_extract(path, _BATCH_IN_PATH, 1).cast("int")
    )


def bronze_events(raw: DataFrame, cfg: PipelineConfig) -> DataFrame:
    """Return the raw events with their origin and a watermark on ``event_time``.

    ``raw`` is :func:`streamlab.ingest.sources.read_source` of ``events`` (times already parsed).

    >>> bronze = bronze_events(read_source(spark, paths, "events"),
    ...                        PipelineConfig())  # doctest: +SKIP
    """
    return with_origin(raw).withWatermark("event_time", spark_interval(cfg.watermark_delay_ms))

"""Reading the lab's generated data with Spark: batch or streaming, only usable records.

The guide's ``spark.readStream.format("json").load(path)`` fails twice: a streaming file
source needs a schema, and a plain load of ``events/`` does not read the ``batch_NNNN/``
subfolders. These readers match every landed batch, parse each line with the source's schema
and keep only the records the quarantine accepts (:mod:`streamlab.ingest.quarantine`): the others
go to ``streaming_bronze.bad_records`` instead of breaking or silently skewing a query.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from streamlab.ingest.quarantine import QuarantineConfig, classify, read_lines, valid_records
from streamlab.ingest.schemas import parse_time
from streamlab.lab.paths import LabPaths

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["parse_time", "read_source"]


def read_source(
    spark: SparkSession,
    paths: LabPaths,
    source: str,
    *,
    streaming: bool = True,
    files_per_trigger: int | None = 1,
    quarantine: QuarantineConfig | None = None,
) -> DataFrame:
    """Return the usable records of ``source``'s landed batches, streaming by default.

    The columns are the source's schema with its times parsed to timestamps, then
    ``source_file`` and ``batch`` (the landed batch each record came from).

    Args:
        spark: the session to read with.
        paths: the lab whose data to read.
        source: ``events``, ``impressions`` or ``clicks``.
        streaming: a streaming DataFrame (default) or a static one.
        files_per_trigger: for streams, how many batch files one micro-batch takes; the
            default 1 makes every landed ``batch_NNNN/`` folder one micro-batch, in order.
        quarantine: which records to set aside (default: the clock-skew bound of 5 minutes).

    >>> events = read_source(spark, LabPaths.resolve(), "events")  # doctest: +SKIP

    """
    lines = read_lines(
        spark, paths, source, streaming=streaming, files_per_trigger=files_per_trigger
    )
    return valid_records(classify(lines, source, quarantine), source)

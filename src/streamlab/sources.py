"""Reading the lab's generated data with Spark: batch or streaming, always with a schema.

The guide's ``spark.readStream.format("json").load(path)`` fails twice: a streaming file
source needs a schema, and a plain load of ``events/`` does not read the ``batch_NNNN/``
subfolders. These readers pass the schema and a pattern that matches every landed batch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import Column
from pyspark.sql import functions as F

from streamlab.landing import source_glob
from streamlab.paths import LabPaths
from streamlab.schemas import SCHEMAS, TIME_COLUMNS, TIME_FORMAT

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def parse_time(column: str | Column) -> Column:
    """Parse a ``yyyy-MM-dd HH:mm:ss`` string to a timestamp; ``NULL`` when it does not parse.

    Spark 4 runs in ANSI mode, where ``to_timestamp`` on a bad string raises and kills the
    query; ``try_to_timestamp`` returns ``NULL`` instead, so the row can be set aside.
    """
    col = F.col(column) if isinstance(column, str) else column
    return F.try_to_timestamp(col, F.lit(TIME_FORMAT))


def read_source(
    spark: SparkSession,
    paths: LabPaths,
    source: str,
    *,
    streaming: bool = True,
    files_per_trigger: int | None = 1,
    parse_times: bool = True,
) -> DataFrame:
    """Return the landed batches of ``source`` as a DataFrame, streaming by default.

    Args:
        spark: the session to read with.
        paths: the lab whose data to read.
        source: ``events``, ``impressions`` or ``clicks``.
        streaming: a streaming DataFrame (default) or a static one.
        files_per_trigger: for streams, how many batch files one micro-batch takes; the
            default 1 makes every landed ``batch_NNNN/`` folder one micro-batch, in order.
        parse_times: replace the time column with its parsed timestamp (NULL if unparseable).

    >>> events = read_source(spark, LabPaths.resolve(), "events")  # doctest: +SKIP

    """
    schema = SCHEMAS[source]
    if streaming:
        reader = spark.readStream.schema(schema)
        if files_per_trigger:
            reader = reader.option("maxFilesPerTrigger", files_per_trigger)
        df = reader.json(source_glob(paths, source))
    else:
        df = spark.read.schema(schema).json(source_glob(paths, source))
    if parse_times:
        df = df.withColumn(TIME_COLUMNS[source], parse_time(TIME_COLUMNS[source]))
        if source == "events":
            df = df.withColumn("processing_time", parse_time("processing_time"))
    return df

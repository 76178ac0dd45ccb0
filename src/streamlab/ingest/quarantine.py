"""Bad records: every landed line is either a record or one reason it is not, never lost.

Spark's JSON reader turns a broken line into a row of NULLs, and under ANSI mode one bad time
kills the query. streamlab reads each landed file as text, keeps the raw line, parses it with
the source's schema, and gives every line that is not a usable record one reason:

- ``malformed_json``: the line is not a JSON object of the schema's types;
- ``missing_field``: a required field (an id, a time) is absent or null;
- ``bad_timestamp``: the time is there but does not parse as ``yyyy-MM-dd HH:mm:ss``;
- ``clock_skew``: an event's time is further ahead of its processing time than the skew bound
  allows. A clock that runs ahead would push the watermark forward and make on-time data late.

:func:`valid_records` keeps the rest, typed; :func:`bad_records` shapes the others for
``streaming_bronze.bad_records``. Both are plain DataFrame -> DataFrame functions, for streams
and static frames alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import IntegerType, StringType, StructField, StructType

from streamlab.ingest.rules import REASONS, REQUIRED, QuarantineConfig, time_columns
from streamlab.ingest.schemas import SCHEMAS, parse_time
from streamlab.lab.paths import LabPaths
from streamlab.raw.landing import source_glob

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

BAD_RECORDS = StructType(
    [
        StructField("source", StringType()),
        StructField("batch", IntegerType()),
        StructField("source_file", StringType()),
        StructField("raw", StringType()),
        StructField("reason", StringType()),
        StructField("detail", StringType()),
    ]
)
"""The schema of ``streaming_bronze.bad_records``."""

__all__ = [
    "BAD_RECORDS",
    "REASONS",
    "QuarantineConfig",
    "bad_records",
    "classify",
    "read_lines",
    "valid_records",
]

_CORRUPT = "_corrupt_record"
_BATCH_IN_PATH = r"batch_(\d+)"


def read_lines(
    spark: SparkSession,
    paths: LabPaths,
    source: str,
    *,
    streaming: bool = True,
    files_per_trigger: int | None = 1,
) -> DataFrame:
    """Return every non-blank landed line of ``source`` with ``raw``, ``source_file``, ``batch``.

    Streams take one landed batch file per micro-batch by default, in landing order.
    """
    if streaming:
        reader = spark.readStream
        if files_per_trigger:
            reader = reader.option("maxFilesPerTrigger", files_per_trigger)
        df = reader.text(source_glob(paths, source))
    else:
        df = spark.read.text(source_glob(paths, source))
    path = F.col("_metadata.file_path")
    return df.select(
        F.col("value").alias("raw"),
        path.alias("source_file"),
        F.regexp_extract(path, _BATCH_IN_PATH, 1).cast("int").alias("batch"),
    ).where(F.trim(F.col("raw")) != "")


def classify(lines: DataFrame, source: str, cfg: QuarantineConfig | None = None) -> DataFrame:
    """Parse :func:`read_lines` output: the schema's columns (times parsed) plus ``reason``.

    ``reason`` is NULL for a usable record; ``detail`` says what is wrong otherwise.
    """
    cfg = cfg or QuarantineConfig()
    schema = StructType([*SCHEMAS[source].fields, StructField(_CORRUPT, StringType())])
    parsed = lines.withColumn(
        "_record",
        F.from_json("raw", schema, {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": _CORRUPT}),
    )
    fields = [F.col(f"_record.{f.name}").alias(f.name) for f in SCHEMAS[source].fields]
    flat = parsed.select(
        "raw", "source_file", "batch", *fields, F.col(f"_record.{_CORRUPT}").alias(_CORRUPT)
    )
    times = time_columns(source)
    typed = flat
    for column in times:
        typed = typed.withColumn(f"_{column}_text", F.col(column)).withColumn(
            column, parse_time(column)
        )
    reason, detail = _reason(source, times, cfg)
    return typed.withColumn("reason", reason).withColumn("detail", detail)


def _reason(source: str, times: list[str], cfg: QuarantineConfig) -> tuple[Column, Column]:
    malformed = F.col(_CORRUPT).isNotNull()
    missing = [(F.col(f"_{f}_text") if f in times else F.col(f)).isNull() for f in REQUIRED[source]]
    missing_names = F.concat_ws(
        ", ",
        *[
            F.when((F.col(f"_{f}_text") if f in times else F.col(f)).isNull(), F.lit(f))
            for f in REQUIRED[source]
        ],
    )
    unparseable = [F.col(f"_{t}_text").isNotNull() & F.col(t).isNull() for t in times]
    bad_names = F.concat_ws(
        ", ",
        *[
            F.when(c, F.concat(F.lit(f"{t}='"), F.col(f"_{t}_text"), F.lit("'")))
            for t, c in zip(times, unparseable, strict=True)
        ],
    )
    reason = F.when(malformed, F.lit("malformed_json"))
    detail = F.when(malformed, F.lit("not a JSON object of the source's schema"))
    reason = reason.when(_any(missing), F.lit("missing_field"))
    detail = detail.when(_any(missing), F.concat(F.lit("missing "), missing_names))
    reason = reason.when(_any(unparseable), F.lit("bad_timestamp"))
    detail = detail.when(_any(unparseable), F.concat(F.lit("unparseable "), bad_names))
    if source == "events" and cfg.max_skew_ms is not None:
        lead = F.unix_millis("event_time") - F.unix_millis("processing_time")
        ahead = lead > F.lit(cfg.max_skew_ms)
        reason = reason.when(ahead, F.lit("clock_skew"))
        detail = detail.when(
            ahead,
            F.concat(
                F.lit("event_time is "),
                (lead / 1000).cast("long").cast("string"),
                F.lit(f"s ahead of processing_time (bound {cfg.max_skew_ms // 1000}s)"),
            ),
        )
    return reason, detail


def _any(conditions: list[Column]) -> Column:
    out = conditions[0]
    for condition in conditions[1:]:
        out = out | condition
    return out


def valid_records(classified: DataFrame, source: str, *, origin: bool = True) -> DataFrame:
    """Keep the usable records: the source's schema, times parsed, plus their origin columns."""
    columns = [f.name for f in SCHEMAS[source].fields]
    if origin:
        columns += ["source_file", "batch"]
    return classified.where(F.col("reason").isNull()).select(*columns)


def bad_records(classified: DataFrame, source: str) -> DataFrame:
    """Shape the quarantined lines as ``streaming_bronze.bad_records`` rows."""
    return classified.where(F.col("reason").isNotNull()).select(
        F.lit(source).alias("source"),
        "batch",
        "source_file",
        "raw",
        "reason",
        "detail",
    )

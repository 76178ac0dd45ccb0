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

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, IntegerType, StringType, StructField, StructType

from streamlab.durations import Duration, to_millis
from streamlab.ingest.schemas import SCHEMAS, TIME_COLUMNS, parse_time
from streamlab.lab.paths import LabPaths
from streamlab.raw.landing import source_glob

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

REASONS = ("malformed_json", "missing_field", "bad_timestamp", "clock_skew")
"""Why a line is not a record, in the order they are checked."""

REQUIRED: dict[str, tuple[str, ...]] = {
    "events": ("event_id", "event_time"),
    "impressions": ("impression_id", "impression_time"),
    "clicks": ("click_id", "impression_id", "click_time"),
}
"""Fields without which a record is quarantined."""

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

_CORRUPT = "_corrupt_record"
_BATCH_IN_PATH = r"batch_(\d+)"


@dataclass(frozen=True)
class QuarantineConfig:
    """How strict the quarantine is."""

    max_skew_ms: int | None = 300_000
    """How far an event's time may run ahead of its processing time before it is quarantined
    as clock skew; ``None`` turns the guard off."""

    @classmethod
    def of(cls, max_skew: Duration | None) -> QuarantineConfig:
        """Return the settings for a skew bound such as ``"5 minutes"``; ``None`` for no guard."""
        if max_skew is None:
            return cls(max_skew_ms=None)
        return cls(max_skew_ms=to_millis(max_skew, what="--max-skew"))


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
    time_column = TIME_COLUMNS[source]
    times = [time_column, "processing_time"] if source == "events" else [time_column]
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


# --- the same rules in plain Python, for the model --------------------------------------------

_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
_NON_NUMERIC = {"NaN", "Infinity", "+Infinity", "-Infinity", "+INF", "-INF", "INF"}


def _spark_string(value: object) -> str | None:
    """Return what Spark's JSON reader makes of ``value`` for a string field."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    # Any other JSON value is kept as its JSON text (JacksonParser, StringType converter).
    return json.dumps(value, separators=(",", ":"))


def parse_time_text(text: str | None) -> int | None:
    """Return epoch milliseconds for ``yyyy-MM-dd HH:mm:ss`` text, or ``None`` as Spark would."""
    if text is None or not _TIME.fullmatch(text):
        return None
    try:
        moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(moment.timestamp()) * 1000


def classify_line(source: str, line: str, cfg: QuarantineConfig | None = None) -> str | None:
    """Return why ``line`` is quarantined (a reason of :data:`REASONS`), or ``None`` if usable.

    The same rules as :func:`classify`, for code that reads the landed files without Spark.
    Blank lines are not records; callers skip them.

    >>> classify_line("clicks", '{"click_id":"C1","impression_id":"I1","click_time":"noon"}')
    'bad_timestamp'
    """
    cfg = cfg or QuarantineConfig()
    try:
        record = json.loads(line)
    except ValueError:
        return "malformed_json"
    if not isinstance(record, dict):
        return "malformed_json"
    for f in SCHEMAS[source].fields:
        value = record.get(f.name)
        if isinstance(f.dataType, DoubleType) and value is not None:
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            if not numeric and not (isinstance(value, str) and value in _NON_NUMERIC):
                return "malformed_json"
    texts = {f.name: _spark_string(record.get(f.name)) for f in SCHEMAS[source].fields}
    if any(texts[name] is None for name in REQUIRED[source]):
        return "missing_field"
    times = (
        [TIME_COLUMNS[source], "processing_time"] if source == "events" else [TIME_COLUMNS[source]]
    )
    parsed = {t: parse_time_text(texts[t]) for t in times}
    if any(texts[t] is not None and parsed[t] is None for t in times):
        return "bad_timestamp"
    if source == "events" and cfg.max_skew_ms is not None:
        event, processing = parsed["event_time"], parsed["processing_time"]
        if event is not None and processing is not None and event - processing > cfg.max_skew_ms:
            return "clock_skew"
    return None

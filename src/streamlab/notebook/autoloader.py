"""Auto Loader (``format("cloudFiles")``) on Spark's own file source, for local notebook runs.

Databricks' Auto Loader infers a stream's schema once, keeps it at ``cloudFiles.schemaLocation``
and reuses it on restart; fields that do not fit the schema go to ``_rescued_data`` instead of
being lost. Here the same options run on Spark's file source:

- ``cloudFiles.format`` ``json``, ``csv`` or ``parquet``; the folder is read with its subfolders
  (``recursiveFileLookup``), files whose names start with ``_`` or ``.`` are skipped;
- the first run infers the schema from the files already there (every column a string, as
  Databricks does, unless ``cloudFiles.inferColumnTypes`` is true; ``cloudFiles.schemaHints``
  sets the types of the columns it names) and stores it at
  ``<schemaLocation>/_schemas/0``; later runs read it from there;
- ``_rescued_data`` (or ``rescuedDataColumn``) holds, as a JSON object, every field of a JSON
  record that is not in the schema or whose value does not fit its type, and every CSV value
  that does not fit its column's type, with ``_file_path``; NULL when everything fit.
  Parquet files are read with the stored schema: a new Parquet field is not rescued.
- ``cloudFiles.maxFilesPerTrigger`` and ``cloudFiles.schemaEvolutionMode`` ``rescue`` or
  ``none`` are honoured. Any other ``cloudFiles.*`` option (notifications, backfills,
  ``addNewColumns``...) is refused with one line naming it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from streamlab.errors import StreamlabError

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession
    from pyspark.sql.types import StructType

FORMATS = ("json", "csv", "parquet")
"""The ``cloudFiles.format`` values streamlab runs."""
RESCUED = "_rescued_data"
"""The default name of the rescued-data column, as on Databricks."""
SCHEMA_FILE = "_schemas/0"
"""Where, under the schema location, the inferred schema is kept."""

_SUPPORTED = {
    "cloudfiles.format",
    "cloudfiles.schemalocation",
    "cloudfiles.infercolumntypes",
    "cloudfiles.schemahints",
    "cloudfiles.schemaevolutionmode",
    "cloudfiles.maxfilespertrigger",
    "cloudfiles.includeexistingfiles",
}
_EVOLUTION = ("rescue", "none")


@dataclass(frozen=True)
class AutoLoaderOptions:
    """The options of one Auto Loader read, checked."""

    format: str
    """``json``, ``csv`` or ``parquet``."""
    schema_location: Path | None = None
    infer_types: bool = False
    hints: str = ""
    rescued_column: str | None = RESCUED
    """None when ``cloudFiles.schemaEvolutionMode`` is ``none``."""
    max_files: str | None = None
    reader: Mapping[str, str] = field(default_factory=dict)
    """The options that are not Auto Loader's (``header``, ``multiLine``...), for Spark."""


def parse_options(options: Mapping[str, str]) -> AutoLoaderOptions:
    """Check ``options`` (as given to the reader); fail with one line on what cannot run here.

    >>> parse_options({"cloudFiles.format": "json"}).format
    'json'
    """
    lower = {k.lower(): (k, str(v)) for k, v in options.items()}
    unsupported = sorted(
        name
        for key, (name, _) in lower.items()
        if key.startswith("cloudfiles.") and key not in _SUPPORTED
    )
    fmt = lower.get("cloudfiles.format", ("", ""))[1].lower()
    mode = lower.get("cloudfiles.schemaevolutionmode", ("", "rescue"))[1]
    existing = lower.get("cloudfiles.includeexistingfiles", ("", "true"))[1].lower()
    if mode.lower() not in _EVOLUTION:
        unsupported.append(f"cloudFiles.schemaEvolutionMode={mode}")
    if existing != "true":
        unsupported.append(f"cloudFiles.includeExistingFiles={existing}")
    if unsupported:
        raise StreamlabError(
            f"Auto Loader option {', '.join(unsupported)} is not supported here: remove it "
            "(streamlab runs cloudFiles.format, schemaLocation, inferColumnTypes, schemaHints, "
            "maxFilesPerTrigger and schemaEvolutionMode rescue or none)"
        )
    if fmt not in FORMATS:
        given = f"cloudFiles.format {fmt!r}" if fmt else "no cloudFiles.format"
        raise StreamlabError(
            f"Auto Loader with {given} cannot run here: set .option('cloudFiles.format', "
            "'json'), 'csv' or 'parquet'"
        )
    location = lower.get("cloudfiles.schemalocation", ("", ""))[1]
    rescued = lower.get("rescueddatacolumn", ("", RESCUED))[1]
    reader = {
        name: value
        for key, (name, value) in lower.items()
        if not key.startswith("cloudfiles.") and key != "rescueddatacolumn"
    }
    return AutoLoaderOptions(
        format=fmt,
        schema_location=Path(location.removeprefix("file:")) if location else None,
        infer_types=lower.get("cloudfiles.infercolumntypes", ("", "false"))[1].lower() == "true",
        hints=lower.get("cloudfiles.schemahints", ("", ""))[1],
        rescued_column=None if mode.lower() == "none" else rescued,
        max_files=lower.get("cloudfiles.maxfilespertrigger", ("", ""))[1] or None,
        reader=reader,
    )


def stored_schema(location: Path | None) -> StructType | None:
    """Return the schema kept at the schema location, if a run stored one."""
    from pyspark.sql.types import StructType

    if location is None or not (location / SCHEMA_FILE).is_file():
        return None
    data = json.loads((location / SCHEMA_FILE).read_text())
    return StructType.fromJson(data["schema"])


def store_schema(location: Path, schema: StructType, fmt: str) -> None:
    """Keep ``schema`` at the schema location, for the next runs of the stream."""
    from streamlab.lab.files import atomic_write_text

    (location / SCHEMA_FILE).parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"format": fmt, "schema": schema.jsonValue()})
    atomic_write_text(location / SCHEMA_FILE, text)


def infer_schema(spark: SparkSession, folder: str, opts: AutoLoaderOptions) -> StructType:
    """Infer the schema of the files in ``folder`` as Auto Loader does; apply the hints."""
    from pyspark.sql.types import StringType, StructField, StructType

    reader = spark.read.format(opts.format).options(**opts.reader)
    reader = reader.option("recursiveFileLookup", "true")
    if opts.format == "csv" and not opts.infer_types:
        reader = reader.option("inferSchema", "false")
    elif opts.format == "csv":
        reader = reader.option("inferSchema", "true")
    try:
        schema = reader.load(folder).schema
    except Exception as exc:
        raise StreamlabError(
            f"Auto Loader found no {opts.format} files to infer a schema from in {folder}: land "
            "data there first, or pass the schema with .schema(...)"
        ) from exc
    fields = [f for f in schema.fields if f.name != "_corrupt_record"]
    if not fields:
        raise StreamlabError(
            f"Auto Loader found no {opts.format} records to infer a schema from in {folder}: "
            "land data there first, or pass the schema with .schema(...)"
        )
    if opts.format != "parquet" and not opts.infer_types:
        fields = [StructField(f.name, StringType(), True) for f in fields]
    return apply_hints(StructType(fields), opts.hints)


def apply_hints(schema: StructType, hints: str) -> StructType:
    """Return ``schema`` with the types ``hints`` (``"a int, b double"``) give; add new ones."""
    from pyspark.sql.types import StructField, StructType

    if not hints.strip():
        return schema
    try:
        hinted = StructType.fromDDL(hints)
        assert isinstance(hinted, StructType)
    except Exception as exc:
        raise StreamlabError(
            f"cloudFiles.schemaHints {hints!r} is not a column list: write it like "
            "'value double, event_time timestamp'"
        ) from exc
    types = {f.name: f.dataType for f in hinted.fields}
    fields = [StructField(f.name, types.pop(f.name, f.dataType), True) for f in schema.fields]
    return StructType(fields + [StructField(n, t, True) for n, t in types.items()])


def with_rescued(lines: DataFrame, schema: StructType, fmt: str, rescued: str | None) -> DataFrame:
    """Parse raw JSON ``value`` lines with ``schema``; put what does not fit in ``rescued``."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import MapType, StringType

    raw = F.from_json("value", MapType(StringType(), StringType()))
    typed = F.from_json("value", schema)
    parsed = lines.select(
        raw.alias("_raw"), typed.alias("_typed"), F.col("_metadata.file_path").alias("_path")
    )
    columns = [F.col(f"_typed.{f.name}").alias(f.name) for f in schema.fields]
    if rescued is None:
        return parsed.select(*columns)
    names = [f.name for f in schema.fields]
    extra = F.map_filter("_raw", lambda k, _v: ~k.isin(names))
    mismatched = [
        F.when(
            F.col("_raw")[n].isNotNull() & F.col(f"_typed.{n}").isNull(),
            F.struct(F.lit(n).alias("key"), F.col("_raw")[n].alias("value")),
        )
        for n in names
    ]
    return parsed.select(*columns, _rescue(extra, mismatched, rescued))


def csv_with_rescued(lines: DataFrame, schema: StructType, rescued: str | None) -> DataFrame:
    """Cast all-string CSV columns to ``schema``; values that do not cast go to ``rescued``."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType

    def cast(name: str, kind: object) -> Column:
        col = F.col(name)
        return col if isinstance(kind, StringType) else col.try_cast(kind)  # type: ignore[arg-type]

    columns = [cast(f.name, f.dataType).alias(f.name) for f in schema.fields]
    if rescued is None:
        return lines.select(*columns)
    mismatched = [
        F.when(
            F.col(f.name).isNotNull() & cast(f.name, f.dataType).isNull(),
            F.struct(F.lit(f.name).alias("key"), F.col(f.name).alias("value")),
        )
        for f in schema.fields
    ]
    empty = F.create_map().cast("map<string,string>")
    framed = lines.withColumn("_path", F.col("_metadata.file_path"))
    return framed.select(*columns, _rescue(empty, mismatched, rescued))


def _rescue(extra: Column, mismatched: list[Column], name: str) -> Column:
    from pyspark.sql import functions as F

    entries = F.filter(F.array(*mismatched), lambda x: x.isNotNull()) if mismatched else None
    found = F.map_concat(extra, F.map_from_entries(entries)) if entries is not None else extra
    with_path = F.map_concat(found, F.create_map(F.lit("_file_path"), F.col("_path")))
    return F.when(F.size(found) > 0, F.to_json(with_path)).alias(name)

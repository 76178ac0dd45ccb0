"""What a Databricks notebook asks of Spark that local Spark lacks, answered while a run lasts.

While :class:`Intercept` is installed (the notebook runner installs it for one run), PySpark's
readers and writers behave as a Databricks learner's code expects:

- a streaming JSON read of a lab source folder (``events/``, ``impressions/``, ``clicks/``, with
  or without a trailing slash) without a schema gets the lab's schema and reads every
  ``batch_NNNN/`` subfolder; the run says so once, with the portable way to write it;
- ``format("cloudFiles")`` runs Auto Loader on Spark's file source (:mod:`.autoloader`);
- without Delta Lake in the session, ``format("delta")`` is Parquet and Delta-only features
  fail with one line (:mod:`.delta`); ``USING DELTA`` in SQL creates a Parquet table;
- a table that ``toTable()`` or ``saveAsTable()`` creates in one of the lab's databases is an
  external table at its folder in the lab's warehouse, not a managed one
  (:func:`streamlab.lab.catalog.lab_table_folder`), so that the session can serve another lab
  root afterwards without this lab's tables shadowing that one's, and dropping the table never
  deletes the lab's data;
- every query started is handed to the runner, which tracks it (:mod:`.streams`);
- ``awaitTermination()`` without a timeout, which would wait forever for a query with the
  default trigger, waits until the query has processed what has landed.

The patches are undone when the run ends. Nothing here starts a query of its own: each start is
the notebook's, forwarded to Spark and reported to the runner.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamlab.lab.catalog import lab_table_folder, table_location
from streamlab.lab.paths import SOURCES, LabPaths
from streamlab.notebook import autoloader, delta

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming.query import StreamingQuery

_FILE_FORMATS = ("json", "csv", "parquet", "orc", "text", "xml", "avro")


@dataclass
class Hooks:
    """What the runner gives an :class:`Intercept`: the lab, and how to tell and track."""

    spark: SparkSession
    root: Path
    notice: Callable[[str, str], None]
    """Print a notice once per key: ``notice(key, text)``."""
    started: Callable[[StreamingQuery], None]
    """Track a query the notebook started."""
    real_delta: bool = False
    _seen: set[str] = field(default_factory=set)


_ACTIVE: list[Hooks] = []


def _hooks() -> Hooks | None:
    return _ACTIVE[-1] if _ACTIVE else None


@contextlib.contextmanager
def installed(hooks: Hooks) -> Iterator[Hooks]:
    """Install the patches for one notebook run; undo them afterwards."""
    patches = _patches()
    originals = [(owner, name, owner.__dict__[name]) for owner, name, _ in patches]
    _ACTIVE.append(hooks)
    for owner, name, make in patches:
        setattr(owner, name, make(owner.__dict__[name]))
    try:
        yield hooks
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
        _ACTIVE.remove(hooks)


def lab_source(root: Path, path: str) -> str | None:
    """Return the lab source a folder path names (``<root>/events/`` -> ``events``), else None.

    >>> lab_source(Path("/lab"), "/lab/events/")
    'events'
    >>> lab_source(Path("/lab"), "/lab/events/batch_0001") is None
    True
    """
    text = str(path).removeprefix("file:").rstrip("/")
    if not text:
        return None
    folder = Path(text)
    for source in SOURCES:
        if folder == root / source:
            return source
    return None


def _state(obj: Any) -> dict[str, Any]:
    state: dict[str, Any] | None = obj.__dict__.get("_streamlab")
    if state is None:
        state = {"format": None, "options": {}, "schema": False}
        obj.__dict__["_streamlab"] = state
    return state


def _delta_notice(hooks: Hooks) -> None:
    from pyspark import __version__

    hooks.notice("delta", delta.NOTICE.format(version=__version__))


def _emulated(hooks: Hooks | None, source: str) -> bool:
    return hooks is not None and not hooks.real_delta and source.lower() == "delta"


# -- readers ------------------------------------------------------------------------------------


def _reader_format(original: Callable[..., Any]) -> Callable[..., Any]:
    def format(self: Any, source: str) -> Any:
        hooks = _hooks()
        state = _state(self)
        state["format"] = str(source).lower()
        if hooks is not None and state["format"] == "cloudfiles":
            return self
        if _emulated(hooks, source):
            assert hooks is not None
            _delta_notice(hooks)
            return original(self, "parquet")
        return original(self, source)

    return format


def _reader_option(original: Callable[..., Any]) -> Callable[..., Any]:
    def option(self: Any, key: str, value: Any) -> Any:
        hooks = _hooks()
        state = _state(self)
        state["options"][str(key)] = value
        if hooks is not None and state["format"] == "cloudfiles":
            return self
        if hooks is not None and not hooks.real_delta and state["format"] == "delta":
            feature = delta.READ_OPTIONS.get(str(key).lower())
            if feature is not None:
                raise delta.DeltaUnavailable(feature)
        return original(self, key, value)

    return option


def _reader_options(_original: Callable[..., Any]) -> Callable[..., Any]:
    def options(self: Any, **opts: Any) -> Any:
        for key, value in opts.items():
            self.option(key, value)
        return self

    return options


def _reader_schema(original: Callable[..., Any]) -> Callable[..., Any]:
    def schema(self: Any, value: Any) -> Any:
        state = _state(self)
        state["schema"] = value
        if _hooks() is not None and state["format"] == "cloudfiles":
            return self
        return original(self, value)

    return schema


def _stream_load(original: Callable[..., Any]) -> Callable[..., Any]:
    def load(
        self: Any,
        path: str | None = None,
        format: str | None = None,
        schema: Any = None,
        **opts: Any,
    ) -> DataFrame:
        hooks = _hooks()
        if hooks is None:
            return original(self, path, format, schema, **opts)  # type: ignore[no-any-return]
        if format is not None:
            self.format(format)
        if schema is not None:
            self.schema(schema)
        for key, value in opts.items():
            self.option(key, value)
        state = _state(self)
        fmt = state["format"]
        if fmt == "cloudfiles":
            return _auto_loader(hooks, state, path)
        if fmt == "delta" and not hooks.real_delta and not state["schema"] and path is not None:
            return _delta_stream(hooks, self, original, path)
        if fmt == "json" and not state["schema"] and path is not None:
            source = lab_source(hooks.root, path)
            if source is not None:
                return _lab_stream(hooks, self, original, source, path)
        return original(self, path)  # type: ignore[no-any-return]

    return load


def _format_read(fmt: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def make(original: Callable[..., Any]) -> Callable[..., Any]:
        def read(self: Any, path: str, schema: Any = None, **opts: Any) -> DataFrame:
            if _hooks() is None:
                return original(self, path, schema, **opts)  # type: ignore[no-any-return]
            self.format(fmt)
            if schema is not None:
                self.schema(schema)
            for key, value in opts.items():
                if value is not None:
                    self.option(key, value)
            return self.load(path)  # type: ignore[no-any-return]

        return read

    return make


def _parquet_read(original: Callable[..., Any]) -> Callable[..., Any]:
    def parquet(self: Any, path: str, **opts: Any) -> DataFrame:
        if _hooks() is None:
            return original(self, path, **opts)  # type: ignore[no-any-return]
        self.format("parquet")
        for key, value in opts.items():
            if value is not None:
                self.option(key, value)
        return self.load(path)  # type: ignore[no-any-return]

    return parquet


def _lab_stream(
    hooks: Hooks, reader: Any, original: Callable[..., Any], source: str, path: str
) -> DataFrame:
    from streamlab.ingest.schemas import SCHEMAS
    from streamlab.raw.landing import DATA_GLOB

    schema = SCHEMAS[source]
    ddl = ", ".join(f"{f.name} {f.dataType.simpleString()}" for f in schema.fields)
    hooks.notice(
        f"lab:{source}",
        f"streamlab: {path} is read with the lab's {source} schema and its batch_NNNN/ "
        f'subfolders; to run anywhere, write spark.readStream.schema("{ddl}")'
        f'.json("{path.rstrip("/")}/{DATA_GLOB}")',
    )
    type(reader).__dict__["schema"].__wrapped_original__(reader, schema)
    return original(reader, str(hooks.root / source / DATA_GLOB))  # type: ignore[no-any-return]


def _delta_stream(hooks: Hooks, reader: Any, original: Callable[..., Any], path: str) -> DataFrame:
    from streamlab.errors import StreamlabError

    try:
        schema = hooks.spark.read.parquet(path).schema
    except Exception as exc:
        raise StreamlabError(
            f"the Delta path {path} has no data yet, so its schema is unknown: start the stream "
            "that writes it first and let it commit a batch, or pass .schema(...)"
        ) from exc
    type(reader).__dict__["schema"].__wrapped_original__(reader, schema)
    return original(reader, path)  # type: ignore[no-any-return]


def _auto_loader(hooks: Hooks, state: dict[str, Any], path: str | None) -> DataFrame:
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    from streamlab.errors import StreamlabError

    if path is None:
        raise StreamlabError("Auto Loader needs a folder: write .load('/path/to/folder/')")
    opts = autoloader.parse_options({k: str(v) for k, v in state["options"].items()})
    folder = str(path).removeprefix("file:")
    given = state["schema"]
    schema: StructType | None = None
    if given:
        parsed = given if isinstance(given, StructType) else StructType.fromDDL(str(given))
        schema = parsed if isinstance(parsed, StructType) else None
    rescued = (
        opts.rescued_column
        if not given or "rescueddatacolumn" in {k.lower() for k in state["options"]}
        else None
    )
    if schema is None:
        schema = autoloader.stored_schema(opts.schema_location)
        if schema is None:
            if opts.schema_location is None:
                raise StreamlabError(
                    "Auto Loader needs cloudFiles.schemaLocation to infer and keep a schema: add "
                    ".option('cloudFiles.schemaLocation', '<checkpoint>/_schema')"
                )
            schema = autoloader.infer_schema(hooks.spark, folder, opts)
            autoloader.store_schema(opts.schema_location, schema, opts.format)
            hooks.notice(
                f"autoloader:{opts.schema_location}",
                f"streamlab: Auto Loader inferred {schema.simpleString()} from {folder}, stored "
                f"at {opts.schema_location / autoloader.SCHEMA_FILE}",
            )
    reader = hooks.spark.readStream.option("recursiveFileLookup", "true")
    if opts.max_files:
        reader = reader.option("maxFilesPerTrigger", opts.max_files)
    reader = reader.options(**opts.reader)
    if opts.format == "json":
        lines = reader.format("text").load(folder)
        return autoloader.with_rescued(lines, schema, "json", rescued)
    if opts.format == "csv":
        text = StructType([StructField(f.name, StringType(), True) for f in schema.fields])
        rows = reader.format("csv").schema(text).load(folder)
        return autoloader.csv_with_rescued(rows, schema, rescued)
    frame = reader.format("parquet").schema(schema).load(folder)
    return frame.withColumn(rescued, F.lit(None).cast("string")) if rescued else frame


def _stream_table(original: Callable[..., Any]) -> Callable[..., Any]:
    def table(self: Any, tableName: str) -> DataFrame:
        hooks = _hooks()
        if hooks is not None and not hooks.real_delta:
            feature = next(
                (
                    delta.READ_OPTIONS[k.lower()]
                    for k in _state(self)["options"]
                    if k.lower() in delta.READ_OPTIONS
                ),
                None,
            )
            if feature is not None:
                raise delta.DeltaUnavailable(feature)
        return original(self, tableName)  # type: ignore[no-any-return]

    return table


def _batch_load(original: Callable[..., Any]) -> Callable[..., Any]:
    def load(
        self: Any, path: Any = None, format: str | None = None, schema: Any = None, **opts: Any
    ) -> DataFrame:
        hooks = _hooks()
        if hooks is not None:
            if format is not None:
                self.format(format)
                format = None
            for key, value in opts.items():
                self.option(key, value)
            opts = {}
        return original(self, path, format, schema, **opts)  # type: ignore[no-any-return]

    return load


# -- writers ------------------------------------------------------------------------------------


def _writer_option(original: Callable[..., Any]) -> Callable[..., Any]:
    def option(self: Any, key: str, value: Any) -> Any:
        _state(self)["options"][str(key)] = value
        return original(self, key, value)

    return option


def _writer_options(_original: Callable[..., Any]) -> Callable[..., Any]:
    def options(self: Any, **opts: Any) -> Any:
        for key, value in opts.items():
            if value is not None:
                self.option(key, value)
        return self

    return options


def _table_path(hooks: Hooks, writer: Any, name: str, opts: dict[str, Any], batch: bool) -> None:
    """Give a table the notebook is about to create in a lab database its folder there.

    Spark makes a table with a ``path`` option an external one; without it, a managed one,
    whose folder a ``DROP TABLE`` deletes and which keeps pointing at this lab when the session
    later serves another lab root. A ``path`` the notebook gave is kept. An existing table is
    left as it is, except that ``saveAsTable`` is given an external table's own folder again:
    in overwrite mode Spark drops the table and creates it anew.
    """
    given = {str(k).lower() for k in _state(writer)["options"]}
    given |= {str(k).lower() for k, v in opts.items() if v is not None}
    if "path" in given:
        return
    folder = lab_table_folder(hooks.spark, LabPaths.resolve(hooks.root), name)
    if folder is None:
        return
    if not hooks.spark.catalog.tableExists(name):
        writer.option("path", str(folder))
    elif batch:
        existing = table_location(hooks.spark, name)
        if existing is not None and existing[0] == "EXTERNAL":
            writer.option("path", existing[1])


def _writer_format(original: Callable[..., Any]) -> Callable[..., Any]:
    def format(self: Any, source: str) -> Any:
        hooks = _hooks()
        if _emulated(hooks, source):
            assert hooks is not None
            _delta_notice(hooks)
            return original(self, "parquet")
        return original(self, source)

    return format


def _stream_start(original: Callable[..., Any]) -> Callable[..., Any]:
    def start(
        self: Any, path: str | None = None, format: str | None = None, *args: Any, **kw: Any
    ) -> StreamingQuery:
        hooks = _hooks()
        if hooks is not None and format is not None:
            self.format(format)
            format = None
        query: StreamingQuery = original(self, path, format, *args, **kw)
        if hooks is not None:
            hooks.started(query)
        return query

    return start


def _stream_to_table(original: Callable[..., Any]) -> Callable[..., Any]:
    def to_table(
        self: Any, tableName: str, format: str | None = None, *args: Any, **kw: Any
    ) -> StreamingQuery:
        hooks = _hooks()
        if hooks is not None and format is not None:
            self.format(format)
            format = None
        if hooks is not None:
            _table_path(hooks, self, tableName, kw, batch=False)
        query: StreamingQuery = original(self, tableName, format, *args, **kw)
        if hooks is not None:
            hooks.started(query)
        return query

    return to_table


def _save(original: Callable[..., Any]) -> Callable[..., Any]:
    def save(
        self: Any, target: Any = None, format: str | None = None, *args: Any, **kw: Any
    ) -> None:
        if _hooks() is not None and format is not None:
            self.format(format)
            format = None
        original(self, target, format, *args, **kw)

    return save


def _save_as_table(original: Callable[..., Any]) -> Callable[..., Any]:
    def save_as_table(
        self: Any, name: str, format: str | None = None, *args: Any, **kw: Any
    ) -> None:
        hooks = _hooks()
        if hooks is not None:
            if format is not None:
                self.format(format)
                format = None
            _table_path(hooks, self, name, kw, batch=True)
        original(self, name, format, *args, **kw)

    return save_as_table


def _sql(original: Callable[..., Any]) -> Callable[..., Any]:
    def sql(self: Any, sqlQuery: str, *args: Any, **kw: Any) -> DataFrame:
        hooks = _hooks()
        if hooks is not None and not hooks.real_delta:
            feature = delta.delta_only_statement(sqlQuery)
            if feature is not None:
                raise delta.DeltaUnavailable(feature)
            rewritten = delta.as_parquet_sql(sqlQuery)
            if rewritten != sqlQuery:
                _delta_notice(hooks)
                sqlQuery = rewritten
        return original(self, sqlQuery, *args, **kw)  # type: ignore[no-any-return]

    return sql


def _await(original: Callable[..., Any]) -> Callable[..., Any]:
    def await_termination(self: Any, timeout: int | None = None) -> bool | None:
        hooks = _hooks()
        if hooks is None or timeout is not None:
            return original(self, timeout)  # type: ignore[no-any-return]
        hooks.notice(
            f"await:{self.id}",
            f"streamlab: {self.name or self.id}.awaitTermination() would wait forever for a query "
            "with the default trigger: it returns once the query has processed what has landed",
        )
        if self.isActive:
            self.processAllAvailable()
        return None

    return await_termination


def _wrap(
    make: Callable[[Callable[..., Any]], Callable[..., Any]],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def wrapped(original: Callable[..., Any]) -> Callable[..., Any]:
        patched = make(original)
        patched.__wrapped_original__ = original  # type: ignore[attr-defined]
        patched.__doc__ = original.__doc__
        return patched

    return wrapped


def _patches() -> list[tuple[type, str, Callable[[Callable[..., Any]], Callable[..., Any]]]]:
    from pyspark.sql.readwriter import DataFrameReader, DataFrameWriter
    from pyspark.sql.session import SparkSession
    from pyspark.sql.streaming.query import StreamingQuery
    from pyspark.sql.streaming.readwriter import DataStreamReader, DataStreamWriter

    table: list[tuple[type, str, Callable[[Callable[..., Any]], Callable[..., Any]]]] = [
        (DataStreamReader, "format", _reader_format),
        (DataStreamReader, "option", _reader_option),
        (DataStreamReader, "options", _reader_options),
        (DataStreamReader, "schema", _reader_schema),
        (DataStreamReader, "load", _stream_load),
        (DataStreamReader, "json", _format_read("json")),
        (DataStreamReader, "csv", _format_read("csv")),
        (DataStreamReader, "parquet", _parquet_read),
        (DataStreamReader, "table", _stream_table),
        (DataFrameReader, "format", _reader_format),
        (DataFrameReader, "option", _reader_option),
        (DataFrameReader, "load", _batch_load),
        (DataStreamWriter, "format", _writer_format),
        (DataStreamWriter, "option", _writer_option),
        (DataStreamWriter, "options", _writer_options),
        (DataStreamWriter, "start", _stream_start),
        (DataStreamWriter, "toTable", _stream_to_table),
        (DataFrameWriter, "format", _writer_format),
        (DataFrameWriter, "option", _writer_option),
        (DataFrameWriter, "options", _writer_options),
        (DataFrameWriter, "save", _save),
        (DataFrameWriter, "saveAsTable", _save_as_table),
        (SparkSession, "sql", _sql),
        (StreamingQuery, "awaitTermination", _await),
    ]
    return [(owner, name, _wrap(make)) for owner, name, make in table]

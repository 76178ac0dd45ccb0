"""A scripted streaming source that works locally, on a cluster and over Spark Connect.

PySpark 4.3 has no ``MemoryStream``. Each input of a stream test is a private folder read by
Spark's file source with the input's schema and ``maxFilesPerTrigger=1``; each ``AddData``
writes one JSON-lines file there (under a hidden name, then renamed, with increasing
modification times), so each ``AddData`` is exactly one micro-batch.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from streamlab.errors import StreamlabError
from streamlab.testing.rows import to_utc

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.types import StructType

_MTIME_BASE = 1_700_000_000
"""Seconds since the epoch of the first file's modification time; each file is one later."""


def parse_schema(schema: Any) -> StructType:
    """Return ``schema`` (a ``StructType`` or DDL text such as ``"t timestamp"``) as a struct."""
    from pyspark.sql.types import StructType, _parse_datatype_string

    if isinstance(schema, StructType):
        return schema
    if isinstance(schema, str):
        try:
            parsed = _parse_datatype_string(schema)
        except Exception as exc:
            raise StreamlabError(
                f"schema {schema!r} is not a Spark DDL schema: write it like "
                f"'event_time timestamp, user string' ({str(exc).splitlines()[0][:120]})"
            ) from None
        if isinstance(parsed, StructType):
            return parsed
    raise StreamlabError(
        f"schema {schema!r} must be a StructType or DDL text like 'event_time timestamp'"
    )


@dataclass
class ScriptedInput:
    """One named input: its folder, schema and the files landed so far."""

    name: str
    """The input's name (the keyword the query receives it as)."""
    folder: Path
    """The private folder the file source reads."""
    schema: StructType
    """The input's schema."""
    files: int = 0
    """How many files (micro-batches) were landed."""
    batches: list[list[dict[str, Any]]] = field(default_factory=list)
    """Every landed batch, as dicts by column name, for the oracle and for messages."""

    def frame(self, spark: SparkSession) -> DataFrame:
        """Return the streaming DataFrame that reads this input."""
        self.folder.mkdir(parents=True, exist_ok=True)
        return (
            spark.readStream.schema(self.schema)
            .option("maxFilesPerTrigger", 1)
            .option("timestampFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXX")
            .json(str(self.folder))
        )

    def land(self, rows: Sequence[Any]) -> list[dict[str, Any]]:
        """Write ``rows`` as the next file and return them as dicts by column name."""
        self.folder.mkdir(parents=True, exist_ok=True)
        records = [self.record(r) for r in rows]
        body = b"".join(orjson.dumps(_jsonable(r)) + b"\n" for r in records)
        self.files += 1
        name = f"part-{self.files:06d}.json"
        tmp = self.folder / f".{name}.tmp"
        tmp.write_bytes(body)
        stamp = (_MTIME_BASE + self.files) * 1_000_000_000
        os.utime(tmp, ns=(stamp, stamp))
        os.replace(tmp, self.folder / name)
        self.batches.append(records)
        return records

    def record(self, row: Any) -> dict[str, Any]:
        """Return one row as a dict by column name, timestamps as naive UTC datetimes."""
        from pyspark.sql.types import TimestampType

        names = self.schema.fieldNames()
        if isinstance(row, Mapping):
            unknown = sorted(set(row) - set(names))
            if unknown:
                raise StreamlabError(
                    f"row {dict(row)!r} for input {self.name!r} names column {unknown[0]!r}, "
                    f"which its schema lacks: the columns are {', '.join(names)}"
                )
            values = {n: row.get(n) for n in names}
        else:
            seq = list(row) if isinstance(row, tuple | list) else [row]
            if len(seq) != len(names):
                raise StreamlabError(
                    f"row {tuple(seq)!r} for input {self.name!r} has {len(seq)} value(s); its "
                    f"schema has {len(names)} column(s): {', '.join(names)}"
                )
            values = dict(zip(names, seq, strict=True))
        for f in self.schema.fields:
            if isinstance(f.dataType, TimestampType):
                values[f.name] = to_utc(values[f.name], what=f"column {f.name!r}")
        return values


def _jsonable(record: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in record.items():
        if isinstance(v, datetime):
            out[k] = v.replace(tzinfo=UTC).isoformat(timespec="microseconds")
        elif isinstance(v, date):
            out[k] = v.isoformat()
        elif isinstance(v, Decimal):
            out[k] = str(v)
        else:
            out[k] = v
    return out

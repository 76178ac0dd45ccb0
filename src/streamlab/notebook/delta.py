"""Delta Lake in a local notebook run: the real one when the session has it, else Parquet tables.

delta-spark 4.4.1 declares ``pyspark>=4.0.1,<=4.2.0`` on PyPI; streamlab runs PySpark 4.3, so a
local session has no Delta Lake. A notebook run then writes ``format("delta")`` as Parquet, with
the file sink's ``_spark_metadata`` commit log for streams, and ``.table()`` / ``toTable()`` /
``readStream.table()`` go to the lab's catalog (:mod:`streamlab.lab.catalog`), which keeps such
tables. What only Delta can do (``DeltaTable``, ``MERGE``, time travel, ``OPTIMIZE``, change
data feed) fails with one line. A session that has Delta's extension (on Databricks, or a
cluster or Spark Connect server with delta-spark) is used as it is: nothing is emulated.
"""

from __future__ import annotations

import re
from importlib import metadata, util
from typing import TYPE_CHECKING

from streamlab.errors import StreamlabError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
"""The session extension that makes a Spark session a Delta Lake one."""

NOTICE = (
    "streamlab: Delta Lake is not in this Spark (delta-spark supports PySpark up to 4.2, this is "
    "PySpark {version}): format('delta') and the tables run as Parquet with the file sink's "
    "commit log; DeltaTable, MERGE, time travel, OPTIMIZE and change data feed fail"
)
"""What the run prints once, at the notebook's first use of Delta."""

_FIX = (
    "Delta Lake is not installed here (delta-spark supports PySpark up to 4.2): run this cell on "
    "Databricks or on a Spark with delta-spark, or write it without Delta"
)

_SQL_FEATURES = (
    (re.compile(r"^\s*MERGE\s+INTO\b", re.I), "MERGE INTO"),
    (re.compile(r"^\s*OPTIMIZE\b", re.I), "OPTIMIZE"),
    (re.compile(r"^\s*VACUUM\b", re.I), "VACUUM"),
    (re.compile(r"^\s*(DESCRIBE|DESC)\s+HISTORY\b", re.I), "DESCRIBE HISTORY"),
    (re.compile(r"^\s*RESTORE\s+(TABLE\s+)?\S+\s+TO\b", re.I), "RESTORE"),
    (re.compile(r"^\s*CONVERT\s+TO\s+DELTA\b", re.I), "CONVERT TO DELTA"),
    (re.compile(r"\b(VERSION|TIMESTAMP)\s+AS\s+OF\b", re.I), "time travel (AS OF)"),
    (re.compile(r"\btable_changes\s*\(", re.I), "change data feed (table_changes)"),
    (re.compile(r"delta\.enableChangeDataFeed", re.I), "change data feed"),
)
_USING_DELTA = re.compile(r"\bUSING\s+DELTA\b", re.I)

READ_OPTIONS = {
    "versionasof": "time travel (versionAsOf)",
    "timestampasof": "time travel (timestampAsOf)",
    "readchangefeed": "change data feed (readChangeFeed)",
    "readchangedata": "change data feed (readChangeData)",
    "startingversion": "change data feed (startingVersion)",
    "startingtimestamp": "change data feed (startingTimestamp)",
}
"""Reader options only Delta understands, by lower-cased name."""


class DeltaUnavailable(StreamlabError):
    """A Delta-only feature, asked for on a Spark without Delta Lake."""

    def __init__(self, feature: str) -> None:
        self.feature = feature
        super().__init__(f"{feature} is a Delta Lake feature: {_FIX}")


def has_delta(spark: SparkSession) -> bool:
    """Return whether ``spark`` runs Delta Lake itself (its extension is configured)."""
    try:
        extensions = spark.conf.get("spark.sql.extensions", "") or ""
    except Exception:  # Spark Connect may hide static settings
        extensions = ""
    return DELTA_EXTENSION in extensions and util.find_spec("delta") is not None


def supported_pyspark() -> str | None:
    """Return the PySpark range the installed delta-spark declares, if it is installed."""
    try:
        requires = metadata.requires("delta-spark") or []
    except metadata.PackageNotFoundError:
        return None
    return next((r.split(";")[0].strip() for r in requires if r.startswith("pyspark")), None)


def delta_only_statement(statement: str) -> str | None:
    """Return the Delta-only feature a SQL statement uses, if any.

    >>> delta_only_statement("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE")
    'MERGE INTO'
    >>> delta_only_statement("SELECT * FROM t") is None
    True
    """
    for pattern, feature in _SQL_FEATURES:
        if pattern.search(statement):
            return feature
    return None


def as_parquet_sql(statement: str) -> str:
    """Return ``statement`` with ``USING DELTA`` written as ``USING PARQUET``.

    >>> as_parquet_sql("CREATE TABLE t (a INT) USING delta")
    'CREATE TABLE t (a INT) USING PARQUET'
    """
    return _USING_DELTA.sub("USING PARQUET", statement)


def missing_module(exc: BaseException) -> DeltaUnavailable | None:
    """Return the one line for ``import delta...`` failing, else None."""
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == "delta":
        return DeltaUnavailable("DeltaTable (the delta package)")
    return None

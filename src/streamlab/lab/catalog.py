"""The lab's databases and tables, kept in the warehouse folder under the lab root.

An embedded Derby metastore admits one process at a time, so a ``streamlab sql`` could not read
while a pipeline runs. streamlab's catalog is the warehouse itself: each database is a
``<name>.db/`` folder, each table a folder of Parquet files with a ``_table.json`` marker that
records its format and schema. Every session re-attaches them (``attach_catalog``), so databases
and tables survive between runs and any number of processes can read them at once. Tables
written by streaming queries carry the file sink's ``_spark_metadata`` log, so readers only ever
see committed files.

A table the session creates in one of the lab's databases is registered as an external table at
its folder (the notebook runner does this for ``toTable`` and ``saveAsTable``), never as a
managed one: dropping a managed table deletes its folder, and its location would stay with the
lab that created it when the session is re-pointed to another lab root. A managed table found
when re-pointing (one made by ``CREATE TABLE`` without ``LOCATION``) is unregistered without
touching its files.

On a session with a persistent catalog of its own (Hive, Unity Catalog) nothing is attached:
databases and tables are created there directly.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from streamlab.lab.files import atomic_write_text
from streamlab.lab.home import check_home
from streamlab.lab.paths import LabPaths

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StructType

DATABASES = ("streaming_bronze", "streaming_silver", "streaming_gold")
"""The guide's Step 1 databases: raw arrivals, clean data, data for consumers."""

TABLE_MARKER = "_table.json"
_ROOT_KEY = "streamlab.lab.catalog.root"
_NAME_PART = re.compile(r"`((?:[^`]|``)*)`|([^.`]+)")
_SESSION_CATALOG = "spark_catalog"


@dataclass(frozen=True)
class TableRef:
    """A table of the lab: its database, name and folder."""

    database: str
    name: str
    path: Path

    @property
    def qualified(self) -> str:
        """``database.name``, as SQL names it."""
        return f"{self.database}.{self.name}"


def database_path(paths: LabPaths, database: str) -> Path:
    """Return the folder of ``database`` in the lab's warehouse."""
    return paths.warehouse / f"{database}.db"


def table_ref(paths: LabPaths, qualified: str) -> TableRef:
    """Return the table ``database.name`` of the lab at ``paths``."""
    database, _, name = qualified.partition(".")
    return TableRef(database, name, database_path(paths, database) / name)


def uses_lab_catalog(spark: SparkSession) -> bool:
    """Return whether the session's catalog is the in-memory one streamlab attaches to."""
    try:
        return spark.conf.get("spark.sql.catalogImplementation", "in-memory") == "in-memory"
    except Exception:  # Spark Connect hides static settings: its server is a lab server
        return True


def create_databases(spark: SparkSession, paths: LabPaths) -> list[str]:
    """Create the guide's three databases (Step 1) if they do not exist; return their names."""
    for database in DATABASES:
        if uses_lab_catalog(spark):
            database_path(paths, database).mkdir(parents=True, exist_ok=True)
            _attach_database(spark, database, database_path(paths, database))
        else:
            spark.sql(f"CREATE DATABASE IF NOT EXISTS {database}")
    return list(DATABASES)


def register_table(
    spark: SparkSession, paths: LabPaths, qualified: str, schema: StructType, comment: str = ""
) -> TableRef:
    """Create the Parquet table ``database.name`` in the lab's warehouse, if it is not there.

    The table's folder gets a ``_table.json`` marker so that later sessions re-attach it with
    this schema even before any file has been written to it.
    """
    ref = table_ref(paths, qualified)
    ref.path.mkdir(parents=True, exist_ok=True)
    marker = ref.path / TABLE_MARKER
    text = json.dumps({"format": "parquet", "schema": schema.jsonValue(), "comment": comment})
    if not marker.exists() or marker.read_text() != text:
        atomic_write_text(marker, text)
    _attach_database(spark, ref.database, database_path(paths, ref.database))
    if not spark.catalog.tableExists(ref.qualified):
        spark.catalog.createTable(
            ref.qualified, path=str(ref.path), source="parquet", schema=schema
        )
    return ref


def lab_table_folder(spark: SparkSession, paths: LabPaths, name: str) -> Path | None:
    """Return the folder of table ``name`` in the lab's warehouse, if its database is the lab's.

    ``name`` is ``table``, ``database.table`` or ``spark_catalog.database.table``, with or
    without backquotes; a bare name is of the current database. A database of the lab is one
    whose location is a ``<name>.db`` folder of the lab's warehouse; for any other (``default``,
    one created with a ``LOCATION`` of its own, a session with a catalog of its own) this is None.
    """
    if not uses_lab_catalog(spark):
        return None
    parts = _name_parts(name)
    if len(parts) == 3 and parts[0].lower() == _SESSION_CATALOG:
        parts = parts[1:]
    if len(parts) == 1:
        parts = [spark.catalog.currentDatabase(), *parts]
    if len(parts) != 2 or not all(parts):
        return None
    database, table = parts
    if not spark.catalog.databaseExists(database):
        return None
    location = Path(_database_location(spark, database))
    if location.parent != paths.warehouse or location.suffix != ".db":
        return None
    return location / table.lower()  # Spark's catalog keeps names in lower case


def table_location(spark: SparkSession, name: str) -> tuple[str, str] | None:
    """Return the type (``MANAGED``, ``EXTERNAL``, ``VIEW``...) and location of table ``name``.

    None when the session has no such table (a temporary view has no location: None too).
    """
    if not spark.catalog.tableExists(name):
        return None
    rows = {r[0]: r[1] for r in spark.sql(f"DESCRIBE TABLE EXTENDED {name}").collect()}
    kind, location = rows.get("Type"), rows.get("Location")
    if not kind or not location:
        return None
    return str(kind), str(location).removeprefix("file:")


def attach_catalog(spark: SparkSession, paths: LabPaths) -> list[str]:
    """Register every database and table found in the lab's warehouse; return the tables.

    Safe to call again: what is registered already is kept, and a session that served another
    lab root before is re-pointed to this one. A lab copied or moved from another root is
    refused with one line (:func:`streamlab.lab.home.check_home`): its tables would read empty.
    """
    check_home(paths, writing=False)
    if not uses_lab_catalog(spark) or not paths.warehouse.is_dir():
        return []
    root = str(paths.root)
    repoint = _conf(spark, _ROOT_KEY) not in (None, root)
    attached: list[str] = []
    for folder in sorted(paths.warehouse.glob("*.db")):
        if not folder.is_dir():
            continue
        database = folder.name.removesuffix(".db")
        moved = _attach_database(spark, database, folder)
        if repoint and not moved:
            _forget_tables(spark, database)  # another root's; this lab's are attached below
        known = {t.name: t for t in spark.catalog.listTables(database)}
        present = {p.name for p in folder.iterdir() if p.is_dir() and not _hidden(p.name)}
        for name in sorted(present):
            qualified = f"{database}.{name}"
            if name in known:
                # A table's file listing is cached when first read: see what was written since.
                spark.catalog.refreshTable(qualified)
                attached.append(qualified)
                continue
            if _attach_table(spark, qualified, folder / name):
                attached.append(qualified)
    spark.conf.set(_ROOT_KEY, root)
    return attached


def _forget_tables(spark: SparkSession, database: str) -> None:
    """Unregister every table of ``database`` (its views are kept); delete no file."""
    for table in spark.catalog.listTables(database):
        if table.tableType == "EXTERNAL":
            spark.sql(f"DROP TABLE IF EXISTS {database}.{table.name}")
        elif table.tableType == "MANAGED":
            _forget_managed(spark, f"{database}.{table.name}")


def _forget_managed(spark: SparkSession, qualified: str) -> None:
    """Unregister the managed table ``qualified`` and leave its folder as it is.

    Dropping a managed table deletes its location, which is another lab's data here: the table
    is first pointed at an empty folder of its own, and only that folder goes with the drop.
    """
    scratch = Path(tempfile.mkdtemp(prefix="streamlab-forget-"))
    try:
        try:
            spark.sql(f"ALTER TABLE {qualified} SET LOCATION '{scratch}'")
        except Exception:  # not movable: keeping it registered is better than deleting its files
            return
        spark.sql(f"DROP TABLE IF EXISTS {qualified}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _database_location(spark: SparkSession, database: str) -> str:
    rows = spark.sql(f"DESCRIBE DATABASE {database}").collect()
    location = str({r[0]: r[1] for r in rows}.get("Location", "") or "")
    return location.removeprefix("file:").rstrip("/")


def _name_parts(name: str) -> list[str]:
    """Split a table name into its parts: ``a.`b.c``` -> ``['a', 'b.c']``."""
    return [
        quoted.replace("``", "`") if quoted else bare.strip()
        for quoted, bare in _NAME_PART.findall(name.strip())
    ]


def _attach_database(spark: SparkSession, database: str, folder: Path) -> bool:
    """Create ``database`` at ``folder``, or move it there; return whether it was moved.

    A database that moves leaves its tables behind: they are of the folder it had before (another
    lab root), and would shadow this lab's tables of the same names.
    """
    if spark.catalog.databaseExists(database):
        location = _database_location(spark, database)
        if location != str(folder).rstrip("/"):
            spark.sql(f"ALTER DATABASE {database} SET LOCATION '{folder}'")
            _forget_tables(spark, database)
            return True
        return False
    spark.sql(f"CREATE DATABASE IF NOT EXISTS {database} LOCATION '{folder}'")
    return False


def _attach_table(spark: SparkSession, qualified: str, folder: Path) -> bool:
    from pyspark.sql.types import StructType

    marker = folder / TABLE_MARKER
    try:
        if marker.exists():
            meta = json.loads(marker.read_text())
            schema = StructType.fromJson(meta["schema"])
            spark.catalog.createTable(
                qualified, path=str(folder), source=meta.get("format", "parquet"), schema=schema
            )
        else:
            spark.catalog.createTable(qualified, path=str(folder), source="parquet")
    except Exception:  # a folder that is not a table (yet): nothing to attach
        return False
    return True


def _conf(spark: SparkSession, key: str) -> str | None:
    try:
        return spark.conf.get(key, None)
    except Exception:
        return None


def _hidden(name: str) -> bool:
    return name.startswith(("_", "."))

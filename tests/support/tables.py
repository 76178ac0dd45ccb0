"""Reading a lab's committed tables without Spark, in a stable, root-independent form."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from streamlab.lab.paths import LabPaths
from streamlab.run.tables import committed_files


def read_table(folder: Path, root: Path) -> pd.DataFrame:
    """Return the committed rows of a table, structs flattened, in a stable order.

    Paths inside the lab (``source_file``) name the lab root, which differs between runs, so
    they are written relative to ``<root>``.
    """
    files = committed_files(folder)
    if not files:
        return pd.DataFrame()
    frame = pa.concat_tables([pq.read_table(f) for f in files]).flatten().to_pandas()
    for column in frame.columns:
        if frame[column].dtype == object:
            frame[column] = frame[column].map(
                lambda v: v.replace(str(root), "<root>") if isinstance(v, str) else v
            )
    return frame.sort_values(list(frame.columns), ignore_index=True)


def tables_of(root: Path) -> dict[str, pd.DataFrame]:
    """Return every table of the lab at ``root``, by ``database.table``."""
    warehouse = LabPaths.resolve(root).warehouse
    return {
        f"{db.name.removesuffix('.db')}.{table.name}": read_table(table, root)
        for db in sorted(warehouse.glob("*.db"))
        for table in sorted(db.iterdir())
        if table.is_dir() and not table.name.startswith((".", "_"))
    }


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return _plain(value.item())
    return value


def records_of(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Return every table of the lab as JSON-ready row lists, in a stable order."""
    return {
        name: [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]
        for name, frame in tables_of(root).items()
    }


def digest(rows: list[dict[str, Any]]) -> str:
    """Return a SHA-256 of ``rows`` in canonical JSON, to compare tables against a record."""
    canon = json.dumps(rows, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canon.encode()).hexdigest()

"""Reading a lab's tables as the tests compare them: committed rows only, in a stable order."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from streamlab.lab.paths import LabPaths
from streamlab.run.tables import committed_files


def read_table(folder: Path, root: Path) -> pd.DataFrame:
    """Return the committed rows of a lab table, structs flattened, in a stable order.

    Only files the table's commit log lists are read (a killed run's leftovers are not).
    Paths inside the lab (``source_file``) name the lab root, which differs between labs:
    it is written ``<root>``.
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

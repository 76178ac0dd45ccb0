"""Reading the lab's tables without Spark: committed files, row counts, column sums.

A table written by the file sink lists its committed files in ``_spark_metadata/`` (one log
entry per batch, every tenth compacted into ``N.compact`` with all earlier files); files not
listed there are leftovers of an interrupted batch that readers must not see. A table written
without the sink (``late_events``) is every visible Parquet file in its folder. Parquet
footers carry row counts, so summaries cost milliseconds instead of Spark jobs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from streamlab.run.checkpoint import uri_to_path

_ENTRY = re.compile(r"^(\d+)(\.compact)?$")


def committed_files(folder: Path) -> list[Path]:
    """Return the data files of the table at ``folder`` that readers see."""
    log = folder / "_spark_metadata"
    if not log.is_dir():
        if not folder.is_dir():
            return []
        return sorted(
            p
            for p in folder.iterdir()
            if p.is_file() and p.suffix == ".parquet" and not p.name.startswith((".", "_"))
        )
    ids: dict[int, Path] = {}
    compacts: list[int] = []
    for item in log.iterdir():
        match = _ENTRY.match(item.name)
        if match:
            ids[int(match.group(1))] = item
            if match.group(2):
                compacts.append(int(match.group(1)))
    start = max(compacts) if compacts else -1
    chosen = [i for i in sorted(ids) if i >= start]
    files: dict[str, bool] = {}
    for i in chosen:
        for line in ids[i].read_text().splitlines()[1:]:
            if not line:
                continue
            entry = json.loads(line)
            files[entry["path"]] = entry.get("action", "add") == "add"
    # The sink writes each file into the table's folder; resolving the logged names there,
    # not at the absolute paths logged, reads a copied or moved table where it is now.
    return [folder / Path(uri_to_path(p)).name for p, added in files.items() if added]


def row_count(folder: Path) -> int:
    """Return the rows of the table at ``folder``, from its Parquet footers."""
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    return sum(pq.read_metadata(f).num_rows for f in committed_files(folder))


def column_sum(folder: Path, column: str) -> float:
    """Return the sum of a numeric column over the table at ``folder``."""
    import pyarrow.compute as pc  # type: ignore[import-untyped]
    import pyarrow.parquet as pq

    total = 0.0
    for file in committed_files(folder):
        value = pc.sum(pq.read_table(file, columns=[column])[column]).as_py()
        total += value or 0
    return total

"""The tests' own table reader (tests/support/tables.py): committed rows only, stable order."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.support.tables import tables_of


def test_only_committed_files_are_read_with_the_root_written_out(tmp_path: Path) -> None:
    root = tmp_path / "lab"
    table = root / "warehouse" / "streaming_bronze.db" / "events"
    (table / "_spark_metadata").mkdir(parents=True)
    rows = {
        "event_id": ["E2", "E1"],
        "source_file": [f"file:{root}/events/batch_0001/x.json", f"{root}/events/batch_0000/x"],
        "window": [{"start": 2, "end": 3}, {"start": 0, "end": 1}],
    }
    pq.write_table(pa.table(rows), table / "part-0.parquet")
    pq.write_table(pa.table({**rows, "event_id": ["LEFT", "OVER"]}), table / "part-1.parquet")
    entry = {"path": f"file://{table}/part-0.parquet", "action": "add"}
    (table / "_spark_metadata" / "0").write_text("v1\n" + json.dumps(entry) + "\n")

    (events,) = tables_of(root).values()
    assert list(tables_of(root)) == ["streaming_bronze.events"]
    assert events.to_dict("records") == [
        {
            "event_id": "E1",
            "source_file": "<root>/events/batch_0000/x",
            "window.start": 0,
            "window.end": 1,
        },
        {
            "event_id": "E2",
            "source_file": "file:<root>/events/batch_0001/x.json",
            "window.start": 2,
            "window.end": 3,
        },
    ]

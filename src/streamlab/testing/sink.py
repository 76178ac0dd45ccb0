"""Where a stream test's output goes: every micro-batch's rows, keyed by batch id.

In classic mode a ``foreachBatch`` function collects each batch to the driver. Over Spark
Connect ``foreachBatch`` runs on the server, so each batch is written, idempotently, to a
private folder named after its batch id and read back on demand. Either way a batch that
Spark runs again (after a crash) replaces its earlier rows, as an idempotent sink should.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


class BatchSink:
    """Rows per batch id, collected on the driver (classic mode)."""

    def __init__(self) -> None:
        self._rows: dict[int, list[Any]] = {}

    def writer(self) -> Callable[[DataFrame, int], None]:
        """Return the ``foreachBatch`` function."""

        def write(df: DataFrame, batch_id: int) -> None:
            self._rows[batch_id] = df.collect()

        return write

    def rows(self, batch_id: int) -> list[Any]:
        """Return the rows batch ``batch_id`` emitted (none if it emitted nothing)."""
        return self._rows.get(batch_id, [])

    def discard(self, batch_id: int) -> None:
        """Forget batch ``batch_id``'s output, as if the sink had never received it."""
        self._rows.pop(batch_id, None)


class FolderSink(BatchSink):
    """Rows per batch id, written by the server to ``folder/batch=N`` (Spark Connect)."""

    def __init__(self, spark: SparkSession, folder: Path) -> None:
        super().__init__()
        self._spark = spark
        self._folder = folder

    def writer(self) -> Callable[[DataFrame, int], None]:
        """Return the ``foreachBatch`` function, which runs on the Connect server."""
        target = str(self._folder)

        def write(df: DataFrame, batch_id: int) -> None:
            df.write.mode("overwrite").parquet(f"{target}/batch={batch_id}")

        return write

    def rows(self, batch_id: int) -> list[Any]:
        """Return batch ``batch_id``'s rows, read back from its folder."""
        if batch_id not in self._rows:
            path = self._folder / f"batch={batch_id}"
            if not path.exists():
                return []
            self._rows[batch_id] = self._spark.read.parquet(str(path)).collect()
        return self._rows[batch_id]

    def discard(self, batch_id: int) -> None:
        """Remove batch ``batch_id``'s folder."""
        super().discard(batch_id)
        shutil.rmtree(self._folder / f"batch={batch_id}", ignore_errors=True)

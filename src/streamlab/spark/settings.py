"""The Spark settings of a lab session: what every session, local, cluster or Connect, runs with.

Kept apart from :mod:`streamlab.spark.session` so that the Connect server
(:mod:`streamlab.spark.connect`) starts with the same settings without importing the session
factory, which itself imports the Connect probe.
"""

from __future__ import annotations

import os
from importlib import resources

from streamlab.lab.paths import LabPaths

ROCKSDB_PROVIDER = "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"


def default_config(paths: LabPaths, cores: int) -> dict[str, str]:
    """Return the Spark settings of a lab session on a machine with ``cores`` cores.

    The checkpoint of a stateful query fixes its shuffle partitions and state store provider,
    so these must be right before a query's first run (see docs/performance in the repo).
    """
    log4j = resources.files("streamlab").joinpath("resources/log4j2.properties")
    java_opts = f"-Duser.timezone=UTC -Dlog4j.configurationFile=file:{log4j}"
    return {
        # 200 partitions cost ~8x on two cores: one or two tasks a core is enough.
        "spark.sql.shuffle.partitions": str(max(1, cores)),
        "spark.default.parallelism": str(max(1, cores)),
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.extraJavaOptions": java_opts,
        "spark.executor.extraJavaOptions": java_opts,
        "spark.ui.showConsoleProgress": "false",
        "spark.ui.enabled": "false",
        "spark.sql.streaming.stateStore.providerClass": ROCKSDB_PROVIDER,
        "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled": "true",
        "spark.sql.catalogImplementation": "in-memory",
        "spark.sql.warehouse.dir": str(paths.warehouse),
        "spark.driver.memory": os.environ.get("STREAMLAB_DRIVER_MEMORY", "2g"),
        "spark.sql.streaming.minBatchesToRetain": "20",
        # Keep the file source's and file sink's logs one file per batch: a run killed
        # mid-batch is then repaired by removing single entries (run/checkpoint.py).
        "spark.sql.streaming.fileSource.log.compactInterval": "1000000",
        "spark.sql.streaming.fileSink.log.compactInterval": "1000000",
        # The lab's streams read JSON produced by streamlab; keep bad-record handling explicit.
        "spark.sql.streaming.schemaInference": "false",
    }


# Settings that can change on a running session (Spark Connect, an active notebook session).
RUNTIME_KEYS = (
    "spark.sql.shuffle.partitions",
    "spark.sql.session.timeZone",
    "spark.sql.streaming.stateStore.providerClass",
    "spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled",
)

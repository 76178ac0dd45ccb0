"""The Spark settings of a lab session, and of the cluster and Connect server streamlab starts.

Kept apart from :mod:`streamlab.spark.session` so that the Connect server
(:mod:`streamlab.spark.connect`) starts with the same settings without importing the session
factory, which itself imports the Connect probe.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources

from streamlab.errors import StreamlabError
from streamlab.lab.paths import LabPaths

ROCKSDB_PROVIDER = "org.apache.spark.sql.execution.streaming.state.RocksDBStateStoreProvider"
LOG_LEVEL_ENV = "STREAMLAB_SPARK_LOG_LEVEL"
"""The level of Spark's own log on the console (``ERROR`` unless set; the CLI sets ``OFF``)."""


def default_config(paths: LabPaths, cores: int) -> dict[str, str]:
    """Return the Spark settings of a lab session on a machine with ``cores`` cores.

    The checkpoint of a stateful query fixes its shuffle partitions and state store provider,
    so these must be right before a query's first run (see docs/performance in the repo).
    """
    log4j = resources.files("streamlab").joinpath("resources/log4j2.properties")
    # The JVM's own warnings go to stderr, so that a command's --json output stays clean.
    jvm_log = "-Xlog:disable -Xlog:all=warning:stderr"
    java_opts = f"-Duser.timezone=UTC -Dlog4j.configurationFile=file:{log4j} {jvm_log}"
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


@dataclass(frozen=True)
class ClusterConfig:
    """How big the local cluster is and where it listens (always on 127.0.0.1)."""

    workers: int = 1
    """Worker processes."""
    cores: int = 1
    """Cores each worker offers to applications."""
    memory: str = "2g"
    """Memory each worker offers to executors (Spark size: ``512m``, ``2g``)."""
    port: int = 7077
    """The master's port: applications use ``spark://127.0.0.1:<port>``."""
    webui_port: int = 8080
    """The master's web UI; workers' web UIs take the ports right after it."""
    timeout: float = 120.0
    """Seconds ``start`` waits for the master and every worker to be up."""

    def __post_init__(self) -> None:
        if self.workers < 1 or self.cores < 1:
            raise StreamlabError("--workers and --cores must be 1 or more")
        if not self.memory[:-1].isdigit() or self.memory[-1].lower() not in "mg":
            raise StreamlabError(f"--memory {self.memory!r} is not a size like 512m or 2g")


DEFAULT_PORT = 15002
"""The Spark Connect server's default gRPC port."""


@dataclass(frozen=True)
class ConnectConfig:
    """Where the Connect server listens and where its queries run."""

    port: int = DEFAULT_PORT
    """The gRPC port: clients use ``sc://127.0.0.1:<port>``."""
    master: str | None = None
    """A cluster URL (``spark://127.0.0.1:7077``); ``None``: local mode with every core."""
    timeout: float = 120.0
    """Seconds ``start`` waits for the server to accept connections."""

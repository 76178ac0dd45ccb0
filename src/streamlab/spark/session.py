"""One factory for every Spark session streamlab uses: local, cluster, Spark Connect or active.

``lab_session()`` returns the active session when there is one (a notebook on Databricks, a
test fixture), a Spark Connect session for ``remote`` (or ``SPARK_REMOTE``), and otherwise a
local session tuned for a small machine, or one on the cluster named by ``master`` (or
``STREAMLAB_MASTER``).
"""

from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from streamlab.errors import StreamlabError
from streamlab.lab.paths import LabPaths
from streamlab.spark.java import ensure_java
from streamlab.spark.lifecycle import record_started
from streamlab.spark.settings import LOG_LEVEL_ENV, RUNTIME_KEYS, default_config

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


_LOCAL_MASTER = re.compile(r"local(\[(\*|\d+)(,\d+)?\])?")


def check_target(master: str | None = None, remote: str | None = None) -> None:
    """Fail with one line if ``master``/``remote`` (or their variables) cannot be used.

    Starts nothing: it checks the URL's form and that a ``spark://`` master or a Connect
    server answers on its port, so that a command refuses before it starts Spark.

    >>> check_target("local[2]")
    >>> check_target("bogus")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    streamlab.errors.StreamlabError: --master 'bogus' is not a Spark master URL like ...
    """
    remote = remote or os.environ.get("SPARK_REMOTE")
    master = master or os.environ.get("STREAMLAB_MASTER")
    if remote:
        from streamlab.spark.connect import check_remote

        check_remote(remote)
    elif master and master.startswith("spark://"):
        from streamlab.spark.cluster import check_master

        check_master(master)
    elif master and not _LOCAL_MASTER.fullmatch(master):
        raise StreamlabError(
            f"--master {master!r} is not a Spark master URL like spark://HOST:7077 or local[2]"
        )


def lab_session(
    root: str | os.PathLike[str] | None = None,
    *,
    master: str | None = None,
    remote: str | None = None,
    app_name: str = "streamlab",
    config: Mapping[str, str] | None = None,
    attach: bool = True,
) -> SparkSession:
    """Return the Spark session for a lab at ``root`` (default ``/tmp/streaming``).

    Args:
        root: the lab root; ``None`` means ``$STREAMLAB_ROOT`` or ``/tmp/streaming``.
        master: a cluster URL such as ``spark://host:7077``; default ``$STREAMLAB_MASTER``,
            else ``local[N]`` with N the machine's cores.
        remote: a Spark Connect URL such as ``sc://localhost:15002``; default ``$SPARK_REMOTE``.
        app_name: the application name shown by Spark.
        config: extra Spark settings, applied over streamlab's defaults.
        attach: register the lab's databases and tables from its warehouse in the catalog.

    >>> spark = lab_session()  # doctest: +SKIP
    >>> spark.sql("SHOW DATABASES").show()  # doctest: +SKIP

    """
    from pyspark.sql import SparkSession

    paths = LabPaths.resolve(root)
    if attach:  # before Spark starts: a lab moved from another root is refused at once
        from streamlab.lab.home import check_home

        check_home(paths, writing=False)
    remote = remote or os.environ.get("SPARK_REMOTE")
    master = master or os.environ.get("STREAMLAB_MASTER")
    cores = os.cpu_count() or 2
    settings = default_config(paths, cores)
    if not remote:
        check_target(master)  # Spark would retry a missing master for a minute
    if master and not remote and master.startswith("spark://"):
        from streamlab.spark.cluster import driver_settings

        settings.update(driver_settings(master))
    settings.update(config or {})

    active = SparkSession.getActiveSession()
    if active is not None and remote is None and master is None:
        spark = active
    elif remote:
        from streamlab.spark.connect import check_remote

        check_remote(remote)  # the Connect client would retry a missing server for minutes
        spark = _connect_session(remote, app_name)
        record_started(spark)
        for key in RUNTIME_KEYS:
            spark.conf.set(key, settings[key])
    else:
        from pyspark import SparkContext

        fresh = SparkContext._active_spark_context is None
        spark = _local_session(master or f"local[{cores}]", app_name, settings)
        if fresh:
            record_started(spark)
        if master and master.startswith("spark://"):
            from streamlab.spark.cluster import wait_for_executors

            wait_for_executors(spark, master)
    if attach:
        from streamlab.lab.catalog import attach_catalog

        attach_catalog(spark, paths)
    return spark


def _local_session(master: str, app_name: str, settings: Mapping[str, str]) -> SparkSession:
    from pyspark.sql import SparkSession

    java = ensure_java()
    # Python workers (UDFs, cluster executors) must run this interpreter, with its packages.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        with _gateway_ignores_sigterm():
            spark = builder.getOrCreate()
    except Exception as exc:  # the JVM could not start or reach the master
        if master.startswith("local"):
            raise StreamlabError(
                f"Spark did not start on Java {java.version} from {java.origin} "
                f"({java.home}): {_first_line(exc)}; set JAVA_HOME to a Java 17 or 21"
            ) from exc
        raise StreamlabError(
            f"Spark did not start with master {master!r} ({_first_line(exc)}): "
            "check the master URL, or run without --master for local mode"
        ) from exc
    # The CLI sets OFF (not with --debug): its one-line errors say what Spark's logged stack
    # traces would, and a library user keeps Spark's errors in the log.
    spark.sparkContext.setLogLevel(os.environ.get(LOG_LEVEL_ENV, "ERROR"))
    return spark


@contextmanager
def _gateway_ignores_sigterm() -> Iterator[None]:
    """Launch PySpark's JVM with SIGTERM ignored, as PySpark itself ignores SIGINT for it.

    ``timeout``, a terminal's job control and service managers signal a command's whole
    process group. A JVM that took SIGTERM would run Spark's shutdown hook and stop the
    SparkContext under the running queries (batches cut off, Java stack traces on stderr);
    instead the Python process decides how to stop (``streamlab live`` stops between
    batches), and the JVM ends when its stdin closes (:mod:`streamlab.spark.lifecycle`). An
    ignored signal stays ignored across ``exec``, and the JVM keeps it so
    (``JVM_RegisterSignal``).
    """
    from pyspark import java_gateway

    module: Any = java_gateway
    original = getattr(module, "Popen", None)
    if original is None:  # PySpark launches its JVM another way: leave it as it is
        yield
        return

    def popen(*args: Any, **kwargs: Any) -> Any:
        inner = kwargs.get("preexec_fn")  # PySpark's own: SIGINT ignored

        def preexec() -> None:
            if inner is not None:
                inner()
            signal.signal(signal.SIGTERM, signal.SIG_IGN)

        if os.name == "posix":
            kwargs["preexec_fn"] = preexec
        return original(*args, **kwargs)

    module.Popen = popen
    try:
        yield
    finally:
        module.Popen = original


def _connect_session(remote: str, app_name: str) -> SparkSession:
    from pyspark.sql import SparkSession

    if not remote.startswith("sc://"):
        raise StreamlabError(f"--remote {remote!r} is not a Spark Connect URL like sc://HOST:PORT")
    try:
        return SparkSession.builder.remote(remote).appName(app_name).getOrCreate()
    except Exception as exc:
        raise StreamlabError(
            f"cannot reach the Spark Connect server at {remote} ({_first_line(exc)}): "
            "start one with 'streamlab connect-server start' or fix --remote"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__


def is_connect(spark: SparkSession) -> bool:
    """Return whether ``spark`` is a Spark Connect session."""
    return type(spark).__module__.startswith("pyspark.sql.connect")

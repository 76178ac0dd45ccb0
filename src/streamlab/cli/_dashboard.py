"""The dashboard served while a command runs: ``live``, ``ui`` and ``run --ui`` share it."""

from __future__ import annotations

import webbrowser
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from streamlab.cli._common import err_console

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from streamlab.lab.paths import LabPaths
    from streamlab.live.collect import Collector
    from streamlab.live.feed import Feed
    from streamlab.pipelines.config import PipelineConfig
    from streamlab.run.doctor import Thresholds


@contextmanager
def dashboard(
    paths: LabPaths,
    config: PipelineConfig,
    *,
    mode: str,
    port: int,
    open_browser: bool = False,
    spark: SparkSession | None = None,
    spark_ui: str | None = None,
    feed: Feed | None = None,
    every_ms: int | None = None,
    thresholds: Thresholds | None = None,
    show: bool = True,
) -> Iterator[Collector]:
    """Serve the dashboard for the lab at ``paths`` while the block runs."""
    from streamlab.live.collect import Collector
    from streamlab.live.server import Dashboard

    collector = Collector(
        paths,
        config,
        mode=mode,
        thresholds=thresholds,
        every_ms=every_ms,
        feed=feed,
        spark=spark,
        spark_ui=spark_ui,
    )
    collector.start()
    server = Dashboard(collector, port).start()
    if show:
        err_console.print(
            f"Dashboard: {server.url}" + (f"  Spark UI: {spark_ui}" if spark_ui else "")
        )
    if open_browser:
        webbrowser.open(server.url)
    try:
        yield collector
    finally:
        collector.stop()
        server.stop()

"""The pipelines of the guide's exercises, their queries, tables and checkpoints.

Every query reads the landed batches one per micro-batch (``read_source``), so a query's
batches are the landed batches, in order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamlab.errors import StreamlabError
from streamlab.ingest.quarantine import QuarantineConfig, bad_records, classify, read_lines
from streamlab.ingest.sources import read_source
from streamlab.lab.paths import PIPELINES as PIPELINES
from streamlab.lab.paths import SOURCES, LabPaths
from streamlab.pipelines.bronze import bronze_events
from streamlab.pipelines.config import PipelineConfig
from streamlab.pipelines.dedup import deduplicate
from streamlab.pipelines.join import ad_clicks, ad_ctr
from streamlab.pipelines.windows import sliding_windows, tumbling_windows

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

Build = Callable[["SparkSession", LabPaths, PipelineConfig], "DataFrame"]


LATE_TABLE = "streaming_bronze.late_events"
"""Where ``late_data`` writes the events the tumbling windows dropped as late."""


_SETTING_FIELDS = {f.name for f in fields(PipelineConfig)}


class QueryKind(StrEnum):
    """What a query does with event time: which of ``streamlab doctor``'s rules can apply."""

    QUARANTINE = "quarantine"
    """Stateless and without a watermark by design: lines that are not usable records."""
    WATERMARKED = "watermarked"
    """Stateless with a watermark: the watermark moves, but nothing is dropped or kept."""
    DEDUPLICATION = "deduplication"
    """Keeps keys in state until the watermark passes them; drops late rows."""
    AGGREGATION = "aggregation"
    """Keeps windows in state until the watermark closes them; drops late rows."""
    JOIN = "join"
    """A stream-stream join that writes the joined rows: both sides buffered in state."""
    JOINED_AGGREGATION = "joined_aggregation"
    """Windows over a left outer stream-stream join: written only once the watermark closes
    them, and an impression without a click still counts, so no output is no join failure."""


@dataclass(frozen=True)
class QuerySpec:
    """One streaming query: what it computes, where it writes, where it checkpoints."""

    name: str
    """The query's name in Spark and in the progress log, e.g. ``windowed_agg/tumbling``."""
    pipeline: str
    """The exercise it belongs to."""
    table: str
    """The table it appends to, ``database.name``."""
    build: Build
    """Builds the streaming DataFrame from the lab's sources."""
    description: str
    settings: tuple[str, ...] = ()
    """The :class:`PipelineConfig` fields the query's state depends on; fixed at its first run.

    Their names are the keys of the checkpoint's recorded settings (``streamlab.json``), so
    they stay names; each must be a field, which is checked when the spec is made."""
    kind: QueryKind = field(kw_only=True)
    """What it does with event time (see :class:`QueryKind`)."""

    def __post_init__(self) -> None:
        """Refuse a setting that is not a :class:`PipelineConfig` field."""
        unknown = set(self.settings) - _SETTING_FIELDS
        if unknown:
            raise ValueError(f"{self.name}: {sorted(unknown)} are not PipelineConfig fields")

    def recorded(self, cfg: PipelineConfig) -> dict[str, Any]:
        """Return the settings of ``cfg`` this query's checkpoint records and checks."""
        return {name: getattr(cfg, name) for name in self.settings}

    def checkpoint(self, paths: LabPaths) -> Path:
        """Return the query's checkpoint folder (the guide's folder, a subfolder if shared)."""
        return paths.checkpoint(self.name)


def _quarantine(cfg: PipelineConfig) -> QuarantineConfig:
    return QuarantineConfig(max_skew_ms=cfg.max_skew_ms)


def _bad_records(spark: SparkSession, paths: LabPaths, cfg: PipelineConfig) -> DataFrame:
    frames = [
        bad_records(classify(read_lines(spark, paths, s), s, _quarantine(cfg)), s) for s in SOURCES
    ]
    return frames[0].unionByName(frames[1]).unionByName(frames[2])


def _bronze(spark: SparkSession, paths: LabPaths, cfg: PipelineConfig) -> DataFrame:
    return bronze_events(read_source(spark, paths, "events", quarantine=_quarantine(cfg)), cfg)


def _dedup(spark: SparkSession, paths: LabPaths, cfg: PipelineConfig) -> DataFrame:
    return deduplicate(read_source(spark, paths, "events", quarantine=_quarantine(cfg)), cfg)


def _tumbling(spark: SparkSession, paths: LabPaths, cfg: PipelineConfig) -> DataFrame:
    return tumbling_windows(read_source(spark, paths, "events", quarantine=_quarantine(cfg)), cfg)


def _sliding(spark: SparkSession, paths: LabPaths, cfg: PipelineConfig) -> DataFrame:
    return sliding_windows(read_source(spark, paths, "events", quarantine=_quarantine(cfg)), cfg)


def _clicks(spark: SparkSession, paths: LabPaths, cfg: PipelineConfig) -> DataFrame:
    return ad_clicks(
        read_source(spark, paths, "impressions", quarantine=_quarantine(cfg)),
        read_source(spark, paths, "clicks", quarantine=_quarantine(cfg)),
        cfg,
    )


def _ctr(spark: SparkSession, paths: LabPaths, cfg: PipelineConfig) -> DataFrame:
    return ad_ctr(
        read_source(spark, paths, "impressions", quarantine=_quarantine(cfg)),
        read_source(spark, paths, "clicks", quarantine=_quarantine(cfg)),
        cfg,
    )


_JOIN = ("impressions_delay_ms", "clicks_delay_ms", "click_window_ms")

QUERIES = (
    QuerySpec(
        "watermark_test",
        "watermark_test",
        "streaming_bronze.events",
        _bronze,
        "raw events, typed and watermarked",
        ("watermark_delay_ms",),
        kind=QueryKind.WATERMARKED,
    ),
    QuerySpec(
        "bad_records",
        "watermark_test",
        "streaming_bronze.bad_records",
        _bad_records,
        "lines that are not usable records, with the reason",
        kind=QueryKind.QUARANTINE,
    ),
    QuerySpec(
        "dedup",
        "dedup",
        "streaming_silver.events_dedup",
        _dedup,
        "one row per event_id within the watermark",
        ("watermark_delay_ms",),
        kind=QueryKind.DEDUPLICATION,
    ),
    QuerySpec(
        "windowed_agg/tumbling",
        "windowed_agg",
        "streaming_gold.events_tumbling",
        _tumbling,
        "tumbling windows per event type",
        ("watermark_delay_ms", "window_ms"),
        kind=QueryKind.AGGREGATION,
    ),
    QuerySpec(
        "windowed_agg/sliding",
        "windowed_agg",
        "streaming_gold.events_sliding",
        _sliding,
        "sliding windows per event type",
        ("watermark_delay_ms", "sliding_window_ms", "slide_ms"),
        kind=QueryKind.AGGREGATION,
    ),
    QuerySpec(
        "stream_join/clicks",
        "stream_join",
        "streaming_silver.ad_clicks",
        _clicks,
        "impressions joined with their clicks",
        _JOIN,
        kind=QueryKind.JOIN,
    ),
    QuerySpec(
        "stream_join/ctr",
        "stream_join",
        "streaming_gold.ad_ctr",
        _ctr,
        "click-through rate per ad and window",
        (*_JOIN, "window_ms"),
        kind=QueryKind.JOINED_AGGREGATION,
    ),
)
"""Every streaming query; ``late_data`` has none of its own: it reads the tumbling query's."""

TUMBLING = "windowed_agg/tumbling"
"""The query whose dropped late rows ``late_data`` captures."""


def select_pipelines(names: list[str] | None) -> list[str]:
    """Return the pipelines to run, in the guide's order; empty or ``None`` means all.

    ``late_data`` needs the tumbling windows, so it brings ``windowed_agg`` along.
    """
    if not names:
        return list(PIPELINES)
    unknown = [n for n in names if n not in PIPELINES]
    if unknown:
        raise StreamlabError(f"unknown pipeline {unknown[0]!r}: choose from {', '.join(PIPELINES)}")
    chosen = set(names)
    if "late_data" in chosen:
        chosen.add("windowed_agg")
    return [p for p in PIPELINES if p in chosen]


def query_kinds() -> dict[str, QueryKind]:
    """Return each query's kind, by query name."""
    return {q.name: q.kind for q in QUERIES}


def queries_of(pipelines: list[str]) -> list[QuerySpec]:
    """Return the queries of ``pipelines``."""
    return [q for q in QUERIES if q.pipeline in pipelines]

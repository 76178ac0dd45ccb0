"""The guide's streaming pipelines as DataFrame transformations, with their settings.

Nothing here starts a query: :mod:`streamlab.run.runner` and the CLI do.
"""

from __future__ import annotations

from streamlab.pipelines.bronze import bronze_events, with_origin
from streamlab.pipelines.config import PipelineConfig, Trigger
from streamlab.pipelines.dedup import deduplicate, watermarked_events
from streamlab.pipelines.join import ad_clicks, ad_ctr
from streamlab.pipelines.registry import PIPELINES, QUERIES, QuerySpec, select_pipelines
from streamlab.pipelines.windows import sliding_windows, tumbling_windows, window_aggregates

__all__ = [
    "PIPELINES",
    "QUERIES",
    "PipelineConfig",
    "QuerySpec",
    "Trigger",
    "ad_clicks",
    "ad_ctr",
    "bronze_events",
    "deduplicate",
    "select_pipelines",
    "sliding_windows",
    "tumbling_windows",
    "watermarked_events",
    "window_aggregates",
    "with_origin",
]

"""The guide's streaming pipelines as DataFrame transformations, with their settings.

Nothing here starts a query: :mod:`streamlab.run.runner` and the CLI do. Names are imported
the first time they are used, so reading the settings (:mod:`streamlab.pipelines.config`)
does not import Spark.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streamlab.lab.paths import PIPELINES
    from streamlab.pipelines.bronze import bronze_events, with_origin
    from streamlab.pipelines.config import PipelineConfig, Trigger
    from streamlab.pipelines.dedup import deduplicate, watermarked_events
    from streamlab.pipelines.join import ad_clicks, ad_ctr
    from streamlab.pipelines.registry import QUERIES, QuerySpec, select_pipelines
    from streamlab.pipelines.windows import sliding_windows, tumbling_windows, window_aggregates

_EXPORTS = {
    "PIPELINES": "streamlab.lab.paths",
    "QUERIES": "streamlab.pipelines.registry",
    "PipelineConfig": "streamlab.pipelines.config",
    "QuerySpec": "streamlab.pipelines.registry",
    "Trigger": "streamlab.pipelines.config",
    "ad_clicks": "streamlab.pipelines.join",
    "ad_ctr": "streamlab.pipelines.join",
    "bronze_events": "streamlab.pipelines.bronze",
    "deduplicate": "streamlab.pipelines.dedup",
    "select_pipelines": "streamlab.pipelines.registry",
    "sliding_windows": "streamlab.pipelines.windows",
    "tumbling_windows": "streamlab.pipelines.windows",
    "watermarked_events": "streamlab.pipelines.dedup",
    "window_aggregates": "streamlab.pipelines.windows",
    "with_origin": "streamlab.pipelines.bronze",
}


def __getattr__(name: str) -> Any:
    """Import a public name's module the first time the name is used."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'streamlab.pipelines' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """List the public names, imported or not."""
    return sorted([*globals(), *_EXPORTS])


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

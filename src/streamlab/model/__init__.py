"""A reference model of Spark 4 event-time semantics for the lab's pipelines.

``simulate(inputs, config)`` replays landed batches the way Spark runs them and says, for
every micro-batch, its late and eviction watermarks; for every event, its fate; for every
window, its count and the batch that emitted it; and the state each batch leaves behind.
Each rule cites the part of Spark it comes from; ``tests/test_model_vs_spark.py`` proves
them against real Spark.
"""

from __future__ import annotations

from streamlab.model.aggregate import AggregateOutcome, Window
from streamlab.model.dedup import DedupOutcome
from streamlab.model.events import Rows
from streamlab.model.explain import explain_lab, fate_array, report
from streamlab.model.fates import Fate
from streamlab.model.join import JoinCondition, JoinOutcome
from streamlab.model.simulate import PIPELINES, ModelConfig, Result, simulate
from streamlab.model.story import story
from streamlab.model.watermark import BatchInfo, Policy, Trigger
from streamlab.model.windows import WindowSpec

__all__ = [
    "PIPELINES",
    "AggregateOutcome",
    "BatchInfo",
    "DedupOutcome",
    "Fate",
    "JoinCondition",
    "JoinOutcome",
    "ModelConfig",
    "Policy",
    "Result",
    "Rows",
    "Trigger",
    "Window",
    "WindowSpec",
    "explain_lab",
    "fate_array",
    "report",
    "simulate",
    "story",
]

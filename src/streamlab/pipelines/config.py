"""The pipelines' settings, :class:`PipelineConfig` and :class:`Trigger`.

They are declared in :mod:`streamlab.settings`, below the model, so that the model, the
quarantine rules, the generator and the CLI read the same defaults without importing Spark.
"""

from __future__ import annotations

from streamlab.settings import MINUTE_MS, PipelineConfig, Trigger

__all__ = ["MINUTE_MS", "PipelineConfig", "Trigger"]

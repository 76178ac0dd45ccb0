"""One entry point per lab pipeline: run the model over landed batches and keep everything.

``simulate(inputs, config)`` plans the micro-batches and their watermarks, then runs the
pipeline's operators in the order the lab's queries chain them:

* ``windowed_agg``: watermark, ``dropDuplicatesWithinWatermark(["event_id"])``, then a
  windowed count per ``event_type`` in append mode;
* ``dedup``: watermark, then ``dropDuplicatesWithinWatermark(["event_id"])``;
* ``stream_join``: impressions and clicks, each with its watermark, joined on
  ``impression_id`` within a time range (inner or left outer); and the lab's second join
  query, ``stream_join/ctr``: a left outer join, then a count per ad and window
  (:mod:`streamlab.model.chain`).

In Spark 4 each stateful operator gets its input watermarks from ``WatermarkPropagator``; the
deduplication passes its input watermark through unchanged, so the aggregation after it sees
the same two watermarks per batch, and one plan of batches serves every operator of these
queries. The aggregation of ``stream_join/ctr`` comes after a join and sees the join's output
watermark, held back by the join's time range (:func:`streamlab.model.chain.downstream`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import numpy.typing as npt

from streamlab.errors import StreamlabError
from streamlab.model.aggregate import AggregateOutcome, aggregate
from streamlab.model.chain import ChainOutcome, click_through
from streamlab.model.dedup import KEPT, DedupOutcome, deduplicate
from streamlab.model.events import Rows
from streamlab.model.fates import FateArray, event_fates, join_fates
from streamlab.model.join import JoinCondition, JoinOutcome, join
from streamlab.model.watermark import (
    BatchInfo,
    InputWatermark,
    Policy,
    Trigger,
    batch_maxima,
    plan_batches,
)
from streamlab.model.windows import WindowSpec
from streamlab.settings import PipelineConfig, TriggerKind
from streamlab.settings import Trigger as SettingsTrigger

IntArray = npt.NDArray[np.int64]

_INPUTS = {
    "windowed_agg": ("events",),
    "dedup": ("events",),
    "stream_join": ("impressions", "clicks"),
}
"""The sources each modelled pipeline reads."""
PIPELINES = tuple(_INPUTS)
"""The lab's pipelines (:data:`streamlab.lab.paths.PIPELINES`) the model knows."""


@dataclass(frozen=True)
class ModelConfig:
    """A pipeline and the options it runs with."""

    pipeline: str = "windowed_agg"
    """``windowed_agg``, ``dedup`` or ``stream_join``."""
    delay_ms: int = PipelineConfig.watermark_delay_ms
    """The ``withWatermark`` delay of every input, unless ``delays_ms`` overrides one."""
    window: WindowSpec = field(
        default_factory=lambda: WindowSpec(PipelineConfig.window_ms, PipelineConfig.window_ms)
    )
    """The window of ``windowed_agg``."""
    deduplicate: bool = True
    """Whether ``windowed_agg`` drops duplicate ``event_id`` before counting."""
    trigger: Trigger = Trigger.AVAILABLE_NOW
    """AvailableNow (no-data batch only at the end) or a live trigger (after each batch)."""
    policy: Policy = Policy.MIN
    """How the inputs' watermarks combine into the global one."""
    join: JoinCondition = field(default_factory=JoinCondition)
    """The join's time range and type, for ``stream_join``."""
    delays_ms: Mapping[str, int] = field(default_factory=dict)
    """Per-input delays that override ``delay_ms`` (e.g. ``{"clicks": 120_000}``)."""
    final_no_data_batch: bool = True
    """With AvailableNow, whether Spark's closing no-data batch is modelled."""
    allow_multiple: bool = True
    """``spark.sql.streaming.statefulOperator.allowMultiple``: whether a stateful operator may
    follow another (``stream_join/ctr``'s aggregation after its join); Spark's default."""

    def __post_init__(self) -> None:
        """Reject unknown pipelines and negative delays."""
        if self.pipeline not in PIPELINES:
            raise StreamlabError(
                f"unknown pipeline {self.pipeline!r}: choose one of {', '.join(PIPELINES)}"
            )
        if self.delay_ms < 0 or any(v < 0 for v in self.delays_ms.values()):
            raise StreamlabError("--watermark-delay must not be negative")

    @classmethod
    def from_settings(
        cls,
        settings: PipelineConfig,
        pipeline: str = "windowed_agg",
        *,
        sliding: bool = False,
        trigger: Trigger | TriggerKind | SettingsTrigger = TriggerKind.AVAILABLE_NOW,
        policy: Policy = Policy.MIN,
        deduplicate: bool = True,
        outer: bool = False,
    ) -> ModelConfig:
        """Return the model of ``pipeline`` as the lab's queries run it with ``settings``.

        The one way from the pipelines' settings to the model: ``windowed_agg`` counts in the
        tumbling windows (``window_ms``) or, with ``sliding``, the sliding ones; ``dedup`` and
        ``windowed_agg`` use the events' watermark delay; ``stream_join`` the impressions' and
        clicks' delays and the click window.

        >>> cfg = ModelConfig.from_settings(PipelineConfig(window_ms=60_000))
        >>> cfg.delay_ms, cfg.window.size_ms, cfg.join.upper_ms
        (600000, 60000, 600000)
        """
        window = (
            WindowSpec(settings.sliding_window_ms, settings.slide_ms)
            if sliding
            else WindowSpec(settings.window_ms, settings.window_ms)
        )
        delays = (
            {"impressions": settings.impressions_delay_ms, "clicks": settings.clicks_delay_ms}
            if pipeline == "stream_join"
            else {}
        )
        kind = trigger.kind if isinstance(trigger, SettingsTrigger) else TriggerKind(trigger)
        return cls(
            pipeline=pipeline,
            delay_ms=settings.watermark_delay_ms,
            window=window,
            deduplicate=deduplicate,
            trigger=kind,
            policy=policy,
            join=JoinCondition(0, settings.click_window_ms, outer),
            delays_ms=delays,
        )

    @property
    def inputs(self) -> tuple[str, ...]:
        """The sources this pipeline reads, in plan order."""
        return _INPUTS[self.pipeline]

    def delay_of(self, name: str) -> int:
        """Return the watermark delay of input ``name``."""
        return int(self.delays_ms.get(name, self.delay_ms))


@dataclass(frozen=True, eq=False)
class Result:
    """Everything the model decided for one run."""

    config: ModelConfig
    """The pipeline and options."""
    inputs: dict[str, Rows]
    """The rows of each input."""
    batches: list[BatchInfo]
    """Every micro-batch, no-data ones included, with its watermarks."""
    dedup: DedupOutcome | None
    """Deduplication, for ``dedup`` and ``windowed_agg`` with ``deduplicate``."""
    aggregate: AggregateOutcome | None
    """Windows and contributions, for ``windowed_agg``."""
    join: JoinOutcome | None
    """Join output and row outcomes, for ``stream_join``."""
    state_rows: IntArray
    """Per batch: rows held in state by all the query's operators after the batch."""
    ctr: ChainOutcome | None = None
    """``stream_join``: the ``stream_join/ctr`` query (left outer join, then counts per ad and
    window of ``config.window``) over the same batches; ``None`` without ``allow_multiple``."""

    @cached_property
    def fates(self) -> FateArray:
        """The fate of every event (``windowed_agg``, ``dedup``), computed once."""
        if "events" not in self.inputs:
            raise StreamlabError(f"{self.config.pipeline} has no events: use join_fates")
        return event_fates(self.inputs["events"], self.aggregate, self.dedup)

    @cached_property
    def join_fates(self) -> tuple[FateArray, FateArray]:
        """The fates of the impressions and of the clicks (``stream_join``), computed once."""
        if self.join is None:
            raise StreamlabError(f"{self.config.pipeline} has no join: use fates")
        return join_fates(self.join)


def simulate(inputs: Mapping[str, Rows], config: ModelConfig) -> Result:
    """Run ``config.pipeline`` over ``inputs`` (one ``Rows`` per source) and return the result.

    >>> rows = Rows.from_batches([[("e1", 60_000, "click")], [("e2", 1_000, "click")]])
    >>> cfg = ModelConfig(delay_ms=10_000, window=WindowSpec(30_000, 30_000))
    >>> result = simulate({"events": rows}, cfg)
    >>> [(b.batch, b.late_watermark, b.eviction_watermark) for b in result.batches]
    [(0, 0, 0), (1, 0, 50000)]
    """
    missing = [name for name in config.inputs if name not in inputs]
    if missing:
        raise StreamlabError(
            f"the {config.pipeline} pipeline needs the {', '.join(missing)} source: "
            "generate the lab's data first with 'streamlab setup'"
        )
    names = config.inputs
    data_batches = max(inputs[name].data_batches for name in names)
    maxima = [
        batch_maxima(inputs[n].batch, inputs[n].time_ms, inputs[n].valid, data_batches)
        for n in names
    ]
    batches = plan_batches(
        [InputWatermark(n, config.delay_of(n)) for n in names],
        maxima,
        data_batches=data_batches,
        policy=config.policy,
        trigger=config.trigger,
        final_no_data_batch=config.final_no_data_batch,
    )
    dedup_out: DedupOutcome | None = None
    agg_out: AggregateOutcome | None = None
    join_out: JoinOutcome | None = None
    ctr: ChainOutcome | None = None
    state = np.zeros(len(batches), dtype=np.int64)
    if config.pipeline in ("windowed_agg", "dedup"):
        events = inputs["events"]
        reached = events.valid.copy()
        if config.pipeline == "dedup" or config.deduplicate:
            dedup_out = deduplicate(events, batches, config.delay_of("events"))
            reached = dedup_out.outcome == KEPT
            state = state + dedup_out.state_rows
        if config.pipeline == "windowed_agg":
            agg_out = aggregate(events, reached, batches, config.window)
            state = state + agg_out.state_rows
    else:
        imps, clicks = inputs["impressions"], inputs["clicks"]
        if config.allow_multiple:
            outer = replace(config.join, outer=True)
            ctr = click_through(imps, clicks, batches, outer, config.window)
        if ctr is not None:
            # The join type only decides whether evicted unmatched impressions get a NULL row:
            # the inner join is the ctr query's left outer join without them.
            join_out = ctr.join if config.join.outer else replace(ctr.join, null_rows=[])
        else:
            join_out = join(imps, clicks, batches, config.join)
        state = state + join_out.state_rows
    return Result(config, dict(inputs), batches, dedup_out, agg_out, join_out, state, ctr)

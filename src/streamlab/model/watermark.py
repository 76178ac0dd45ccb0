"""Micro-batches and their watermarks, as Spark's ``MicroBatchExecution`` computes them.

Each data batch of the model is one landed ``batch_NNNN/`` folder (one file per trigger). From
the largest event time each input sees in each batch, this module derives the batches Spark
runs (data batches, plus no-data batches where Spark runs them) and, for each batch, the two
watermarks every stateful operator uses:

* the *late* watermark: rows (or windows) at or behind it are dropped as late;
* the *eviction* watermark: state at or behind it is removed (windows emitted, keys expired).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from streamlab.errors import StreamlabError
from streamlab.settings import TriggerKind

IntArray = npt.NDArray[np.int64]


Trigger = TriggerKind
"""The model takes a trigger's kind (:class:`streamlab.settings.TriggerKind`), not its interval."""


class Policy(StrEnum):
    """``spark.sql.streaming.multipleWatermarkPolicy``: how the inputs' watermarks combine."""

    MIN = "min"
    """The slowest input decides (Spark's default)."""
    MAX = "max"
    """The fastest input decides."""


@dataclass(frozen=True)
class InputWatermark:
    """One ``withWatermark`` node: an input and its delay."""

    name: str
    """The input's name (``events``, ``impressions``, ``clicks``)."""
    delay_ms: int
    """The ``withWatermark`` delay threshold, in milliseconds."""


@dataclass(frozen=True)
class BatchInfo:
    """One micro-batch as Spark runs it."""

    batch: int
    """Spark's batch id, from 0, counting no-data batches."""
    data_batch: int | None
    """The landed batch folder this micro-batch reads, ``None`` for a no-data batch."""
    late_watermark: int
    """Milliseconds: rows and windows at or behind it are dropped as late in this batch."""
    eviction_watermark: int
    """Milliseconds: state at or behind it is removed (and windows emitted) in this batch."""
    next_watermark: int
    """Milliseconds: the global watermark computed at the end of this batch."""
    input_watermarks: tuple[int | None, ...]
    """Per input, its node's watermark after this batch (``None`` before it saw any row)."""
    max_event_time: tuple[int | None, ...]
    """Per input, the largest event time of this batch (``None`` if it had no row)."""


def batch_maxima(
    batch: IntArray, time_ms: IntArray, valid: npt.NDArray[np.bool_], n: int
) -> list[int | None]:
    """Return the largest valid event time of each data batch ``0..n-1`` (``None`` if none)."""
    out: list[int | None] = [None] * n
    keep = valid & (batch < n)
    if keep.any():
        b, t = batch[keep], time_ms[keep]
        maxima = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(maxima, b, t)
        for i in np.flatnonzero(maxima != np.iinfo(np.int64).min).tolist():
            out[i] = int(maxima[i])
    return out


def advance(
    global_ms: int,
    nodes: Sequence[int | None],
    inputs: Sequence[InputWatermark],
    batch_max: Sequence[int | None],
    policy: Policy = Policy.MIN,
) -> tuple[int, tuple[int | None, ...]]:
    """Return the global watermark and each node's after one batch saw ``batch_max``.

    Spark's ``WatermarkTracker.updateWatermark``, run when a batch ends: a node keeps the
    largest ``max - delay`` it has seen; a node that has seen no row yet counts as 0; the global
    watermark is the nodes' minimum (``policy``) and only moves forward. The result is the
    watermark the *next* batch runs with. ``nodes`` is ``None`` for a node before its first row
    (as after a restart, when the per-node map starts empty again).

    >>> advance(0, [None], [InputWatermark("events", 10_000)], [25_000])
    (15000, (15000,))
    >>> two = [InputWatermark("impressions", 10_000), InputWatermark("clicks", 10_000)]
    >>> advance(0, [None, None], two, [25_000, None])  # clicks have seen nothing: 0 decides
    (0, (15000, 0))
    """
    out = list(nodes)
    for i, node in enumerate(inputs):
        m = batch_max[i]
        if m is not None:
            candidate = m - node.delay_ms
            previous = out[i]
            if previous is None or candidate > previous:
                out[i] = candidate
        elif out[i] is None:
            out[i] = 0
    values = [v if v is not None else 0 for v in out]
    chosen = min(values) if policy is Policy.MIN else max(values)
    return max(global_ms, chosen), tuple(out)


def plan_batches(
    inputs: Sequence[InputWatermark],
    maxima: Sequence[Sequence[int | None]],
    *,
    data_batches: int,
    policy: Policy = Policy.MIN,
    trigger: Trigger = Trigger.AVAILABLE_NOW,
    final_no_data_batch: bool = True,
    restarts: frozenset[int] = frozenset(),
    no_data_batches: bool = True,
) -> list[BatchInfo]:
    """Return the micro-batches Spark runs over ``data_batches`` landed batches.

    Args:
        inputs: the ``withWatermark`` nodes, in the order of ``maxima``.
        maxima: per input, the largest event time of each data batch (``None``: no rows).
        data_batches: how many landed batches there are.
        policy: the multiple-watermark policy.
        trigger: whether no-data batches run after each data batch or only at the end.
        final_no_data_batch: with AvailableNow, whether the last no-data batch runs.
        restarts: data batches the query was restarted before (rule R1: the global watermark
            survives in the offset log, the per-input watermarks are forgotten).
        no_data_batches: whether the query's operators ask for no-data batches at all (not
            in complete mode).

    >>> [b.eviction_watermark for b in plan_batches(
    ...     [InputWatermark("events", 10_000)], [[25_000, 30_000]], data_batches=2)]
    [0, 15000, 20000]

    """
    if len(maxima) != len(inputs):
        raise StreamlabError("each watermark input needs its own list of batch maxima")
    # The global watermark starts at 0; each batch moves it as advance() says.
    nodes: list[int | None] = [None] * len(inputs)
    global_wm = 0
    # IncrementalExecution: eventTimeWatermarkForEviction is this batch's watermark (from the
    # offset log); eventTimeWatermarkForLateEvents is the previous batch's one
    # (`prevOffsetSeqMetadata.getOrElse(offsetSeqMetadata).batchWatermarkMs`), so in batch 0 both
    # are 0.
    prev_wm = 0
    out: list[BatchInfo] = []

    def run(data_batch: int | None) -> None:
        nonlocal global_wm, prev_wm, nodes
        current = global_wm
        batch_max = [m[data_batch] if data_batch is not None else None for m in maxima]
        global_wm, after = advance(global_wm, nodes, inputs, batch_max, policy)
        nodes = list(after)
        out.append(
            BatchInfo(
                batch=len(out),
                data_batch=data_batch,
                late_watermark=prev_wm,
                eviction_watermark=current,
                next_watermark=global_wm,
                input_watermarks=tuple(nodes),
                max_event_time=tuple(batch_max),
            )
        )
        prev_wm = current

    def maybe_no_data() -> None:
        # IncrementalExecution.shouldRunAnotherBatch: every operator of the lab's pipelines
        # (append-mode aggregation, dedup, joins with a state watermark) asks for another batch
        # exactly when the new watermark is past the one this batch evicted with.
        last = out[-1]
        if no_data_batches and last.next_watermark > last.eviction_watermark:
            run(None)

    for d in range(data_batches):
        if d in restarts:
            # MicroBatchExecution.populateStartOffsets restores the global watermark from the
            # offset log (watermarkTracker.setWatermark); WatermarkTracker's per-node map
            # starts empty again.
            nodes = [None] * len(inputs)
        run(d)
        if trigger is Trigger.PROCESSING_TIME:
            maybe_no_data()
    if trigger is Trigger.AVAILABLE_NOW and final_no_data_batch and out:
        maybe_no_data()
    return out


def eviction_array(batches: Sequence[BatchInfo]) -> IntArray:
    """Return the eviction watermark of every batch, in batch order."""
    return np.array([b.eviction_watermark for b in batches], dtype=np.int64)


def late_by_data_batch(batches: Sequence[BatchInfo], data_batches: int) -> IntArray:
    """Return, for each data batch, the late watermark of the micro-batch that reads it."""
    out = np.zeros(data_batches, dtype=np.int64)
    for b in batches:
        if b.data_batch is not None:
            out[b.data_batch] = b.late_watermark
    return out


def spark_batch_of(batches: Sequence[BatchInfo], data_batches: int) -> IntArray:
    """Return, for each data batch, the Spark batch id that reads it."""
    out = np.zeros(data_batches, dtype=np.int64)
    for b in batches:
        if b.data_batch is not None:
            out[b.data_batch] = b.batch
    return out

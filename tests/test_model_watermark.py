"""Batches and watermarks: one node per input, min/max policy, no-data batches, the lag."""

from __future__ import annotations

from streamlab.model.watermark import InputWatermark, Policy, Trigger, plan_batches

S = 1000


def wm(batches):  # type: ignore[no-untyped-def]
    return [(b.batch, b.data_batch, b.late_watermark, b.eviction_watermark) for b in batches]


def test_late_watermark_lags_the_eviction_watermark_by_one_batch() -> None:
    plan = plan_batches([InputWatermark("e", 10 * S)], [[30 * S, 40 * S, 50 * S]], data_batches=3)
    # batch 0 runs with 0 and 0; batch 1 evicts with 20 s but filters late rows with 0 (the
    # watermark batch 0 ran with); batch 2 filters with 20 s; the closing no-data batch with 30 s.
    assert wm(plan) == [
        (0, 0, 0, 0),
        (1, 1, 0, 20 * S),
        (2, 2, 20 * S, 30 * S),
        (3, None, 30 * S, 40 * S),
    ]


def test_watermark_never_moves_backwards() -> None:
    plan = plan_batches([InputWatermark("e", 0)], [[30 * S, 5 * S]], data_batches=2)
    assert [b.next_watermark for b in plan] == [30 * S, 30 * S]


def test_available_now_runs_no_empty_batch_between_data_batches() -> None:
    maxima = [[10 * S, 20 * S, 30 * S]]
    now = plan_batches([InputWatermark("e", 0)], maxima, data_batches=3)
    live = plan_batches(
        [InputWatermark("e", 0)], maxima, data_batches=3, trigger=Trigger.PROCESSING_TIME
    )
    assert [b.data_batch for b in now] == [0, 1, 2, None]
    assert [b.data_batch for b in live] == [0, None, 1, None, 2, None]
    # The live trigger's no-data batches make late filtering catch up one batch sooner.
    assert [b.late_watermark for b in live if b.data_batch is not None] == [0, 10 * S, 20 * S]
    assert [b.late_watermark for b in now if b.data_batch is not None] == [0, 0, 10 * S]


def test_no_data_batch_only_when_the_watermark_moved() -> None:
    live = plan_batches(
        [InputWatermark("e", 0)], [[10 * S, 5 * S]], data_batches=2, trigger=Trigger.PROCESSING_TIME
    )
    assert [b.data_batch for b in live] == [0, None, 1]


def test_idle_input_holds_min_policy_at_zero_and_max_policy_moves() -> None:
    inputs = [InputWatermark("impressions", 5 * S), InputWatermark("clicks", 5 * S)]
    maxima = [[20 * S, 40 * S], [None, None]]
    low = plan_batches(inputs, maxima, data_batches=2, policy=Policy.MIN)
    high = plan_batches(inputs, maxima, data_batches=2, policy=Policy.MAX)
    assert [b.next_watermark for b in low] == [0, 0]
    assert [b.next_watermark for b in high] == [15 * S, 35 * S, 35 * S]
    assert high[-1].input_watermarks == (35 * S, 0)


def test_min_policy_follows_the_slower_input() -> None:
    inputs = [InputWatermark("a", 0), InputWatermark("b", 2 * S)]
    plan = plan_batches(inputs, [[10 * S, 30 * S], [20 * S, None]], data_batches=2)
    assert [b.next_watermark for b in plan] == [10 * S, 18 * S, 18 * S]

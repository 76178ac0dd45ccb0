"""dropDuplicatesWithinWatermark: late first, then first-wins while the key is held."""

from __future__ import annotations

from streamlab.model import ModelConfig, Rows, simulate
from streamlab.model.dedup import DUPLICATE, KEPT, LATE, UNPARSEABLE

S = 1000


def outcome(batches, delay=5 * S):  # type: ignore[no-untyped-def]
    rows = Rows.from_batches(batches)
    result = simulate({"events": rows}, ModelConfig(pipeline="dedup", delay_ms=delay))
    return result.dedup.outcome.tolist(), result


def test_first_occurrence_wins_within_and_across_batches() -> None:
    codes, _ = outcome([[("k", 10 * S, "a"), ("k", 10 * S, "a")], [("k", 10 * S, "a")]])
    assert codes == [KEPT, DUPLICATE, DUPLICATE]


def test_row_at_the_late_watermark_is_late() -> None:
    # Watermark 25 s after batch 0; batch 2 filters with it: 25 s is late, 25.001 s is not.
    codes, _ = outcome([[("a", 30 * S, "x")], [], [("b", 25 * S, "x"), ("c", 25 * S + 1, "x")]])
    assert codes == [KEPT, LATE, KEPT]


def test_key_expires_at_time_plus_delay_then_passes_again() -> None:
    # k expires at 15 s; batch 2 evicts with 25 s, so the k of batch 3 (40 s) passes again.
    codes, result = outcome(
        [[("k", 10 * S, "a")], [("z", 30 * S, "a")], [("y", 31 * S, "a")], [("k", 40 * S, "a")]]
    )
    assert codes == [KEPT, KEPT, KEPT, KEPT]
    assert result.dedup.expired_batch.tolist()[0] == 2


def test_identical_copy_after_expiry_is_always_late() -> None:
    # expiry = t + delay <= eviction watermark <= later late watermarks, and t < t + delay.
    codes, _ = outcome(
        [[("k", 10 * S, "a")], [("z", 30 * S, "a")], [("y", 31 * S, "a")], [("k", 10 * S, "a")]]
    )
    assert codes[-1] == LATE


def test_unparseable_time_is_set_aside() -> None:
    codes, _ = outcome([[("k", None, "a"), ("k", 10 * S, "a")]])
    assert codes == [UNPARSEABLE, KEPT]

"""Questions about Spark's event-time rules themselves, where there is no lab data to ask about.

Each rule is the one the model follows, with its source in Spark named in the explanation;
``tests/test_model_vs_spark.py`` proves the model's rules on Spark. The seed picks one of each
question's phrasings and shuffles its choices.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from streamlab.quiz.questions import Question, ask


@dataclass(frozen=True)
class Rule:
    """A question about a rule: phrasings, the right choice, the wrong ones, the why."""

    id: str
    concept: str
    texts: tuple[str, ...]
    right: str
    wrong: tuple[str, ...]
    explanation: str

    def question(self, rng: random.Random) -> Question:
        """Return the question with one of its phrasings, choices shuffled by ``rng``."""
        text = rng.choice(self.texts)
        wrong = rng.sample(self.wrong, 3)
        return ask(self.id, self.concept, text, self.right, wrong, self.explanation, rng)


RULES: tuple[Rule, ...] = (
    Rule(
        "late-watermark",
        "watermarks",
        (
            "A row of micro-batch N is dropped as late when its event time is at or before...",
            "Which watermark decides whether a row in micro-batch N is late?",
        ),
        "the watermark computed at the end of micro-batch N-1",
        (
            "the watermark computed from micro-batch N's own rows",
            "the current processing time minus the delay",
            "the earliest event time held in state",
            "the largest event time of micro-batch N minus the delay",
        ),
        "Spark computes the watermark (largest event time seen minus the delay) at the end of a "
        "micro-batch and records it in the next batch's offsets; IncrementalExecution's "
        "eventTimeWatermarkForLateEvents is the previous batch's, so a batch's own rows never "
        "make each other late.",
    ),
    Rule(
        "append-mode",
        "tumbling windows",
        (
            "In append mode, when is a window's row written to the sink?",
            "A tumbling window aggregation runs in append mode. When does a window appear in "
            "the output?",
        ),
        "once, in the first micro-batch whose watermark is at or past the window's end",
        (
            "in every micro-batch that updates the window's count",
            "as soon as the processing time passes the window's end",
            "when the last event of the window arrives",
            "only when the query stops",
        ),
        "Append mode writes a row only when it can no longer change: StateStoreSaveExec evicts "
        "and emits a window when the eviction watermark reaches its end "
        "(watermarkPredicateForKeysForEviction); until then it stays in state.",
    ),
    Rule(
        "sliding-cost",
        "sliding windows",
        (
            "Windows of 10 minutes every 5 minutes against 5-minute tumbling windows, on the "
            "same events: what changes?",
            "What does a slide shorter than the window cost?",
        ),
        "each event counts in 2 windows, so about twice the windows are held in state",
        (
            "nothing: each event still counts in one window",
            "each event counts in 2 windows, but the state stays the same size",
            "each event counts in 10 windows, one per minute",
            "the windows close twice as fast, so state halves",
        ),
        "TimeWindowing expands each row into ceil(size / slide) windows (here 2), and each "
        "(window, key) is a row of the aggregation's state until the watermark closes it.",
    ),
    Rule(
        "dedup-no-watermark",
        "deduplication",
        (
            "What happens to the state of dropDuplicates(['event_id']) on a stream without a "
            "watermark?",
            "A streaming dropDuplicates on event_id runs with no withWatermark. Its state...",
        ),
        "keeps every event_id forever and grows without bound",
        (
            "keeps event_ids for the length of one micro-batch",
            "expires event_ids after spark.sql.streaming.stateStore.minDeltasForSnapshot",
            "keeps the last 10 minutes of event_ids by default",
            "is cleared at every checkpoint",
        ),
        "Without a watermark StreamingDeduplicateExec has no eviction predicate: every key "
        "stays. dropDuplicatesWithinWatermark (or dropDuplicates with the event time among the "
        "keys and a watermark) lets the watermark remove keys.",
    ),
    Rule(
        "outer-null-rows",
        "stream-stream joins",
        (
            "In a left outer stream-stream join, when does an impression without a click appear "
            "with NULL clicks?",
            "When does a left outer join emit its NULL rows?",
        ),
        "when the watermark passes its time plus the join's time bound and the state evicts it",
        (
            "in the same micro-batch, when no click is in state yet",
            "only when the query stops",
            "never: outer stream-stream joins need update mode",
            "after a fixed 10 minutes of processing time",
        ),
        "StreamingSymmetricHashJoinExec emits the outer row of a left row that never matched "
        "when the state watermark removes it (state format 2 keeps a matched flag); before "
        "that a click may still arrive.",
    ),
    Rule(
        "stalled-watermark",
        "state and troubleshooting",
        (
            "A query reads two streams with watermarks and its watermark stopped advancing. The "
            "likely cause?",
            "The join's watermark is stuck although one input keeps receiving events. Why?",
        ),
        "one input is idle: with the default min policy the slowest input's watermark decides",
        (
            "the watermark delay is too long",
            "the trigger interval is too short for the watermark to move",
            "the state store ran out of memory",
            "the watermark only moves when a window closes",
        ),
        "WatermarkTracker takes the minimum of the inputs' watermarks "
        "(spark.sql.streaming.multipleWatermarkPolicy=min); an input that receives nothing "
        "holds it back. 'streamlab doctor' names the input.",
    ),
)
"""Every question about a rule, one per concept."""

"""The workbook's exercises: what each asks, what it takes, how it is judged.

Every exercise is one frozen :class:`Exercise`. Its reference solution and its starter are
real Python files shipped with streamlab (``resources/exercises/reference/`` and
``resources/exercises/starters/``), so the learner reads exactly the code the checker runs.
Each exercise names at least one :class:`Mutant`: a wrong solution, made by one edit of the
reference, that the checker must reject with an explanation naming its cause.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from importlib import resources
from typing import Literal

from streamlab.errors import StreamlabError

PARTS: dict[int, str] = {
    1: "Watermarks",
    2: "Tumbling windows",
    3: "Sliding windows",
    4: "Deduplication",
    5: "Stream-stream joins",
    6: "State and troubleshooting",
    7: "A pipeline",
}
"""The workbook's parts, in the order of a course chapter."""

Oracle = Literal["model", "reference"]
Kind = Literal["query", "answer"]


@dataclass(frozen=True)
class Mutant:
    """A wrong solution: the reference with ``old`` replaced by ``new`` once."""

    name: str
    """A short name: ``delay-10m``, ``no-dedup``, ``inner-join``."""
    old: str
    """Text of the reference to replace (it occurs exactly once)."""
    new: str
    """What replaces it."""
    cause: str
    """Words the checker's explanation of this mutant must contain."""


@dataclass(frozen=True)
class Exercise:
    """One exercise of the workbook."""

    number: int
    """Its number, 1 onwards, in course order."""
    slug: str
    """Its short name; ``streamlab exercises check watermark-10m`` works as well as the number."""
    part: int
    """The part of :data:`PARTS` it belongs to."""
    concept: str
    """The concept it practises, in a few words."""
    task: str
    """What to do, in full sentences."""
    inputs: tuple[str, ...]
    """The parameters of ``solve`` (or ``answer``): ``events``, ``impressions``, ``clicks``,
    or ``spark`` and ``lab``."""
    returns: str
    """What to return."""
    hints: tuple[str, ...]
    """Hints, from gentle to nearly the answer."""
    oracle: Oracle
    """Where the expected answer comes from: the model, or the reference solution run on Spark."""
    mutants: tuple[Mutant, ...]
    """Wrong solutions the checker must reject, with the cause it must name."""
    kind: Kind = "query"
    """``query``: ``solve(...)`` returns a streaming DataFrame; ``answer``: ``answer(...)``
    returns a number, a time or a list, judged against the model without running Spark."""
    output_mode: str = "append"
    """The output mode the exercise asks for (``OUTPUT_MODE`` in the solution)."""
    check_state: bool = False
    """Also compare the rows held in state after the last batch."""
    starter_is_broken: bool = False
    """The starter is a broken query to fix (troubleshooting), not an empty ``solve``."""
    tolerance: float = 0.0
    """For a numeric answer: the largest accepted difference."""
    extra: dict[str, str] = field(default_factory=dict)
    """Exercise-specific settings the expected answer needs (delays, window sizes)."""

    @property
    def file_name(self) -> str:
        """The file name of its reference, starter and learner's file: ``03_watermark_10m.py``."""
        return f"{self.number:02d}_{self.slug.replace('-', '_')}.py"

    @property
    def function(self) -> str:
        """``solve`` or ``answer``."""
        return "solve" if self.kind == "query" else "answer"

    @property
    def part_name(self) -> str:
        """The name of its part."""
        return PARTS[self.part]

    def reference_source(self) -> str:
        """Return the reference solution's source."""
        return _resource("reference", self.file_name)

    def starter_source(self) -> str:
        """Return the starter's source."""
        return _resource("starters", self.file_name)

    def mutant_source(self, mutant: Mutant) -> str:
        """Return the source of one wrong solution."""
        ref = self.reference_source()
        if ref.count(mutant.old) != 1:
            raise StreamlabError(
                f"mutant {mutant.name} of exercise {self.number}: {mutant.old!r} must occur "
                "exactly once in the reference"
            )
        return ref.replace(mutant.old, mutant.new)

    def mode_of(self, source: str) -> str:
        """Return the ``OUTPUT_MODE`` a solution's source declares (the exercise's if none)."""
        for node in ast.parse(source).body:
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "OUTPUT_MODE" for t in node.targets)
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                return node.value.value
        return "append"


def _resource(folder: str, name: str) -> str:
    return (
        resources.files("streamlab.resources")
        .joinpath("exercises")
        .joinpath(folder)
        .joinpath(name)
        .read_text(encoding="utf-8")
    )


def _delay(minutes: int, to: int) -> Mutant:
    return Mutant(
        f"delay-{to}m",
        f'withWatermark("event_time", "{minutes} minutes")',
        f'withWatermark("event_time", "{to} minutes")',
        f"watermark delay is {to} minutes, not {minutes} minutes",
    )


_EV = ("events",)
_JOIN = ("impressions", "clicks")

EXERCISES: tuple[Exercise, ...] = (
    # --- 1. Watermarks ------------------------------------------------------------------
    Exercise(
        1,
        "read-events",
        1,
        "reading a stream with a schema",
        "Read the lab's events as a stream. A streaming file source refuses to start without "
        "a schema: pass the lab's (lab.schema('events')). Read one file per micro-batch "
        "(maxFilesPerTrigger 1) from lab.events, and parse event_time, which lands as text "
        "'yyyy-MM-dd HH:mm:ss', into a timestamp without failing on a bad value.",
        ("spark", "lab"),
        "a streaming DataFrame of event_id, event_type, value, event_time (a timestamp)",
        (
            "spark.readStream.schema(...).json(path) reads JSON lines as a stream.",
            "Under Spark 4's ANSI mode to_timestamp fails the query on a bad string; "
            "try_to_timestamp makes it NULL.",
            "F.try_to_timestamp(F.col('event_time'), F.lit('yyyy-MM-dd HH:mm:ss'))",
        ),
        "reference",
        (
            Mutant(
                "time-as-text",
                'F.try_to_timestamp(F.col("event_time"), F.lit("yyyy-MM-dd HH:mm:ss"))',
                'F.col("event_time")',
                "event_time",
            ),
        ),
    ),
    *(
        Exercise(
            n,
            f"watermark-{d}m",
            1,
            f"a {d}-minute watermark delay",
            f"Count all events per 5-minute tumbling window of event_time, in append mode, "
            f"with a watermark delay of {d} minutes. Each window is emitted once, when the "
            f"watermark passes its end; an event whose window the watermark has already "
            f"passed when its batch runs is dropped. Compare with the other delays: which "
            f"events does {d} minutes drop, and how late is each window emitted?",
            _EV,
            "a streaming DataFrame of window and events (the count)",
            (
                "withWatermark(column, delay) comes before the aggregation.",
                "groupBy(F.window('event_time', '5 minutes')).agg(F.count('*').alias('events'))",
                f"events.withWatermark('event_time', '{d} minutes')",
            ),
            "model",
            (_delay(d, to),),
        )
        for n, d, to in ((2, 5, 10), (3, 10, 5), (4, 30, 10))
    ),
    Exercise(
        5,
        "lateness",
        1,
        "each event's lateness",
        "For every event, compute how late it arrived: its processing_time minus its "
        "event_time, in whole seconds. The lab makes about 10% of events 5 to 30 minutes late.",
        _EV,
        "a streaming DataFrame of event_id, event_time, lateness_seconds",
        (
            "F.unix_timestamp(column) gives seconds since the epoch.",
            "processing_time is when the event reached the lab; event_time when it happened.",
        ),
        "reference",
        (
            Mutant(
                "reversed",
                '(F.unix_timestamp("processing_time") - F.unix_timestamp("event_time"))',
                '(F.unix_timestamp("event_time") - F.unix_timestamp("processing_time"))',
                "lateness_seconds",
            ),
        ),
    ),
    Exercise(
        6,
        "very-late",
        1,
        "events more than 10 minutes late",
        "Keep only the events that arrived more than 10 minutes (600 seconds) after they "
        "happened, with their lateness in seconds. These are the events a 10-minute "
        "watermark is most likely to drop.",
        _EV,
        "a streaming DataFrame of event_id, event_time, lateness_seconds",
        (
            "Compute the lateness first (exercise 5), then filter.",
            "More than 10 minutes: lateness_seconds > 600, not >=.",
        ),
        "reference",
        (Mutant("five-minutes", "> 10 * 60", "> 5 * 60", "lateness_seconds"),),
    ),
    Exercise(
        7,
        "next-watermark",
        1,
        "predicting the watermark",
        "A query reads every landed batch with withWatermark('event_time', '10 minutes'). "
        "Predict the watermark its next batch runs with. You get the landed events as a list "
        "of batches, each a list of dicts (event_time is a datetime in UTC).",
        _EV,
        "a datetime (UTC) or text 'yyyy-MM-dd HH:mm:ss'",
        (
            "The watermark is the largest event time seen so far minus the delay.",
            "It never moves back, and late events count towards the maximum as well.",
        ),
        "model",
        (Mutant("five-minutes", "timedelta(minutes=10)", "timedelta(minutes=5)", "expected"),),
        kind="answer",
        extra={"delay": "10 minutes"},
    ),
    Exercise(
        8,
        "delay-drops",
        1,
        "what a 5-minute delay drops",
        "A query counts events per 5-minute window with a 5-minute watermark delay. How many "
        "of the landed events does it drop as late? Each batch runs with the watermark the "
        "batches before it left; an event whose window ends at or before it is dropped.",
        _EV,
        "an int",
        (
            "Walk the batches in order, keeping the watermark: max event time so far minus 5 "
            "minutes, updated after each batch.",
            "Spark drops an event whose window end is <= the watermark its batch runs with: "
            "the window is closed already.",
        ),
        "model",
        (
            Mutant(
                "event-time",
                "end <= watermark",
                'e["event_time"] <= watermark',
                "expected",
            ),
        ),
        kind="answer",
        extra={"delay": "5 minutes", "window": "5 minutes"},
    ),
    # --- 2. Tumbling windows ------------------------------------------------------------
    Exercise(
        9,
        "tumbling-5m",
        2,
        "5-minute tumbling windows",
        "Count events per 5-minute tumbling window and event_type, with a 10-minute "
        "watermark delay, in append mode.",
        _EV,
        "a streaming DataFrame of window, event_type, events",
        (
            "F.window('event_time', '5 minutes') makes tumbling windows.",
            "Group by the window and event_type.",
        ),
        "model",
        (
            Mutant(
                "ten-minute-windows",
                'F.window("event_time", "5 minutes")',
                'F.window("event_time", "10 minutes")',
                "5 minutes tumbling windows",
            ),
        ),
    ),
    Exercise(
        10,
        "tumbling-10m",
        2,
        "10-minute tumbling windows",
        "Count events per 10-minute tumbling window and event_type, with a 10-minute "
        "watermark delay, in append mode.",
        _EV,
        "a streaming DataFrame of window, event_type, events",
        ("F.window('event_time', '10 minutes')",),
        "model",
        (
            Mutant(
                "five-minute-windows",
                'F.window("event_time", "10 minutes")',
                'F.window("event_time", "5 minutes")',
                "10 minutes tumbling windows",
            ),
        ),
    ),
    Exercise(
        11,
        "tumbling-1h-update",
        2,
        "1-hour windows, updated as they fill",
        "Count events per 1-hour tumbling window (10-minute watermark). An hour is longer than "
        "a lab of 10 batches lasts, so in append mode nothing would ever be emitted: declare "
        "OUTPUT_MODE = 'update' so that each batch emits the windows whose count changed.",
        _EV,
        "a streaming DataFrame of window, events; OUTPUT_MODE = 'update'",
        (
            "OUTPUT_MODE is a module-level constant of your file.",
            "In update mode a window is emitted again each time its count changes.",
        ),
        "reference",
        (Mutant("append-mode", 'OUTPUT_MODE = "update"', 'OUTPUT_MODE = "append"', "OUTPUT_MODE"),),
        output_mode="update",
    ),
    Exercise(
        12,
        "several-aggregates",
        2,
        "several aggregates in one window",
        "Per 5-minute window and event_type (10-minute watermark, append mode), compute the "
        "number of events, the total value and the average value.",
        _EV,
        "a streaming DataFrame of window, event_type, events, total_value, avg_value",
        (
            "agg() takes several aggregates at once.",
            "F.count('*'), F.sum('value'), F.avg('value'), each with .alias(...)",
        ),
        "model",
        (
            Mutant(
                "max-not-avg",
                'F.avg("value").alias("avg_value")',
                'F.max("value").alias("avg_value")',
                "avg_value",
            ),
        ),
    ),
    Exercise(
        13,
        "window-bounds",
        2,
        "window start and end",
        "Count events per 5-minute window (10-minute watermark, append mode) and return the "
        "window's start and end as two plain timestamp columns instead of the window struct.",
        _EV,
        "a streaming DataFrame of window_start, window_end, events",
        ("The window column is a struct with fields start and end.", "F.col('window.start')"),
        "reference",
        (
            Mutant(
                "ten-minute-windows",
                'F.window("event_time", "5 minutes")',
                'F.window("event_time", "10 minutes")',
                "window_end",
            ),
        ),
    ),
    Exercise(
        14,
        "busy-windows",
        2,
        "filtering windows",
        "Count events per 5-minute window and event_type (10-minute watermark, append mode) "
        "and keep only the windows with at least 3 events.",
        _EV,
        "a streaming DataFrame of window, event_type, events",
        ("A filter after the aggregation works on the aggregate's column.", "at least: >="),
        "reference",
        (
            Mutant(
                "more-than-3",
                '.where(F.col("events") >= 3)',
                '.where(F.col("events") > 3)',
                "events",
            ),
        ),
    ),
    Exercise(
        15,
        "purchases-per-window",
        2,
        "filtering before windowing",
        "Count only the purchases (event_type 'purchase') per 10-minute tumbling window, with "
        "a 10-minute watermark, in append mode.",
        _EV,
        "a streaming DataFrame of window, purchases",
        ("Filter the events before the aggregation.",),
        "reference",
        (
            Mutant(
                "every-type",
                '.where(F.col("event_type") == "purchase")',
                "",
                "purchases",
            ),
        ),
    ),
    Exercise(
        16,
        "distinct-users",
        2,
        "distinct counts on a stream",
        "Estimate the number of distinct users per 5-minute window (10-minute watermark, "
        "append mode). Spark refuses exact distinct counts on a stream.",
        _EV,
        "a streaming DataFrame of window, users",
        ("countDistinct is not supported on a stream.", "F.approx_count_distinct('user_id')"),
        "reference",
        (
            Mutant(
                "count-distinct",
                'F.approx_count_distinct("user_id")',
                'F.countDistinct("user_id")',
                "distinct aggregations",
            ),
        ),
    ),
    Exercise(
        17,
        "window-emitted",
        2,
        "append mode: when a window is final",
        "A query counts events per 5-minute tumbling window with a 10-minute watermark, in "
        "append mode. After which landed batch (0 for the first) is the window holding the "
        "very first event of batch 0 emitted? Return None if it is not emitted within the lab.",
        _EV,
        "an int (the landed batch) or None",
        (
            "A window is emitted once the watermark reaches its end.",
            "The watermark after batch k is the largest event time up to k minus 10 minutes; "
            "Spark then runs a no-data batch that emits the window.",
        ),
        "model",
        (
            Mutant(
                "no-delay",
                "latest - timedelta(minutes=10) >= end",
                "latest >= end",
                "expected",
            ),
        ),
        kind="answer",
    ),
    # --- 3. Sliding windows -------------------------------------------------------------
    Exercise(
        18,
        "sliding-10m-5m",
        3,
        "10-minute windows every 5 minutes",
        "Count events per 10-minute window sliding every 5 minutes, and event_type "
        "(10-minute watermark, append mode). Each event falls into two windows.",
        _EV,
        "a streaming DataFrame of window, event_type, events",
        ("F.window(column, size, slide)", "F.window('event_time', '10 minutes', '5 minutes')"),
        "model",
        (
            Mutant(
                "tumbling",
                'F.window("event_time", "10 minutes", "5 minutes")',
                'F.window("event_time", "10 minutes")',
                "sliding every 5 minutes windows",
            ),
        ),
    ),
    Exercise(
        19,
        "sliding-1h-30m",
        3,
        "1-hour windows every 30 minutes",
        "Count events per 1-hour window sliding every 30 minutes (10-minute watermark). As "
        "with exercise 11, an hour outlasts the lab: use OUTPUT_MODE = 'update'.",
        _EV,
        "a streaming DataFrame of window, events; OUTPUT_MODE = 'update'",
        ("F.window('event_time', '1 hour', '30 minutes')",),
        "reference",
        (
            Mutant(
                "tumbling",
                'F.window("event_time", "1 hour", "30 minutes")',
                'F.window("event_time", "1 hour")',
                "window",
            ),
        ),
        output_mode="update",
    ),
    Exercise(
        20,
        "moving-average",
        3,
        "a moving average",
        "Compute the moving average of value per event_type: 10-minute windows sliding every "
        "5 minutes, 10-minute watermark, append mode.",
        _EV,
        "a streaming DataFrame of window, event_type, avg_value",
        ("A moving average is an average over sliding windows.",),
        "model",
        (
            Mutant(
                "tumbling",
                'F.window("event_time", "10 minutes", "5 minutes")',
                'F.window("event_time", "10 minutes")',
                "sliding every 5 minutes windows",
            ),
        ),
    ),
    Exercise(
        21,
        "sliding-vs-tumbling",
        3,
        "tumbling against sliding",
        "On the same events, a 10-minute/5-minute sliding count per event_type and a 5-minute "
        "tumbling count per event_type (both with a 10-minute watermark, append mode) run "
        "over every landed batch. How many more rows does the sliding one emit?",
        _EV,
        "an int",
        (
            "Each event falls into size / slide = 2 sliding windows.",
            "Only windows the watermark has closed are emitted; late events count nowhere.",
        ),
        "model",
        (
            Mutant(
                "no-difference",
                "return len(sliding) - len(tumbling)",
                "return len(sliding)",
                "expected",
            ),
        ),
        kind="answer",
    ),
    Exercise(
        22,
        "slide-state",
        3,
        "what the slide costs in state",
        "How many rows does the 10-minute/5-minute sliding count per event_type (10-minute "
        "watermark) hold in state after the last landed batch? Compare with the tumbling "
        "count: each event keeps size / slide windows open.",
        _EV,
        "an int",
        (
            "A row of state is one (window, event_type) not yet emitted.",
            "After each batch the windows whose end is at or behind the watermark leave state.",
        ),
        "model",
        (
            Mutant(
                "keeps-emitted",
                "state = {k for k in state if watermark is None or k[0] + size > watermark}",
                "state = state",
                "expected",
            ),
        ),
        kind="answer",
    ),
    # --- 4. Deduplication ---------------------------------------------------------------
    Exercise(
        23,
        "dedup-event-id",
        4,
        "deduplication within the watermark",
        "About 5% of the lab's events are re-sent with the same event_id. Keep each event "
        "once: dropDuplicatesWithinWatermark on event_id, with a 10-minute watermark.",
        _EV,
        "a streaming DataFrame with the events' columns",
        (
            "withWatermark first, then dropDuplicatesWithinWatermark(['event_id']).",
            "The watermark bounds how long an event_id is remembered.",
        ),
        "model",
        (
            Mutant(
                "no-dedup",
                '.dropDuplicatesWithinWatermark(\n        ["event_id"]\n    )',
                "",
                "copy",
            ),
        ),
    ),
    Exercise(
        24,
        "dedup-state",
        4,
        "deduplication state with and without a watermark",
        "Deduplicate with dropDuplicates(['event_id', 'event_time']). With a watermark "
        "(10 minutes) on event_time, Spark can forget an event once the watermark passes it; "
        "without one, state grows for ever. Add the watermark.",
        _EV,
        "a streaming DataFrame with the events' columns",
        (
            "dropDuplicates with the watermark column among its keys lets state expire.",
            "With a watermark, rows behind it are dropped as late too.",
        ),
        "reference",
        (
            Mutant(
                "no-watermark",
                'events.withWatermark("event_time", "10 minutes").dropDuplicates',
                "events.dropDuplicates",
                "watermark",
            ),
        ),
        check_state=True,
    ),
    Exercise(
        25,
        "duplicate-rate",
        4,
        "the duplicate rate",
        "What share of all landed events (rows) are re-sent copies of an event already sent? "
        "Round to 4 decimals.",
        _EV,
        "a float",
        ("copies = rows - distinct event_ids",),
        "model",
        (Mutant("over-distinct", "/ len(rows)", "/ len(distinct)", "expected"),),
        kind="answer",
        tolerance=0.0001,
    ),
    Exercise(
        26,
        "duplicates-aside",
        4,
        "setting the duplicates aside",
        "Which event_ids were sent more than once? Return them sorted: the rows a "
        "deduplication removes, set aside for inspection.",
        _EV,
        "a sorted list of event_id strings",
        ("collections.Counter counts each event_id.",),
        "model",
        (Mutant("every-id", "if n > 1", "if n >= 1", "expected"),),
        kind="answer",
    ),
    Exercise(
        27,
        "dedup-then-count",
        4,
        "count each event once",
        "Count events per 5-minute window and event_type (10-minute watermark, append mode), "
        "counting a re-sent event once: deduplicate on event_id within the watermark first.",
        _EV,
        "a streaming DataFrame of window, event_type, events",
        ("dropDuplicatesWithinWatermark before groupBy.",),
        "model",
        (
            Mutant(
                "no-dedup", '.dropDuplicatesWithinWatermark(["event_id"])', "", "duplicates removed"
            ),
        ),
    ),
    # --- 5. Stream-stream joins ---------------------------------------------------------
    Exercise(
        28,
        "join-inner",
        5,
        "both watermarks and the 0-10 minute click window",
        "Join each click to its impression (impression_id). Watermark both inputs by 10 "
        "minutes, and accept a click only 0 to 10 minutes after its impression, so that Spark "
        "can drop old rows from the join's state. Rename clicks' impression_id to "
        "click_impression_id to keep the columns apart.",
        _JOIN,
        "a streaming DataFrame of the impression's columns and the click's "
        "(click_id, click_impression_id, click_time)",
        (
            "Both sides need withWatermark for the state to be cleaned.",
            "The condition: impression_id = click_impression_id AND click_time >= "
            "impression_time AND click_time <= impression_time + interval 10 minutes",
        ),
        "model",
        (
            Mutant(
                "five-minute-window",
                '"AND click_time <= impression_time + interval 10 minutes"',
                '"AND click_time <= impression_time + interval 5 minutes"',
                "minutes after its impression",
            ),
        ),
    ),
    Exercise(
        29,
        "join-left-outer",
        5,
        "the left outer join and its NULL rows",
        "As exercise 28, but keep every impression: a left outer join. An impression without "
        "a click appears once, with NULL click columns, when the watermark has passed the end "
        "of its click window.",
        _JOIN,
        "a streaming DataFrame like exercise 28's",
        ("'leftOuter' as the join type.", "NULL rows come late: after the watermark moves."),
        "model",
        (Mutant("inner", '"leftOuter"', '"inner"', "left outer join"),),
    ),
    Exercise(
        30,
        "unclicked-impressions",
        5,
        "when the NULL rows appear",
        "In exercise 29's left outer join (both watermarks 10 minutes, 0-10 minute click "
        "window), how many impressions have got their NULL row by the end of the lab? Each "
        "landed batch is impressions first, then clicks.",
        _JOIN,
        "an int",
        (
            "The join's watermark is the minimum of both inputs' watermarks.",
            "An impression's NULL row is emitted once its time plus the click window is "
            "behind the watermark and no click matched.",
        ),
        "model",
        (Mutant("every-impression", "if iid not in clicked:", "if True:", "expected"),),
        kind="answer",
    ),
    Exercise(
        31,
        "click-delay",
        5,
        "time between impression and click",
        "Join clicks to impressions as in exercise 28 and return, per click, its ad and how "
        "many seconds after the impression it came.",
        _JOIN,
        "a streaming DataFrame of ad_id, click_id, delay_seconds",
        ("unix_timestamp(click_time) - unix_timestamp(impression_time)",),
        "reference",
        (
            Mutant(
                "reversed",
                '(F.unix_timestamp("click_time") - F.unix_timestamp("impression_time"))',
                '(F.unix_timestamp("impression_time") - F.unix_timestamp("click_time"))',
                "delay_seconds",
            ),
        ),
    ),
    Exercise(
        32,
        "ctr-per-ad",
        5,
        "click-through rate per ad and window",
        "Per ad and 10-minute window of impression_time: the impressions, the clicks, and the "
        "click-through rate clicks / impressions rounded to 4 decimals. Use exercise 29's left "
        "outer join, so that impressions without a click count; append mode.",
        _JOIN,
        "a streaming DataFrame of window, ad_id, impressions, clicks, ctr",
        (
            "Aggregate the left outer join's output by window(impression_time) and ad_id.",
            "count(click_id) skips the NULL clicks.",
        ),
        "reference",
        (Mutant("inner", '"leftOuter"', '"inner"', "impressions"),),
    ),
    # --- 6. State and troubleshooting ---------------------------------------------------
    Exercise(
        33,
        "dedup-state-rows",
        6,
        "reading state size",
        "How many rows does dropDuplicatesWithinWatermark(['event_id']) with a 10-minute "
        "watermark hold in state after the last landed batch? Spark reports it as the "
        "operator's numRowsTotal in the query's progress, and its state reader "
        "(spark.read.format('statestore')) lists the rows.",
        _EV,
        "an int",
        (
            "Each first-seen event_id stays until the watermark passes its event time plus "
            "the delay.",
            "Rows behind the watermark never enter the state.",
        ),
        "model",
        (
            Mutant(
                "never-expires", "if watermark is None or exp > watermark", "if True", "expected"
            ),
        ),
        kind="answer",
    ),
    Exercise(
        34,
        "stalled-watermark",
        6,
        "making a stalled watermark advance",
        "The starter's query never emits a window within the lab: its watermark delay is so "
        "long that the watermark stays behind every window's end. Fix it: 5-minute windows per "
        "event_type with the lab's 10-minute delay.",
        _EV,
        "a streaming DataFrame of window, event_type, events",
        (
            "The watermark is max event time minus the delay: a delay of a day keeps it a day "
            "behind.",
        ),
        "model",
        (
            Mutant(
                "one-day",
                'withWatermark("event_time", "10 minutes")',
                'withWatermark("event_time", "1 day")',
                "watermark delay is 24 hours, not 10 minutes",
            ),
        ),
        starter_is_broken=True,
    ),
    Exercise(
        35,
        "shrink-state",
        6,
        "shrinking state that grows",
        "The starter deduplicates with dropDuplicates(['event_id']) and no watermark: Spark "
        "keeps every event_id for ever. Make the state expire: a 10-minute watermark and "
        "dropDuplicatesWithinWatermark. The check compares the rows held in state too.",
        _EV,
        "a streaming DataFrame with the events' columns",
        ("dropDuplicatesWithinWatermark forgets an id once the watermark passes it.",),
        "model",
        (
            Mutant(
                "no-watermark",
                'events.withWatermark("event_time", "10 minutes").dropDuplicatesWithinWatermark(\n'
                '        ["event_id"]\n'
                "    )",
                'events.dropDuplicates(["event_id"])',
                "watermark",
            ),
        ),
        check_state=True,
        starter_is_broken=True,
    ),
    Exercise(
        36,
        "stop-dropping-late",
        6,
        "dropping too much late data",
        "The starter counts events per 5-minute window and event_type with a 1-minute delay "
        "and drops many late events. The lab's events are at most 30 minutes late: choose the "
        "delay that drops none of them.",
        _EV,
        "a streaming DataFrame of window, event_type, events",
        ("Lateness in the lab is 5 to 30 minutes.", "A 30-minute delay keeps them all."),
        "model",
        (
            Mutant(
                "one-minute",
                'withWatermark("event_time", "30 minutes")',
                'withWatermark("event_time", "1 minute")',
                "watermark delay is 1 minute, not 30 minutes",
            ),
        ),
        starter_is_broken=True,
    ),
    Exercise(
        37,
        "fix-empty-join",
        6,
        "a join that returns nothing",
        "The starter's join returns nothing: it matches a click's click_id with an "
        "impression's impression_id, which never agree. Fix the condition so each click meets "
        "its impression, as in exercise 28.",
        _JOIN,
        "a streaming DataFrame like exercise 28's",
        ("A click refers to its impression through its own impression_id column.",),
        "model",
        (
            Mutant(
                "wrong-key",
                '"impression_id = click_impression_id AND',
                '"impression_id = click_id AND',
                "impression_id",
            ),
        ),
        starter_is_broken=True,
    ),
    # --- 7. A pipeline ------------------------------------------------------------------
    Exercise(
        38,
        "bronze",
        7,
        "bronze: typed events",
        "The pipeline's first table: every event with event_id, user_id, event_type, value, "
        "event_time, and event_date, the UTC day it happened on (late events from before "
        "midnight belong to the day before).",
        _EV,
        "a streaming DataFrame of event_id, user_id, event_type, value, event_time, event_date",
        ("F.to_date(column)", "The day of event_time, not of processing_time."),
        "reference",
        (
            Mutant(
                "no-event-date",
                '        F.to_date("event_time").alias("event_date"),\n',
                "",
                "event_date",
            ),
        ),
    ),
    Exercise(
        39,
        "silver",
        7,
        "silver: each event once",
        "The second table: bronze's columns without event_date, each event once "
        "(dropDuplicatesWithinWatermark on event_id, 10-minute watermark).",
        _EV,
        "a streaming DataFrame of event_id, user_id, event_type, value, event_time",
        ("Select, watermark, deduplicate.",),
        "model",
        (Mutant("no-dedup", '.dropDuplicatesWithinWatermark(["event_id"])', "", "copy"),),
    ),
    Exercise(
        40,
        "gold",
        7,
        "gold: windows over the silver events",
        "The last table: per 5-minute window and event_type, the number of events and their "
        "total value, counted from deduplicated events (10-minute watermark, append mode).",
        _EV,
        "a streaming DataFrame of window, event_type, events, total_value",
        ("Deduplicate first, then aggregate: silver feeds gold.",),
        "model",
        (
            Mutant(
                "no-dedup", '.dropDuplicatesWithinWatermark(["event_id"])', "", "duplicates removed"
            ),
        ),
    ),
)
"""Every exercise, in course order."""


def find(key: int | str) -> Exercise:
    """Return the exercise numbered or named ``key``; one line naming the choices if none.

    >>> find("watermark-10m").number
    3
    >>> find("3").slug
    'watermark-10m'
    """
    text = str(key).strip()
    for ex in EXERCISES:
        if text == str(ex.number) or text.lower() == ex.slug or text == f"{ex.number:02d}":
            return ex
    raise StreamlabError(
        f"there is no exercise {text!r}: give a number 1-{len(EXERCISES)} or a slug such as "
        f"{EXERCISES[0].slug!r} ('streamlab exercises list' shows them all)"
    )

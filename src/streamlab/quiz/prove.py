"""Spark's side of every question about the lab's data, read from the lab's own run.

``streamlab lab`` (or ``streamlab run``) runs the lab's queries on Spark and leaves their tables
and progress behind. :func:`prove` answers a question from them alone, without the model: the
watermark and the state rows each micro-batch's progress reports, the rows of
``streaming_bronze.late_events``, ``streaming_gold.events_tumbling``,
``streaming_silver.events_dedup`` and ``streaming_silver.ad_clicks``, and Spark's own
``window()`` for the sliding windows of an event time. The quiz's answer is right when Spark's
answer is the model's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import orjson

from streamlab.durations import spark_interval
from streamlab.errors import LabNotReadyError, StreamlabError
from streamlab.lab.catalog import table_ref
from streamlab.lab.paths import LabPaths
from streamlab.quiz.data_questions import clock, span
from streamlab.quiz.questions import Proof, Question

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

TABLES = {
    "late": "streaming_bronze.late_events",
    "tumbling": "streaming_gold.events_tumbling",
    "dedup": "streaming_silver.events_dedup",
    "clicks": "streaming_silver.ad_clicks",
}
"""The lab's tables the proofs read."""


@dataclass(frozen=True)
class Proven:
    """Spark's answer to one question next to the model's."""

    question: str
    """The question's id."""
    agrees: bool
    """Whether Spark's answer is the model's."""
    spark: Any
    """Spark's answer, in the proof's terms."""
    letter: str | None
    """The choice Spark's answer is, if it is one of the four."""
    expected: Any
    """The model's answer."""
    evidence: str
    """Where Spark's answer comes from, in words."""

    def to_dict(self) -> dict[str, Any]:
        """Return the proof as JSON-ready data."""
        return {
            "question": self.question,
            "agrees": self.agrees,
            "spark": self.spark,
            "spark_letter": self.letter,
            "model": self.expected,
            "evidence": self.evidence,
        }


def _ms(text: str) -> int:
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


@dataclass(eq=False)
class LabRun:
    """What the lab's own Spark run left: its progress log and its tables."""

    spark: SparkSession
    paths: LabPaths
    _tables: dict[str, DataFrame] = field(default_factory=dict)

    @cached_property
    def progress(self) -> dict[str, dict[int, dict[str, Any]]]:
        """Per query and batch, the last progress Spark reported for it."""
        log = self.paths.logs / "progress.jsonl"
        if not log.exists():
            raise LabNotReadyError(
                f"the lab at {self.paths.root} has not run: run 'streamlab lab' first, then "
                "--prove reads Spark's answers from its run"
            )
        out: dict[str, dict[int, dict[str, Any]]] = {}
        for line in log.read_bytes().splitlines():
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a line cut short by a killed run: the batch ran again after it
            if isinstance(record, dict) and isinstance(record.get("batch"), int):
                out.setdefault(str(record.get("query")), {})[record["batch"]] = record
        return out

    def batches(self, query: str) -> dict[int, dict[str, Any]]:
        """Return the progress of every batch of ``query``; refuse a query that never ran."""
        found = self.progress.get(query)
        if not found:
            raise LabNotReadyError(
                f"the {query} query has no progress at {self.paths.root}: run 'streamlab lab' first"
            )
        return found

    def batch(self, query: str, n: int) -> dict[str, Any]:
        """Return the progress of batch ``n`` of ``query``."""
        found = self.batches(query).get(n)
        if found is None:
            raise LabNotReadyError(
                f"the {query} query has not run batch {n} yet: run 'streamlab lab' again"
            )
        return found

    def table(self, key: str) -> DataFrame:
        """Return one of :data:`TABLES`, read from its folder as Spark's file sink wrote it."""
        if key not in self._tables:
            ref = table_ref(self.paths, TABLES[key])
            if not ref.path.is_dir():
                raise LabNotReadyError(f"{TABLES[key]} has no data yet: run 'streamlab lab' first")
            self._tables[key] = self.spark.read.parquet(str(ref.path))
        return self._tables[key]


QUERIES = ("windowed_agg/tumbling", "windowed_agg/sliding", "dedup", "stream_join/clicks")
"""The lab's queries whose run the proofs read."""


def check_ran(paths: LabPaths) -> None:
    """Refuse, before Spark starts, a lab whose queries have not all run."""
    log = paths.logs / "progress.jsonl"
    seen: set[str] = set()
    if log.exists():
        for line in log.read_bytes().splitlines():
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(record, dict):
                seen.add(str(record.get("query")))
    missing = [q for q in QUERIES if q not in seen]
    if missing:
        raise LabNotReadyError(
            f"--prove reads Spark's answers from the lab's own run, and {', '.join(missing)} "
            f"has not run at {paths.root}: run 'streamlab lab' first"
        )


def _watermark(run: LabRun, p: Proof) -> tuple[Any, str]:
    n = int(p.params["batch"])
    text = run.batch(p.query, n)["watermark"]
    return _ms(text), f"{p.query} progress, batch {n}: eventTime.watermark {text}"


def _late_event(run: LabRun, p: Proof) -> tuple[Any, str]:
    from pyspark.sql import functions as F

    ids = list(p.params["event_ids"])
    rows = (
        run.table("late")
        .where(F.col("event_id").isin(ids))
        .select("event_id", F.col("late_watermark").cast("long").alias("wm"))
        .collect()
    )
    found = sorted({r["event_id"] for r in rows})
    where = {r["event_id"]: clock(int(r["wm"]) * 1000) for r in rows}
    missing = [i for i in ids if i not in where]
    words = "; ".join(f"{i} (missed the watermark {where[i]})" for i in found) or "none of them"
    return (
        found[0] if len(found) == 1 else found,
        f"{TABLES['late']} holds {words}; not there: {', '.join(missing) or 'none'}",
    )


def _late_count(run: LabRun, p: Proof) -> tuple[Any, str]:
    n = run.table("late").count()
    return n, f"{TABLES['late']} holds {n} rows"


def _emitted_batch(run: LabRun, p: Proof) -> tuple[Any, str]:
    from pyspark.sql import functions as F

    start, end = int(p.params["start"]), int(p.params["end"])
    rows = (
        run.table("tumbling")
        .where((F.col("window_start").cast("long") * 1000) == start)
        .select("event_type")
        .collect()
    )
    if not rows:
        return None, f"{TABLES['tumbling']} has no row of window {span(start, end)}"
    progress = run.batches(p.query)
    # Spark's watermark per batch, as its progress reports it: append mode writes a window in
    # the first batch whose watermark reaches the window's end (and that batch wrote rows).
    reached = [n for n in sorted(progress) if _ms(progress[n]["watermark"]) >= end]
    if not reached:
        return None, f"no batch of {p.query} reached the watermark {clock(end)}"
    n = reached[0]
    out = progress[n].get("output_rows", -1)
    before = progress.get(n - 1, {}).get("watermark", "none")
    return n, (
        f"{TABLES['tumbling']} holds {len(rows)} rows of window {span(start, end)}; "
        f"{p.query} progress: batch {n - 1} ran with watermark {before}, batch {n} with "
        f"{progress[n]['watermark']} (at or past {clock(end)}) and wrote {out} rows"
    )


def _window_count(run: LabRun, p: Proof) -> tuple[Any, str]:
    from pyspark.sql import functions as F

    start, group = int(p.params["start"]), p.params["event_type"]
    rows = (
        run.table("tumbling")
        .where(
            ((F.col("window_start").cast("long") * 1000) == start) & (F.col("event_type") == group)
        )
        .select("event_count")
        .collect()
    )
    counts = [int(r["event_count"]) for r in rows]
    window = span(start, int(p.params["end"]))
    if len(counts) != 1:
        return None, f"{TABLES['tumbling']} holds {len(counts)} rows of {window} {group}"
    return counts[0], f"{TABLES['tumbling']}: {window} {group} event_count = {counts[0]}"


def _sliding_windows(run: LabRun, p: Proof) -> tuple[Any, str]:
    from pyspark.sql import functions as F

    t = int(p.params["event_time_ms"])
    size, slide = (
        spark_interval(int(p.params["size_ms"])),
        spark_interval(int(p.params["slide_ms"])),
    )
    rows = (
        run.spark.range(1)
        .select(F.window(F.timestamp_millis(F.lit(t)), size, slide).alias("w"))
        .select(
            (F.col("w.start").cast("long") * 1000).alias("s"),
            (F.col("w.end").cast("long") * 1000).alias("e"),
        )
        .collect()
    )
    found = sorted([int(r["s"]), int(r["e"])] for r in rows)
    words = " and ".join(span(s, e) for s, e in found)
    return found, f"Spark's window({clock(t)}, '{size}', '{slide}') gives {words}"


def _state_rows(run: LabRun, p: Proof) -> tuple[Any, str]:
    n, name = int(p.params["batch"]), p.params["operator"]
    ops = [o for o in run.batch(p.query, n)["state_operators"] if o["operator"] == name]
    if len(ops) != 1:
        return None, f"{p.query} batch {n} has {len(ops)} {name} operators"
    rows = int(ops[0]["rows_total"])
    return rows, f"{p.query} progress, batch {n}: {name} numRowsTotal = {rows}"


def _duplicate_copy(run: LabRun, p: Proof) -> tuple[Any, str]:
    from pyspark.sql import functions as F

    event, t, n = p.params["event_id"], int(p.params["event_time_ms"]), int(p.params["batch"])
    copies = run.table("dedup").where(F.col("event_id") == event).count()
    late = _ms(run.batch(p.query, n - 1)["watermark"]) if n > 0 else 0
    if copies == 0:
        fate = "none"
    elif copies >= 2:
        fate = "kept"
    elif t <= late:
        fate = "late"
    else:
        fate = "duplicate"
    return fate, (
        f"{TABLES['dedup']} holds {copies} row(s) of {event}; batch {n} ran with the late "
        f"watermark {clock(late)} (batch {n - 1}'s), and the copy's event time is {clock(t)}"
    )


def _join_rows(run: LabRun, p: Proof) -> tuple[Any, str]:
    n = run.table("clicks").count()
    return n, f"{TABLES['clicks']} holds {n} rows"


def _join_match(run: LabRun, p: Proof) -> tuple[Any, str]:
    from pyspark.sql import functions as F

    imp = p.params["impression_id"]
    rows = run.table("clicks").where(F.col("impression_id") == imp).select("click_id").collect()
    found = sorted(str(r["click_id"]) for r in rows)
    return (
        found[0] if len(found) == 1 else found,
        f"{TABLES['clicks']} rows of {imp}: click_id {', '.join(found) or 'none'}",
    )


CHECKS: dict[str, Callable[[LabRun, Proof], tuple[Any, str]]] = {
    "watermark": _watermark,
    "late_event": _late_event,
    "late_count": _late_count,
    "emitted_batch": _emitted_batch,
    "window_count": _window_count,
    "sliding_windows": _sliding_windows,
    "state_rows": _state_rows,
    "duplicate_copy": _duplicate_copy,
    "join_rows": _join_rows,
    "join_match": _join_match,
}
"""One check per proof kind: Spark's answer and where it comes from."""


def prove(run: LabRun, question: Question) -> Proven | None:
    """Return Spark's answer to ``question`` from the lab's run; ``None`` for a rule question.

    >>> proven = prove(LabRun(spark, paths), quiz.questions[0])  # doctest: +SKIP
    >>> proven.agrees  # doctest: +SKIP
    True
    """
    p = question.proof
    if p is None:
        return None
    check = CHECKS.get(p.kind)
    if check is None:
        raise StreamlabError(f"question {question.id}: no Spark check for {p.kind!r}")
    value, evidence = check(run, p)
    letter = p.letter_of(value)
    agrees = value == p.expected and letter == question.letter
    return Proven(question.id, agrees, value, letter, p.expected, evidence)

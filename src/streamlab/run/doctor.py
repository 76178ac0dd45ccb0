"""Diagnosing the guide's troubleshooting cases from the progress log.

Each finding names the query, the symptom, the numbers that show it and the guide's remedy:

- watermark not advancing: rows arrive but the watermark stays at 1970 or stops moving;
- state growing too large: a stateful operator's rows keep growing and nothing is evicted;
- too much late data dropped: a large share of the input is dropped behind the watermark;
- join producing nothing: a stream-stream join reads both sides but writes no row.

Each rule applies to the kinds of query it can judge (:data:`RULES`, from the registry's
:class:`~streamlab.pipelines.registry.QueryKind`): a query without a watermark by design
(``bad_records``) is never judged by watermark rules, a stateless one never by state or late
data rules, and only a join that writes joined rows (``stream_join/clicks``) by the join rule.
A query the registry does not know (one of a user's own in the log) gets every rule, each
judged on what its progress shows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

from streamlab.errors import LabNotReadyError
from streamlab.pipelines.registry import QueryKind, query_kinds
from streamlab.run.progress import EPOCH, latest_by_batch, read_progress

JOIN_OPERATOR = "symmetricHashJoin"

REMEDIES = {
    "watermark_not_advancing": "Ensure events have timestamps and data is flowing",
    "state_too_large": "Reduce watermark delay or increase window size",
    "late_data_dropped": "Increase watermark delay",
    "join_produces_nothing": "Ensure both streams have watermarks and time constraints",
}
"""The guide's remedy for each symptom (its Troubleshooting section)."""


@dataclass(frozen=True)
class Thresholds:
    """When a number is bad enough to report."""

    late_share: float = 0.2
    """Report late data when at least this share of a query's input rows was dropped."""
    state_rows: int = 10_000
    """Report state growth only once an operator holds at least this many rows."""
    state_memory_bytes: int = 256 * 1024 * 1024
    """...or uses at least this much memory."""
    growth_batches: int = 4
    """State must have grown over at least this many batches in a row, nothing evicted."""
    stalled_batches: int = 3
    """Data batches in a row with an unchanged watermark that count as stalled."""


@dataclass
class Finding:
    """One diagnosed problem."""

    query: str
    symptom: str
    detail: str
    """What the numbers show, in one sentence."""
    remedy: str
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the finding as JSON-ready data."""
        return asdict(self)


def diagnose(
    records: list[dict[str, Any]],
    thresholds: Thresholds | None = None,
    kinds: Mapping[str, QueryKind] | None = None,
) -> list[Finding]:
    """Return the findings for the progress ``records`` (one dict per progress event).

    ``kinds`` names each query's kind (default: the lab's queries, from the registry); each
    query is judged only by the rules that apply to its kind.

    >>> diagnose([])
    []
    """
    limits = thresholds or Thresholds()
    known = query_kinds() if kinds is None else kinds
    findings: list[Finding] = []
    for query, batches in latest_by_batch(records).items():
        history = [r for r in batches.values() if _ran(r)]
        if not history:
            continue
        for rule in RULES:
            if not rule.applies(known.get(query)):
                continue
            found = rule.check(query, history, limits)
            if found is not None:
                findings.append(found)
    return findings


def diagnose_log(log: Path, thresholds: Thresholds | None = None) -> list[Finding]:
    """Return the findings for a progress log; fail if there is none yet."""
    if not log.exists():
        raise LabNotReadyError(f"no progress log at {log}: run 'streamlab run' first")
    return diagnose(list(read_progress(log)), thresholds)


def _ran(record: dict[str, Any]) -> bool:
    """Whether a progress record is of a batch that ran: it read rows or ran stateful operators.

    A query restarted with nothing new to read reports one progress without input, operators
    or event time (so its watermark shows as 1970): not a batch, and no evidence of anything.
    """
    return record["input_rows"] > 0 or bool(record["state_operators"])


def _finding(query: str, symptom: str, detail: str, **evidence: Any) -> Finding:
    return Finding(query, symptom, detail, REMEDIES[symptom], evidence)


def _watermark(query: str, history: list[dict[str, Any]], limits: Thresholds) -> Finding | None:
    data = [r for r in history if r["input_rows"] > 0]
    if not data:
        return None
    rows = sum(r["input_rows"] for r in data)
    last = history[-1]["watermark"]
    if last == EPOCH and len(data) >= 2:
        timed = [r for r in data if r.get("event_time_max")]
        return _finding(
            query,
            "watermark_not_advancing",
            f"{len(data)} batches read {rows} rows but the watermark is still {EPOCH}; "
            f"{len(timed)} of them carried an event time",
            batches=len(data),
            input_rows=rows,
            watermark=last,
            batches_with_event_time=len(timed),
        )
    tail = data[-limits.stalled_batches :]
    if len(tail) == limits.stalled_batches and len({r["watermark"] for r in tail}) == 1:
        latest = max((r.get("event_time_max") or "" for r in tail), default="") or None
        return _finding(
            query,
            "watermark_not_advancing",
            f"the last {len(tail)} batches read {sum(r['input_rows'] for r in tail)} rows "
            f"but the watermark stayed at {last}: none was newer than the events before "
            f"(newest {latest})",
            batches=len(tail),
            input_rows=sum(r["input_rows"] for r in tail),
            watermark=last,
            newest_event_time=latest,
        )
    return None


def _state(query: str, history: list[dict[str, Any]], limits: Thresholds) -> Finding | None:
    if not history or not history[-1]["state_operators"]:
        return None
    last = history[-1]
    if last["state_rows"] < limits.state_rows and (
        last["state_memory_bytes"] < limits.state_memory_bytes
    ):
        return None
    # No-data batches only evict: judge growth over the batches that read data.
    data = [r for r in history if r["input_rows"] > 0] or history
    run = 1
    for before, after in pairwise(data):
        growing = after["state_rows"] > before["state_rows"]
        evicted = any(op["rows_removed"] for op in after["state_operators"])
        run = run + 1 if growing and not evicted else 1
    if run - 1 < limits.growth_batches:
        return None
    first = data[-run]
    return _finding(
        query,
        "state_too_large",
        f"state grew from {first['state_rows']} to {last['state_rows']} rows over the last "
        f"{run} batches with nothing evicted ({last['state_memory_bytes'] / 2**20:.1f} MiB); "
        f"watermark {last['watermark']}",
        batches=run,
        state_rows_from=first["state_rows"],
        state_rows_to=last["state_rows"],
        memory_bytes=last["state_memory_bytes"],
        watermark=last["watermark"],
    )


def _late(query: str, history: list[dict[str, Any]], limits: Thresholds) -> Finding | None:
    rows = sum(r["input_rows"] for r in history)
    dropped = sum(r["dropped_by_watermark"] for r in history)
    if not rows or dropped / rows < limits.late_share:
        return None
    return _finding(
        query,
        "late_data_dropped",
        f"{dropped} of {rows} input rows ({dropped / rows:.0%}) were dropped behind the "
        "watermark (Spark counts dropped groups after partial aggregation: at least this many "
        "events were lost; 'streamlab run late_data' keeps them)",
        input_rows=rows,
        dropped_by_watermark=dropped,
        share=round(dropped / rows, 4),
        watermark=history[-1]["watermark"],
    )


def _join(query: str, history: list[dict[str, Any]], limits: Thresholds) -> Finding | None:
    joins = [
        r for r in history if any(op["operator"] == JOIN_OPERATOR for op in r["state_operators"])
    ]
    if not joins:
        return None
    rows = sum(r["input_rows"] for r in history)
    written = sum(max(r["output_rows"], 0) for r in history)
    if rows == 0 or written > 0:
        return None
    state = history[-1]["state_rows"]
    return _finding(
        query,
        "join_produces_nothing",
        f"{len(history)} batches read {rows} rows from both sides and wrote nothing; "
        f"{state} rows wait in join state, watermark {history[-1]['watermark']}",
        batches=len(history),
        input_rows=rows,
        output_rows=written,
        state_rows=state,
        watermark=history[-1]["watermark"],
    )


Check = Callable[[str, list[dict[str, Any]], Thresholds], Finding | None]


@dataclass(frozen=True)
class Rule:
    """One troubleshooting case: the symptom, how it is found, and which queries it judges."""

    symptom: str
    """A key of :data:`REMEDIES`."""
    check: Check
    applies_to: frozenset[QueryKind]
    """The kinds of query the rule can judge."""
    why: str
    """Why it applies to those kinds and no other."""

    def applies(self, kind: QueryKind | None) -> bool:
        """Whether the rule judges a query of ``kind`` (``None``: a query of unknown kind)."""
        return kind is None or kind in self.applies_to


_STATEFUL = frozenset(
    {
        QueryKind.DEDUPLICATION,
        QueryKind.AGGREGATION,
        QueryKind.JOIN,
        QueryKind.JOINED_AGGREGATION,
    }
)

RULES = (
    Rule(
        "watermark_not_advancing",
        _watermark,
        _STATEFUL | {QueryKind.WATERMARKED},
        "only a query with a watermark has one to advance; the quarantine has none by design",
    ),
    Rule(
        "state_too_large",
        _state,
        _STATEFUL,
        "only stateful operators keep rows: deduplication keys, open windows, join buffers",
    ),
    Rule(
        "late_data_dropped",
        _late,
        _STATEFUL,
        "only a stateful operator drops rows behind the watermark; a stateless watermark "
        "drops nothing",
    ),
    Rule(
        "join_produces_nothing",
        _join,
        frozenset({QueryKind.JOIN}),
        "only a join that writes its joined rows writes them as soon as they match; windows "
        "over a left outer join wait for the watermark and count impressions without a click",
    ),
)
"""Every rule, in the order findings are reported."""

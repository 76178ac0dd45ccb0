"""One event's story in plain words: its batch, the watermarks it met, and its fate."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streamlab.durations import describe
from streamlab.errors import StreamlabError
from streamlab.model.explain import event_rows, events
from streamlab.model.simulate import Result


def _clock(ms: int) -> str:
    text = datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    return text + (f".{ms % 1000:03d}" if ms % 1000 else "")


def story(result: Result, event_id: str) -> str:
    """Tell what happened to one event (or impression, or click), in plain words."""
    matches = events(result, event_rows(result, event_id))
    if not matches:
        raise StreamlabError(
            f"no event {event_id!r} in the landed batches: pick an id from 'streamlab explain'"
        )
    info = {b.batch: b for b in result.batches}
    parts = []
    for e in matches:
        b = info[e["batch"]]
        head = (
            f"{e['source'][:-1].capitalize()} {event_id}"
            + (f" ({e['event_type']})" if e.get("event_type") else "")
            + f" landed in batch_{e['landed_batch']:04d}, read by micro-batch {e['batch']}."
        )
        lines = [head]
        if e["event_time"] is None:
            lines.append("Its time did not parse, so Spark set it to NULL and it counted nowhere.")
            parts.append(" ".join(lines))
            continue
        t = _ms(e["event_time"])
        if b.late_watermark == 0 and b.eviction_watermark == 0:
            lines.append(
                f"Its event time is {_clock(t)}. Micro-batch {b.batch} ran before any watermark "
                "existed, so nothing could be late or closed yet."
            )
        else:
            lines.append(
                f"Its event time is {_clock(t)}. Micro-batch {b.batch} ran with the late "
                f"watermark {_clock(b.late_watermark)} (the one the batch before ran with; "
                "rows and windows at or before it are late) and the eviction watermark "
                f"{_clock(b.eviction_watermark)} (state at or before it is removed)."
            )
        lines.append(_fate_words(result, e, t, b.late_watermark))
        parts.append(" ".join(lines))
    return "\n\n".join(parts)


def _ms(text: str) -> int:
    return round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def _fate_words(result: Result, e: dict[str, Any], t: int, late: int) -> str:
    fate = e["fate"]
    if fate == "late":
        if e["source"] != "events":
            who = "the join dropped it on arrival."
        elif result.aggregate is not None:
            who = "the deduplication dropped it before any window saw it."
        else:
            who = "the deduplication dropped it."
        return (
            f"It was late: {_clock(t)} is at or before the late watermark "
            f"{_clock(late)} (by {describe(late - t)}), so {who}"
        )
    if fate == "duplicate":
        return (
            f"It was removed as a duplicate: the same id passed in micro-batch "
            f"{e['first_seen_batch']} and was still held by dropDuplicatesWithinWatermark."
        )
    if fate == "kept":
        return "It passed deduplication: the first of its id still held in state."
    words: list[str] = []
    for w in sorted(e.get("counted_in", []), key=lambda w: str(w["start"])):
        when = (
            f"emitted by micro-batch {w['emitted_batch']}"
            if w["emitted_batch"] is not None
            else "still open after the last batch"
        )
        words.append(
            f"It counted in window [{_clock(_ms(w['start']))}, {_clock(_ms(w['end']))}), {when}."
        )
    for w in e.get("dropped_from", []):
        end = _clock(_ms(w["end"]))
        gap = f"{describe(w['closed_by_ms'])} behind" if w["closed_by_ms"] else "exactly at"
        words.append(
            f"It missed window [{_clock(_ms(w['start']))}, {end}): the window ends at {end}, "
            f"{gap} the late watermark {_clock(_ms(w['late_watermark']))}, and a window whose "
            "end is at or before the late watermark takes no more rows, so Spark dropped this "
            "event's contribution."
        )
    if e["source"] != "events":
        partners = e.get("joined_with", [])
        if partners:
            other = ", ".join(
                f"{p.get('click_id') or p.get('impression_id')} (micro-batch {p['batch']})"
                for p in partners
            )
            words.append(f"It joined with {other}.")
        if fate == "unmatched" and "null_row_batch" in e:
            words.append(
                f"It never matched; micro-batch {e['null_row_batch']} evicted it and emitted its "
                "row with NULL clicks."
            )
        elif fate == "unmatched":
            words.append("It never matched a row of the other side and left the join unmatched.")
        elif fate == "waiting":
            words.append("It is still held in the join state, waiting for a match.")
    return " ".join(words) or "It passed."

"""The first difference between a solution's output and the expected one, in the lab's events.

A check compares, per landed batch, the rows the batch caused (its micro-batch and the no-data
batch after it). The first batch that differs is explained with the events behind the row:
for a window, the events that fall in it, the batch each arrived in and the watermark it met
there; for a row of one event or one click, that record's own story (late, re-sent, how long
after its impression).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from streamlab.durations import in_words
from streamlab.exercises.data import LabData
from streamlab.testing.rows import Column, Norm, common_day, difference, render_value, sort_key

_IDS = ("event_id", "click_id", "impression_id")
_MAX_NAMED = 4


@dataclass(frozen=True)
class Context:
    """Everything the explanation may draw on."""

    data: LabData
    """The lab checked."""
    columns: Sequence[Column]
    """The output columns."""
    steps: Sequence[tuple[int, str]]
    """Per ``AddData``: the landed batch and the input."""
    late_watermarks: Sequence[int]
    """Per ``AddData``: the watermark its batch runs with in the expected answer (epoch ms)."""
    got_watermarks: Sequence[int]
    """The same in the solution's run."""
    want: dict[int, list[Norm]]
    """Per landed batch: the expected rows."""
    got: dict[int, list[Norm]]
    """Per landed batch: the solution's rows."""


def columns_problem(want: Sequence[tuple[str, str]], got: Sequence[tuple[str, str]]) -> str | None:
    """Return what is wrong with the output's columns, or ``None`` when they match."""
    w, g = dict(want), dict(got)
    if w == g:
        return None
    missing = [c for c in w if c not in g]
    extra = [c for c in g if c not in w]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"it lacks {', '.join(missing)}")
        if extra:
            parts.append(f"it has {', '.join(extra)}, which the exercise does not return")
        return (
            f"your output's columns are ({', '.join(g)}); the exercise returns "
            f"({', '.join(w)}): {'; '.join(parts)}"
        )
    c = next(c for c in w if w[c] != g[c])
    return f"column {c} of your output is {g[c]}, expected {w[c]}"


def first_difference(ctx: Context) -> str | None:
    """Return the first batch's difference explained, or ``None`` when every batch matches."""
    for b in sorted(set(ctx.want) | set(ctx.got)):
        want, got = ctx.want.get(b, []), ctx.got.get(b, [])
        diff = difference(want, got)
        if not diff:
            continue
        day = common_day([*want, *got])
        names = [c.name for c in ctx.columns]
        wi = next((i for i, c in enumerate(ctx.columns) if c.kind == "window"), None)
        idx = next((names.index(n) for n in _IDS if n in names), None)
        head = (
            f"batch {b}: expected {len(want)} row{'s' if len(want) != 1 else ''}, you "
            f"emitted {len(got)}"
        )
        if wi is not None:
            body = _window(ctx, b, diff, wi, day)
        elif idx is not None:
            body = _record(ctx, b, diff, idx, day)
        else:
            body = _plain(ctx, b, diff, day)
        return f"{head}\n{body}"
    return None


# --- windows -------------------------------------------------------------------------------------


def _keys(ctx: Context, wi: int) -> list[int]:
    """Columns that identify a window's row: the window and its string-valued groups."""
    out = [wi]
    for i, c in enumerate(ctx.columns):
        if i != wi and c.kind == "other" and c.name in ("event_type", "ad_id", "user_id"):
            out.append(i)
    return out


def _window(ctx: Context, b: int, diff: Any, wi: int, day: date | None) -> str:
    keys = _keys(ctx, wi)
    names = [c.name for c in ctx.columns]

    def key(r: Norm) -> tuple[Any, ...]:
        return tuple(r[i] for i in keys)

    missing = {key(r): r for r in diff.missing}
    extra = {key(r): r for r in diff.extra}
    first = sorted({*missing, *extra}, key=sort_key)[0]
    start, end = first[0]
    groups = " ".join(str(v) for v in first[1:])
    label = f"window [{render_value(start, day)}, {render_value(end, day)})" + (
        f" {groups}" if groups else ""
    )
    w, g = missing.get(first), extra.get(first)
    if w is not None and g is not None:
        col = next(i for i in range(len(names)) if i not in keys and w[i] != g[i])
        line = (
            f"{label}: you emitted {names[col]} {render_value(g[col], day)}, "
            f"expected {render_value(w[col], day)}"
        )
    elif w is not None:
        when = _batch_of(ctx.got, lambda r: key(r) == first)
        line = f"{label} ({_values(w, names, keys, day)}) was expected after batch {b}; " + (
            f"you emitted it after batch {when}" if when is not None else "you never emitted it"
        )
        line += _watermarks(ctx, b, day)
    else:
        assert g is not None
        when = _batch_of(ctx.want, lambda r: key(r) == first)
        line = f"{label} ({_values(g, names, keys, day)}): you emitted it after batch {b}; " + (
            f"it was expected after batch {when}"
            if when is not None
            else "it was not expected at all"
        )
        line += _watermarks(ctx, b, day)
    shape = _shapes(ctx, wi) if (w is None or g is None) else None
    if shape:
        return f"{line}\n{shape}"
    if "ad_id" in names:
        return line  # windows over the join's impressions: the lab's events do not explain them
    group_filter = {
        names[i]: first[j] for j, i in enumerate(keys[1:], 1) if names[i] == "event_type"
    }
    events = _story(ctx, start, end, group_filter, day, counts=w is not None and g is not None)
    return line + (f"\n{events}" if events else "")


def _shape_of(rows: list[Norm], wi: int) -> tuple[int, int] | None:
    """Return (size, slide) in ms of the windows among ``rows``, or ``None`` if none."""
    import math

    pairs = {r[wi] for r in rows if isinstance(r[wi], tuple)}
    if not pairs:
        return None
    sizes = {_ms(e) - _ms(s) for s, e in pairs}
    starts = sorted({_ms(s) for s, _ in pairs})
    size = max(sizes)
    step = 0
    for a in starts[1:]:
        step = math.gcd(step, a - starts[0])
    if step == 0 or step >= size:
        step = size
    return size, step


def _shapes(ctx: Context, wi: int) -> str | None:
    """Say how the expected windows and yours differ in size or slide, if they do."""
    want = _shape_of([r for rows in ctx.want.values() for r in rows], wi)
    got = _shape_of([r for rows in ctx.got.values() for r in rows], wi)
    if want is None or got is None or want == got:
        return None

    def words(shape: tuple[int, int]) -> str:
        size, step = shape
        kind = "tumbling" if step == size else f"sliding every {in_words(step)}"
        return f"{in_words(size)} {kind}"

    return (
        f"the exercise's windows are {words(want)}; yours are {words(got)}: check the "
        "window's size and slide"
    )


def _story(
    ctx: Context,
    start: datetime,
    end: datetime,
    groups: dict[str, Any],
    day: date | None,
    *,
    counts: bool,
) -> str:
    """Tell the lab's events in a window whose fate depends on the watermark, or that repeat."""
    step_of = {(b, n): i for i, (b, n) in enumerate(ctx.steps)}
    seen: dict[str, int] = {}
    by_fate: dict[tuple[int, str], list[str]] = {}
    copies: list[tuple[str, int, int]] = []
    members: list[tuple[str, int]] = []
    total = 0
    end_ms = _ms(end)
    for batch, e in ctx.data.records("events"):
        t = e["event_time"]
        eid = str(e["event_id"])
        first = seen.setdefault(eid, batch)
        if t is None or not (start <= t < end):
            continue
        if any(e.get(k) != v for k, v in groups.items()):
            continue
        total += 1
        members.append((eid, batch))
        i = step_of.get((batch, "events"))
        if i is None:
            continue
        # Spark drops a row's contribution to a window when the window's end is behind the
        # batch's watermark, not the row's own time (rule L2 of docs/semantics-proof.md).
        late_want = end_ms <= ctx.late_watermarks[i] and ctx.late_watermarks[i] > 0
        late_got = end_ms <= ctx.got_watermarks[i] and ctx.got_watermarks[i] > 0
        if late_want != late_got:
            by_fate.setdefault((batch, "drop" if late_want else "keep"), []).append(eid)
        if first != batch or eid in {c[0] for c in copies}:
            copies.append((eid, batch, first))
    lines: list[str] = []
    for (batch, fate), ids in sorted(by_fate.items()):
        i = step_of[(batch, "events")]
        wm, mine = _render_ms(ctx.late_watermarks[i], day), _render_ms(ctx.got_watermarks[i], day)
        named = _name(ids)
        if fate == "drop":
            them = "it" if len(ids) == 1 else "them"
            lines.append(
                f"{named} arrived in batch {batch}, when the watermark was already {wm}, past "
                f"the window's end: the exercise's query drops {them} as late; yours "
                f"(watermark {mine}) counts {them}"
            )
        else:
            lines.append(
                f"{named} arrived in batch {batch}, with the watermark at {wm}: the exercise "
                f"counts {'it' if len(ids) == 1 else 'them'}; your watermark was already "
                f"{mine}, past the window's end, and drops {'it' if len(ids) == 1 else 'them'}"
            )
    if not lines and copies and counts:
        eid, batch, first_batch = copies[0]
        lines.append(
            f"{len(copies)} of its {total} events are re-sent copies, e.g. {eid} (sent in batch "
            f"{first_batch}, again in batch {batch}): a copy counts once when duplicates are "
            "removed first"
        )
    if not lines and total:
        shown = ", ".join(f"{eid} (batch {b})" for eid, b in members[:_MAX_NAMED])
        more = f" and {total - _MAX_NAMED} more" if total > _MAX_NAMED else ""
        lines.append(f"its events in the lab: {shown}{more}")
    return "\n".join(lines)


# --- rows of one record -----------------------------------------------------------------------


def _record(ctx: Context, b: int, diff: Any, idx: int, day: date | None) -> str:
    names = [c.name for c in ctx.columns]
    id_name = names[idx]
    click = names.index("click_id") if "click_id" in names else None
    imp = names.index("impression_id") if "impression_id" in names else None

    def ident(r: Norm) -> tuple[Any, ...]:
        return tuple(r[i] for i in (idx, click, imp) if i is not None)

    missing = {ident(r): r for r in diff.missing}
    extra = {ident(r): r for r in diff.extra}
    first = sorted({*missing, *extra}, key=sort_key)[0]
    w, g = missing.get(first), extra.get(first)
    row = w if w is not None else g
    assert row is not None
    ids = [row[i] for i in (idx, click, imp) if i is not None and row[i] is not None]
    who = str(ids[0]) if ids else "a row"
    if w is not None and g is not None:
        col = next(i for i in range(len(names)) if w[i] != g[i])
        line = (
            f"{who}: you emitted {names[col]} {render_value(g[col], day)}, expected "
            f"{render_value(w[col], day)}"
        )
    elif w is not None:
        when = _batch_of(ctx.got, lambda r: ident(r) == first)
        line = f"{who} ({_values(w, names, [idx], day)}) was expected after batch {b}; " + (
            f"you emitted it after batch {when}" if when is not None else "your output lacks it"
        )
    else:
        when = _batch_of(ctx.want, lambda r: ident(r) == first)
        mine = sum(1 for r in ctx.got.get(b, []) if ident(r) == first)
        theirs = sum(1 for r in ctx.want.get(b, []) if ident(r) == first)
        if when == b:
            line = (
                f"{who} ({_values(row, names, [idx], day)}): you emitted it {mine} times after "
                f"batch {b}, expected {theirs}"
            )
        else:
            line = (
                f"{who} ({_values(row, names, [idx], day)}): you emitted it after batch {b}; "
                + (
                    f"it was expected after batch {when}"
                    if when is not None
                    else "it was not expected"
                )
            )
    story = _record_story(ctx, id_name, row, names, day)
    return line + (f"\n{story}" if story else "")


def _record_story(ctx: Context, id_name: str, row: Norm, names: list[str], day: date | None) -> str:
    value = row[names.index(id_name)]
    if id_name == "event_id":
        sent = [(b, e) for b, e in ctx.data.records("events") if e["event_id"] == value]
        if not sent:
            return ""
        b, e = sent[0]
        facts = [
            f"{value} landed in batch {b} with event_time {render_value(e['event_time'], day)}"
        ]
        expected_ids = {r[names.index(id_name)] for rows in ctx.want.values() for r in rows}
        if len(sent) > 1 and value in expected_ids:
            facts.append(
                f"it was sent {len(sent)} times (in batches "
                f"{', '.join(str(x) for x, _ in sent)}): each copy after the first is a re-sent "
                "copy, which deduplication removes"
            )
        step = {(bb, n): i for i, (bb, n) in enumerate(ctx.steps)}.get((b, "events"))
        t = e["event_time"]
        if step is not None and t is not None:
            wm = ctx.late_watermarks[step]
            if wm and _ms(t) <= wm:
                facts.append(
                    f"it arrived behind the watermark {_render_ms(wm, day)} of its batch: the "
                    "exercise's query drops it as late"
                )
        return "; ".join(facts)
    if "click_id" in names and "impression_id" in names:
        cid = row[names.index("click_id")]
        iid = row[names.index("impression_id")]
        imp = next(
            (e for _, e in ctx.data.records("impressions") if e["impression_id"] == iid), None
        )
        if cid is None:
            return (
                f"impression {iid} has no click within its click window: its NULL row comes "
                "once the watermark passes the end of that window"
            )
        cl = next(((b, e) for b, e in ctx.data.records("clicks") if e["click_id"] == cid), None)
        if imp is None or cl is None:
            return ""
        b, c = cl
        gap = (c["click_time"] - imp["impression_time"]).total_seconds()
        return (
            f"click {cid} (batch {b}) came {gap / 60:.1f} minutes after its impression {iid}: "
            "the exercise matches clicks 0 to 10 minutes after their impression_id's impression"
        )
    return ""


# --- anything else --------------------------------------------------------------------------------


def _plain(ctx: Context, b: int, diff: Any, day: date | None) -> str:
    names = [c.name for c in ctx.columns]
    if diff.missing:
        r = diff.missing[0]
        return (
            f"expected row ({_values(r, names, [], day)}) after batch {b}, missing from your output"
        )
    r = diff.extra[0]
    return f"your row ({_values(r, names, [], day)}) after batch {b} was not expected"


def _values(row: Norm, names: list[str], skip: Sequence[int], day: date | None) -> str:
    return ", ".join(
        f"{n}={render_value(v, day)}"
        for i, (n, v) in enumerate(zip(names, row, strict=True))
        if i not in skip
    )


def _watermarks(ctx: Context, batch: int, day: date | None) -> str:
    """Say which watermark the batch after ``batch`` ran with on each side."""
    nxt = [i for i, (b, _) in enumerate(ctx.steps) if b == batch + 1]
    if not nxt:
        return ""
    i = nxt[0]
    want, got = ctx.late_watermarks[i], ctx.got_watermarks[i]
    if want == got:
        return ""
    return (
        f" (after batch {batch} the exercise's watermark was {_render_ms(want, day)}, "
        f"yours {_render_ms(got, day)})"
    )


def _batch_of(rows: dict[int, list[Norm]], match: Any) -> int | None:
    for b in sorted(rows):
        if any(match(r) for r in rows[b]):
            return b
    return None


def _name(ids: list[str]) -> str:
    shown = ", ".join(ids[:_MAX_NAMED])
    more = f" and {len(ids) - _MAX_NAMED} more" if len(ids) > _MAX_NAMED else ""
    return shown + more


def _ms(t: datetime) -> int:
    return round(t.replace(tzinfo=UTC).timestamp() * 1000)


def _render_ms(ms: int, day: date | None) -> str:
    return render_value(datetime.fromtimestamp(ms / 1000, UTC).replace(tzinfo=None), day)

"""Questions about the lab's own data, answered by the model from the landed batches.

Each question is computed by :func:`streamlab.model.simulate` with the pipelines' settings
(:class:`streamlab.settings.PipelineConfig`) as ``streamlab lab`` runs them: AvailableNow, so
micro-batch ``N`` reads ``batch_000N`` and one no-data batch closes the run. The seed picks the
batch, event or window a question is about and shuffles its choices; each wrong choice is a
number or an event that the model, and Spark, show to be wrong. Every question carries a
:class:`~streamlab.quiz.questions.Proof`: the query whose output or progress confirms it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from streamlab.durations import describe
from streamlab.errors import StreamlabError
from streamlab.lab.paths import LabPaths
from streamlab.model import dedup as D
from streamlab.model.events import Rows
from streamlab.model.fates import Fate
from streamlab.model.landed import load_inputs
from streamlab.model.simulate import ModelConfig, Result, simulate
from streamlab.quiz.questions import Proof, Question, ask, numbers_near
from streamlab.settings import PipelineConfig


def clock(ms: int) -> str:
    """Format epoch milliseconds as the time of day, ``09:12:31``.

    >>> clock(3_723_000)
    '01:02:03'
    """
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%H:%M:%S")


def minute(ms: int) -> str:
    """Format epoch milliseconds as ``09:15`` (seconds kept when not zero)."""
    text = clock(ms)
    return text[:5] if text.endswith(":00") else text


def span(start: int, end: int) -> str:
    """Format a window as ``[09:05, 09:10)``."""
    return f"[{minute(start)}, {minute(end)})"


@dataclass(frozen=True, eq=False)
class LabModel:
    """The model's runs of the lab's queries, over the lab's landed batches."""

    settings: PipelineConfig
    """The pipelines' settings the questions assume."""
    tumbling: Result
    """``windowed_agg/tumbling``: dedup, then tumbling windows."""
    sliding: Result
    """``windowed_agg/sliding``: dedup, then sliding windows."""
    dedup: Result
    """``dedup``: ``dropDuplicatesWithinWatermark`` on ``event_id``."""
    join: Result
    """``stream_join/clicks``: the inner join of impressions and clicks."""
    tumbling_5m: Result
    """The tumbling query with a 5-minute delay, for a distractor."""

    @classmethod
    def of(cls, paths: LabPaths, settings: PipelineConfig | None = None) -> LabModel:
        """Run the model of each query over the lab at ``paths``."""
        cfg = settings or PipelineConfig()
        inputs = load_inputs(paths, ("events", "impressions", "clicks"))
        events = {"events": inputs["events"]}
        joined = {k: inputs[k] for k in ("impressions", "clicks")}
        tumbling = ModelConfig.from_settings(cfg, "windowed_agg")
        return cls(
            settings=cfg,
            tumbling=simulate(events, tumbling),
            sliding=simulate(events, ModelConfig.from_settings(cfg, "windowed_agg", sliding=True)),
            dedup=simulate(events, ModelConfig.from_settings(cfg, "dedup")),
            join=simulate(joined, ModelConfig.from_settings(cfg, "stream_join")),
            tumbling_5m=simulate(events, replace(tumbling, delay_ms=300_000)),
        )

    @property
    def events(self) -> Rows:
        """The events, as every events query reads them."""
        return self.tumbling.inputs["events"]

    @property
    def data_batches(self) -> int:
        """How many landed batches there are."""
        return self.events.data_batches

    def event_label(self, i: int) -> str:
        """Describe event ``i`` as a choice: id, type, event time and landed batch."""
        e = self.events
        return (
            f"{e.key[i]} ({e.group[i]}, event time {clock(int(e.time_ms[i]))}, "
            f"landed in batch_{int(e.batch[i]):04d})"
        )


def _fates(r: Result) -> list[Fate]:
    """Return the fate of every event of ``r`` as :class:`Fate` members."""
    return [Fate(f) for f in r.fates.tolist()]


def _behind_earlier_batches(ev: Rows) -> npt.NDArray[np.bool_]:
    """Return, per event, whether an earlier batch already held a later event time."""
    maxima = np.full(ev.data_batches, np.iinfo(np.int64).min, dtype=np.int64)
    np.maximum.at(maxima, ev.batch, ev.time_ms)
    before = np.concatenate([[np.iinfo(np.int64).min], np.maximum.accumulate(maxima)[:-1]])
    return np.asarray(ev.time_ms < before[ev.batch], dtype=bool)


Builder = Callable[[LabModel, random.Random], Question]


def watermark_of_batch(m: LabModel, rng: random.Random) -> Question:
    """Ask for the watermark a micro-batch of the tumbling query runs with."""
    r = m.tumbling
    delay = m.settings.watermark_delay_ms
    data = [b for b in r.batches if b.data_batch is not None and b.batch >= 2]
    candidates = [b for b in data if b.eviction_watermark > 0] or data
    b = rng.choice(candidates)
    n = b.batch
    ev = m.events
    seen = ev.time_ms[ev.batch < n]
    max_before = int(seen.max()) if len(seen) else 0
    in_batch = ev.time_ms[ev.batch == n]
    max_here = int(in_batch.max()) if len(in_batch) else max_before
    right = b.eviction_watermark
    wrong = [
        max_before,
        max(max_before, max_here) - delay,
        r.batches[n - 1].eviction_watermark,
        max_before - delay // 2,
    ]
    candidates_ms = [*wrong, *(right + k * 60_000 for k in (1, -1, 2))]
    text = (
        f"The tumbling query runs with a {describe(delay)} watermark, one micro-batch per landed "
        f"batch. Which watermark does micro-batch {n} (reading batch_{n:04d}) run with, as its "
        "progress reports it?"
    )
    explanation = (
        f"The watermark of micro-batch {n} is computed at the end of micro-batch {n - 1}: the "
        f"largest event time seen in batches 0-{n - 1}, {clock(max_before)}, minus the "
        f"{describe(delay)} delay, is {clock(right)}. Batch {n}'s own events only move the "
        f"watermark of the next micro-batch (to {clock(b.next_watermark)}). Without the delay it "
        f"would be {clock(max_before)}; micro-batch {n - 1} ran with {clock(wrong[2])}."
    )
    return ask(
        "watermark-of-batch",
        "watermarks",
        text,
        clock(right),
        [clock(w) for w in candidates_ms],
        explanation,
        rng,
        Proof("watermark", "windowed_agg/tumbling", {"batch": n}),
        {clock(v): v for v in [*candidates_ms, right]},
    )


def dropped_event(m: LabModel, rng: random.Random) -> Question:
    """Ask which of four events the tumbling query drops as late."""
    r = m.tumbling
    fates = _fates(r)
    ev = m.events
    keys = ev.key
    lost_keys = {keys[i] for i in range(len(ev)) if fates[i].lost_to_lateness}
    lost = [i for i in range(len(ev)) if fates[i].lost_to_lateness]
    if not lost:
        raise StreamlabError("the lab drops no event as late: no question about late events")
    i = rng.choice(lost)
    late_wm = {b.data_batch: b.late_watermark for b in r.batches if b.data_batch is not None}
    # Distractors: counted events that also arrived after later events (out of order), the
    # ones a learner is most likely to take for dropped.
    counted = [
        j
        for j in range(len(ev))
        if fates[j] == Fate.COUNTED and keys[j] not in lost_keys and keys[j] != keys[i]
    ]
    out_of_order = _behind_earlier_batches(ev)
    behind = [j for j in counted if out_of_order[j]]
    pool = behind if len(behind) >= 3 else counted
    wrong = rng.sample(pool, 3)
    t, b = int(ev.time_ms[i]), int(ev.batch[i])
    details = "; ".join(
        f"{keys[j]} at {clock(int(ev.time_ms[j]))} is after {clock(late_wm[int(ev.batch[j])])}"
        for j in wrong
    )
    explanation = (
        f"{keys[i]} has event time {clock(t)} and landed in batch_{b:04d}, whose micro-batch "
        f"drops rows at or before the late watermark {clock(late_wm[b])} (the watermark of the "
        f"micro-batch before): {clock(t)} is behind it by {describe(late_wm[b] - t)}, so Spark "
        f"drops it and counts it nowhere. The others arrived late too, but each is after the "
        f"late watermark of its own micro-batch: {details}."
    )
    return ask(
        "dropped-event",
        "watermarks",
        f"With the lab's {describe(m.settings.watermark_delay_ms)} watermark, which of these "
        "four events does the tumbling query drop as late?",
        m.event_label(i),
        [m.event_label(j) for j in wrong],
        explanation,
        rng,
        Proof(
            "late_event",
            "windowed_agg/tumbling",
            {"event_ids": [str(keys[j]) for j in (i, *wrong)]},
        ),
        {m.event_label(j): str(keys[j]) for j in (i, *wrong)},
    )


def late_count(m: LabModel, rng: random.Random) -> Question:
    """Ask how many events the tumbling query drops as late over the run."""
    right = int(sum(1 for f in _fates(m.tumbling) if f.lost_to_lateness))
    at_5m = int(sum(1 for f in _fates(m.tumbling_5m) if f.lost_to_lateness))
    duplicates = int(sum(1 for f in _fates(m.tumbling) if f == Fate.DUPLICATE))
    ev = m.events
    out_of_order = int(_behind_earlier_batches(ev).sum())
    wrong = numbers_near(right, [out_of_order, at_5m, right + duplicates], rng)
    delay = describe(m.settings.watermark_delay_ms)
    explanation = (
        f"The model drops {right} events as late with the {delay} watermark: each is at or "
        f"before the late watermark of the micro-batch that reads it. {out_of_order} events "
        f"arrived after a later event (out of order), but most are still within the delay; "
        f"with a 5-minute watermark {at_5m} would be dropped; the {duplicates} re-sent "
        "duplicates are removed by deduplication, not dropped as late."
    )
    return ask(
        "late-count",
        "watermarks",
        f"Over the whole run, how many events does the tumbling query ({delay} watermark) drop "
        "as late (the rows of streaming_bronze.late_events)?",
        str(right),
        [str(w) for w in wrong],
        explanation,
        rng,
        Proof("late_count", "windowed_agg/tumbling"),
        int,
    )


def _emitted_windows(r: Result) -> dict[tuple[int, int], tuple[int, int]]:
    """Return ``(start, end) -> (first batch, emitted batch)`` over every group."""
    assert r.aggregate is not None
    out: dict[tuple[int, int], tuple[int, int]] = {}
    for w in r.aggregate.windows:
        if w.emitted_batch is None:
            continue
        key = (w.start, w.end)
        first, emitted = out.get(key, (w.first_batch, w.emitted_batch))
        out[key] = (min(first, w.first_batch), max(emitted, w.emitted_batch))
    return out


def emitted_batch(m: LabModel, rng: random.Random) -> Question:
    """Ask in which micro-batch the tumbling query emits a window."""
    r = m.tumbling
    windows = _emitted_windows(r)
    if not windows:
        raise StreamlabError("the tumbling query emits no window: land more batches")
    (start, end), (first, emitted) = rng.choice(sorted(windows.items()))
    evict = {b.batch: b.eviction_watermark for b in r.batches}
    before = evict.get(emitted - 1, 0)
    wrong = [f"micro-batch {n}" for n in (first, emitted - 1, emitted + 1, emitted + 2) if n >= 0]
    wrong.insert(1, "none: it is still open after the last batch")
    explanation = (
        f"In append mode a window is written once, in the first micro-batch whose watermark is at "
        f"or past its end, {minute(end)}. Micro-batch {emitted} runs with the watermark "
        f"{clock(evict[emitted])}; micro-batch {emitted - 1} ran with {clock(before)}, before the "
        f"end. The window's first rows arrived in micro-batch {first}."
    )
    return ask(
        "emitted-batch",
        "tumbling windows",
        f"The tumbling query counts events per {describe(m.settings.window_ms)} window in append "
        f"mode. In which micro-batch is window {span(start, end)} written to "
        "streaming_gold.events_tumbling?",
        f"micro-batch {emitted}",
        wrong,
        explanation,
        rng,
        Proof("emitted_batch", "windowed_agg/tumbling", {"start": start, "end": end}),
        _batch_number,
    )


def _batch_number(choice: str) -> int | None:
    """Return the batch a choice of :func:`emitted_batch` names (``None``: never emitted)."""
    return int(choice.rsplit(" ", 1)[1]) if choice.startswith("micro-batch") else None


def window_count(m: LabModel, rng: random.Random) -> Question:
    """Ask how many events of one type a tumbling window counts."""
    r = m.tumbling
    assert r.aggregate is not None
    emitted = [w for w in r.aggregate.windows if w.emitted_batch is not None and w.count >= 2]
    if not emitted:
        raise StreamlabError("the tumbling query emits no window: land more batches")
    ev = m.events
    fates = _fates(r)

    def landed_in(w_start: int, w_end: int, group: str) -> list[int]:
        inside = (ev.time_ms >= w_start) & (ev.time_ms < w_end) & (ev.group == group)
        return [int(j) for j in np.flatnonzero(inside)]

    # Prefer a window whose raw rows include duplicates or late ones: the interesting case.
    def noise(w_start: int, w_end: int, group: str) -> int:
        return sum(1 for j in landed_in(w_start, w_end, group) if fates[j] != Fate.COUNTED)

    noisy = [w for w in emitted if noise(w.start, w.end, w.group) > 0]
    w = rng.choice(noisy or emitted)
    rows = landed_in(w.start, w.end, w.group)
    dup = sum(1 for j in rows if fates[j] == Fate.DUPLICATE)
    late = sum(1 for j in rows if fates[j].lost_to_lateness)
    wrong = numbers_near(w.count, [len(rows), w.count + late, w.count + dup], rng)
    explanation = (
        f"{len(rows)} landed {w.group} events have an event time in {span(w.start, w.end)}; "
        f"{dup} of them are re-sent duplicates that deduplication removes and {late} arrived "
        f"after the watermark had closed the window, so the window counts {w.count}."
    )
    return ask(
        "window-count",
        "tumbling windows",
        f"How many {w.group} events does window {span(w.start, w.end)} of "
        "streaming_gold.events_tumbling count (event_count)?",
        str(w.count),
        [str(x) for x in wrong],
        explanation,
        rng,
        Proof(
            "window_count",
            "windowed_agg/tumbling",
            {"start": w.start, "end": w.end, "event_type": w.group},
        ),
        int,
    )


def sliding_windows_of(m: LabModel, rng: random.Random) -> Question:
    """Ask which sliding windows an event belongs to."""
    r = m.sliding
    size, slide = m.settings.sliding_window_ms, m.settings.slide_ms
    ev = m.events
    fates = _fates(r)
    # An event not on a slide boundary, so that the shifted choices are really wrong.
    counted = [j for j in range(len(ev)) if fates[j] == Fate.COUNTED and int(ev.time_ms[j]) % slide]
    i = rng.choice(counted)
    t = int(ev.time_ms[i])
    last = t - t % slide
    starts = sorted(
        last - k * slide for k in range(-(-size // slide)) if last - k * slide + size > t
    )

    def words(ss: list[int], width: int) -> str:
        return " and ".join(span(s, s + width) for s in ss)

    right = words(starts, size)
    options = [
        (starts[-1:], size),
        ([last], slide),
        ([s - slide for s in starts], size),
        ([s + slide for s in starts], size),
    ]
    wrong = [words(ss, width) for ss, width in options]
    values = {words(ss, width): [[x, x + width] for x in ss] for ss, width in options}
    values[right] = [[x, x + size] for x in starts]
    explanation = (
        f"A {describe(size)} window every {describe(slide)} starts at every multiple of "
        f"{describe(slide)}; {clock(t)} falls in every window that starts at most "
        f"{describe(size)} before it and not after it: {right}. Each event counts in "
        f"{len(starts)} windows, which is why the sliding query holds more state than the "
        "tumbling one."
    )
    return ask(
        "sliding-windows-of-event",
        "sliding windows",
        f"Event {ev.key[i]} ({ev.group[i]}) has event time {clock(t)}. In which windows of the "
        f"sliding query ({describe(size)} every {describe(slide)}) does it count?",
        right,
        wrong,
        explanation,
        rng,
        Proof(
            "sliding_windows",
            "windowed_agg/sliding",
            {"event_time_ms": t, "size_ms": size, "slide_ms": slide},
        ),
        values,
    )


def _pick_batch(r: Result, rng: random.Random, values: np.ndarray) -> int:
    """Pick a data micro-batch after the first two where the state holds something."""
    data = [b.batch for b in r.batches if b.data_batch is not None and b.batch >= 2]
    nonzero = [n for n in data if int(values[n]) > 0]
    return rng.choice(nonzero or data)


def sliding_state(m: LabModel, rng: random.Random) -> Question:
    """Ask how many windows the sliding query holds in state after a batch."""
    r, t = m.sliding, m.tumbling
    assert r.aggregate is not None and t.aggregate is not None
    values = r.aggregate.state_rows
    n = _pick_batch(r, rng, values)
    right = int(values[n])
    tumbling = int(t.aggregate.state_rows[n])
    wrong = numbers_near(right, [tumbling, int(values[n - 1]), 2 * tumbling], rng)
    explanation = (
        f"After micro-batch {n} the sliding aggregation holds {right} (window, event_type) rows: "
        f"every window that has a row and has not been closed by the watermark yet "
        f"({clock(r.batches[n].eviction_watermark)}). The tumbling query holds {tumbling} after "
        f"the same batch; after micro-batch {n - 1} the sliding one held {int(values[n - 1])}."
    )
    return ask(
        "sliding-state",
        "sliding windows",
        f"How many rows does the sliding query's aggregation "
        f"({describe(m.settings.sliding_window_ms)} every {describe(m.settings.slide_ms)}, per "
        f"event_type) hold in state after micro-batch {n}?",
        str(right),
        [str(w) for w in wrong],
        explanation,
        rng,
        Proof(
            "state_rows",
            "windowed_agg/sliding",
            {"batch": n, "operator": "stateStoreSave"},
        ),
        int,
    )


def dedup_state(m: LabModel, rng: random.Random) -> Question:
    """Ask how many keys the dedup query holds in state after a batch."""
    r = m.dedup
    assert r.dedup is not None
    values = r.dedup.state_rows
    n = _pick_batch(r, rng, values)
    right = int(values[n])
    ev = m.events
    kept_so_far = int(((r.dedup.outcome == D.KEPT) & (ev.batch <= n)).sum())
    in_batch = int((ev.batch == n).sum())
    wrong = numbers_near(right, [kept_so_far, int(values[n - 1]), in_batch], rng)
    delay = describe(m.settings.watermark_delay_ms)
    explanation = (
        f"Each kept event_id stays in state until the watermark passes its event time plus "
        f"{delay}. After micro-batch {n} (watermark {clock(r.batches[n].eviction_watermark)}) "
        f"{right} ids are still held; {kept_so_far} were kept up to then, the rest expired. "
        f"After micro-batch {n - 1} there were {int(values[n - 1])}."
    )
    return ask(
        "dedup-state",
        "deduplication",
        f"How many event ids does the {delay} dropDuplicatesWithinWatermark of the dedup query "
        f"hold in state after micro-batch {n}?",
        str(right),
        [str(w) for w in wrong],
        explanation,
        rng,
        Proof("state_rows", "dedup", {"batch": n, "operator": "dedupeWithinWatermark"}),
        int,
    )


_COPY_CHOICES = {
    "duplicate": "Removes it: the first copy's id is still held in the deduplication state",
    "kept": "Writes it again: the first copy's id had already left the state",
    "late": "Drops it as late: its event time is at or before the watermark",
    "none": "Drops both copies: the second one makes the first a duplicate too",
}


def duplicate_copy(m: LabModel, rng: random.Random) -> Question:
    """Ask what the dedup query does with a re-sent copy of an event."""
    r = m.dedup
    assert r.dedup is not None
    ev = m.events
    outcome = r.dedup.outcome
    first_of: dict[object, int] = {}
    pairs: list[tuple[int, int]] = []
    for j in range(len(ev)):
        k = ev.key[j]
        if k in first_of:
            if int(ev.batch[j]) > int(ev.batch[first_of[k]]):
                pairs.append((first_of[k], j))
        elif outcome[j] == D.KEPT:
            first_of[k] = j
    if not pairs:
        raise StreamlabError("the lab re-sent no event in a later batch: no dedup question")
    a, b = rng.choice(pairs)
    code = int(outcome[b])
    fate = {D.DUPLICATE: "duplicate", D.KEPT: "kept", D.LATE: "late"}[code]
    late_wm = {x.data_batch: x.late_watermark for x in r.batches if x.data_batch is not None}
    t = int(ev.time_ms[b])
    wm = late_wm[int(ev.batch[b])]
    expired = int(r.dedup.expired_batch[a])
    delay = describe(m.settings.watermark_delay_ms)
    held = (
        f"the first copy's id is held until the watermark passes {clock(t)} + {delay}, "
        f"which happens in micro-batch {expired}"
        if expired >= 0
        else f"the first copy's id is held until the watermark passes {clock(t)} + {delay}, "
        "which never happens in this run"
    )
    why = {
        "duplicate": f"its event time {clock(t)} is after the late watermark {clock(wm)}, and "
        + held
        + f", after micro-batch {int(ev.batch[b])}: it is removed as a duplicate.",
        "kept": f"its event time {clock(t)} is after the late watermark {clock(wm)}, but {held}, "
        f"before micro-batch {int(ev.batch[b])}: the copy passes and is written a second time.",
        "late": f"its event time {clock(t)} is at or before the late watermark {clock(wm)} of "
        f"micro-batch {int(ev.batch[b])}, so it is dropped before deduplication sees it.",
    }[fate]
    return ask(
        "duplicate-copy",
        "deduplication",
        f"Event {ev.key[b]} (event time {clock(t)}) landed in batch_{int(ev.batch[a]):04d} and "
        f"was sent again, unchanged, in batch_{int(ev.batch[b]):04d}. What does the dedup query "
        f"({delay} dropDuplicatesWithinWatermark on event_id) do with the second copy?",
        _COPY_CHOICES[fate],
        [v for k, v in _COPY_CHOICES.items() if k != fate],
        f"The second copy is read by micro-batch {int(ev.batch[b])}: {why}",
        rng,
        Proof(
            "duplicate_copy",
            "dedup",
            {"event_id": str(ev.key[b]), "event_time_ms": t, "batch": int(ev.batch[b])},
        ),
        {v: k for k, v in _COPY_CHOICES.items()},
    )


def join_rows(m: LabModel, rng: random.Random) -> Question:
    """Ask how many rows the inner join writes over the run."""
    r = m.join
    assert r.join is not None
    right = len(r.join.pairs)
    clicks = len(r.inputs["clicks"])
    imps = len(r.inputs["impressions"])
    clicked = len({i for i, _, _ in r.join.pairs})
    wrong = numbers_near(right, [clicks, imps, clicked if clicked != right else clicks + 1], rng)
    window = describe(m.settings.click_window_ms)
    explanation = (
        f"{clicks} clicks landed; {right} of them meet an impression with the same impression_id "
        f"0 to {window} before them while both are in the join state, so the inner join writes "
        f"{right} rows. The others refer to no impression (orphans) or were dropped as late; "
        f"{imps} impressions landed, {clicked} of them were clicked."
    )
    return ask(
        "join-rows",
        "stream-stream joins",
        f"How many rows does streaming_silver.ad_clicks (impressions inner-joined with clicks "
        f"0-{window} after them) hold after the run?",
        str(right),
        [str(w) for w in wrong],
        explanation,
        rng,
        Proof("join_rows", "stream_join/clicks"),
        int,
    )


def join_match(m: LabModel, rng: random.Random) -> Question:
    """Ask which of four clicks joins one impression."""
    r = m.join
    assert r.join is not None
    imps, clicks = r.inputs["impressions"], r.inputs["clicks"]
    partners: dict[int, list[int]] = {}
    for i, j, _ in r.join.pairs:
        partners.setdefault(i, []).append(j)
    single = sorted(i for i, js in partners.items() if len(js) == 1)
    if not single:
        raise StreamlabError("no impression joined exactly one click: no join question")
    i = rng.choice(single)
    j = partners[i][0]
    t = int(imps.time_ms[i])
    window = m.settings.click_window_ms
    # Clicks of other impressions close in time: the plausible wrong answers.
    others = [
        k
        for k in range(len(clicks))
        if clicks.key[k] != imps.key[i] and abs(int(clicks.time_ms[k]) - t) <= 2 * window
    ]
    others.sort(key=lambda k: (abs(int(clicks.time_ms[k]) - t - window // 2), str(clicks.group[k])))
    wrong = others[:6]
    if len(wrong) < 3:
        wrong = [k for k in range(len(clicks)) if clicks.key[k] != imps.key[i]][:3]
    wrong = rng.sample(wrong, 3)

    def label(k: int) -> str:
        return f"{clicks.group[k]} at {clock(int(clicks.time_ms[k]))}"

    explanation = (
        f"The join matches on impression_id and click_time between {clock(t)} and "
        f"{clock(t + window)}. {clicks.group[j]} refers to {imps.key[i]} and was clicked at "
        f"{clock(int(clicks.time_ms[j]))}, inside the range; the others are close in time but "
        "refer to other impressions ("
        + ", ".join(f"{clicks.group[k]}: {clicks.key[k]}" for k in wrong)
        + ")."
    )
    return ask(
        "join-match",
        "stream-stream joins",
        f"Impression {imps.key[i]} was shown at {clock(t)}. Which click does the stream_join "
        "query join with it in streaming_silver.ad_clicks?",
        label(j),
        [label(k) for k in wrong],
        explanation,
        rng,
        Proof(
            "join_match",
            "stream_join/clicks",
            {"impression_id": str(imps.key[i])},
        ),
        {label(k): str(clicks.group[k]) for k in (j, *wrong)},
    )


def join_state(m: LabModel, rng: random.Random) -> Question:
    """Ask how many rows the join holds in state after a batch."""
    r = m.join
    assert r.join is not None
    values = r.join.state_rows
    n = _pick_batch(r, rng, values)
    right = int(values[n])
    imps, clicks = r.inputs["impressions"], r.inputs["clicks"]
    landed = int((imps.batch <= n).sum() + (clicks.batch <= n).sum())
    wrong = numbers_near(right, [landed, int(values[n - 1]), int((imps.batch <= n).sum())], rng)
    explanation = (
        f"The join keeps impressions until the watermark passes their time plus the "
        f"{describe(m.settings.click_window_ms)} click window, and clicks until the watermark "
        f"passes them. After micro-batch {n} (watermark {clock(r.batches[n].eviction_watermark)})"
        f" it holds {right} rows of both sides; {landed} rows landed up to then, and after "
        f"micro-batch {n - 1} it held {int(values[n - 1])}."
    )
    return ask(
        "join-state",
        "state and troubleshooting",
        f"How many rows (impressions and clicks together) does the stream_join query's join "
        f"hold in state after micro-batch {n}?",
        str(right),
        [str(w) for w in wrong],
        explanation,
        rng,
        Proof("state_rows", "stream_join/clicks", {"batch": n, "operator": "symmetricHashJoin"}),
        int,
    )


BUILDERS: tuple[Builder, ...] = (
    watermark_of_batch,
    dropped_event,
    late_count,
    emitted_batch,
    window_count,
    sliding_windows_of,
    sliding_state,
    dedup_state,
    duplicate_copy,
    join_rows,
    join_match,
    join_state,
)
"""Every question about the lab's data, in the order asked."""

"""Per-event fates, per-batch watermarks and windows, as data and as plain words.

``report(result)`` turns a model :class:`~streamlab.model.simulate.Result` into JSON-ready data:
``batches[]``, ``events[]`` and ``windows[]`` (``join[]`` and ``ctr_windows[]`` for the stream
join);
:func:`streamlab.model.story.story` tells one event's story in words.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from streamlab.durations import describe
from streamlab.lab.paths import LabPaths
from streamlab.model.events import IntArray
from streamlab.model.landed import load_inputs
from streamlab.model.simulate import ModelConfig, Result, simulate


def iso(ms: int) -> str:
    """Format epoch milliseconds as Spark's progress does: ``2026-01-01T09:00:00.000Z``.

    >>> iso(1_500)
    '1970-01-01T00:00:01.500Z'
    """
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def _spark_batch(result: Result) -> dict[int, int]:
    return {b.data_batch: b.batch for b in result.batches if b.data_batch is not None}


def batches(result: Result) -> list[dict[str, Any]]:
    """Return one entry per micro-batch: its landed folder, watermarks and state size."""
    names = result.config.inputs
    out = []
    for b in result.batches:
        out.append(
            {
                "batch": b.batch,
                "landed_batch": b.data_batch,
                "late_watermark": iso(b.late_watermark),
                "eviction_watermark": iso(b.eviction_watermark),
                "next_watermark": iso(b.next_watermark),
                "late_watermark_ms": b.late_watermark,
                "eviction_watermark_ms": b.eviction_watermark,
                "input_watermarks": {
                    n: (iso(v) if v is not None else None)
                    for n, v in zip(names, b.input_watermarks, strict=True)
                },
                "state_rows": int(result.state_rows[b.batch]),
            }
        )
    return out


def windows(result: Result) -> list[dict[str, Any]]:
    """Return every window with a count: bounds, group, count and emitting batch."""
    if result.aggregate is None:
        return []
    return [
        {
            "start": iso(w.start),
            "end": iso(w.end),
            "event_type": w.group,
            "count": w.count,
            "emitted_batch": w.emitted_batch,
        }
        for w in result.aggregate.windows
    ]


def isos(ms: npt.NDArray[np.int64]) -> list[str]:
    """Format many epoch-millisecond times like :func:`iso`, vectorized."""
    text = np.datetime_as_string(np.asarray(ms, dtype=np.int64).astype("datetime64[ms]"), unit="ms")
    return [t + "Z" for t in text.tolist()]


def fate_array(result: Result) -> npt.NDArray[np.object_]:
    """Return the fate of every event of the ``events`` input: :attr:`Result.fates`."""
    return result.fates


def fate_counts(result: Result) -> dict[str, int]:
    """Return how many rows met each fate (the events', or both sides' of a join), by name."""
    fates = np.concatenate(result.join_fates) if result.join is not None else result.fates
    names, counts = np.unique(fates.astype(str), return_counts=True)
    return dict(zip(names.tolist(), counts.tolist(), strict=True))


CHUNK_ROWS = 65_536
"""Rows per chunk of :func:`event_chunks`: the details of one chunk are held at a time."""


def events(result: Result, rows: npt.ArrayLike | None = None) -> list[dict[str, Any]]:
    """Return one entry per input row with its fate and the facts behind it.

    ``rows`` picks entries by their place in the whole list (ascending), as
    :func:`event_rows` gives them; by default every row has one.
    """
    return [item for chunk in event_chunks(result, rows=rows) for item in chunk]


def event_rows(result: Result, event_id: object) -> IntArray:
    """Return the places in :func:`events` of the entries of ``event_id`` (each copy, each side)."""
    if result.join is None:
        return np.flatnonzero(result.inputs["events"].key == event_id)
    imps, clicks = result.inputs["impressions"], result.inputs["clicks"]
    return np.concatenate(
        [np.flatnonzero(imps.key == event_id), len(imps) + np.flatnonzero(clicks.group == event_id)]
    )


def event_chunks(
    result: Result, *, size: int = CHUNK_ROWS, rows: npt.ArrayLike | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Yield :func:`events`' entries a chunk of at most ``size`` rows at a time, in order.

    Only one chunk's entries exist at once, so the details of millions of rows can be written
    out in bounded memory.
    """
    total = _event_count(result)
    picked = np.arange(total, dtype=np.int64) if rows is None else np.asarray(rows, np.int64)
    build = _join_chunk(result) if result.join is not None else _events_chunk(result)
    for lo in range(0, len(picked), size):
        yield build(picked[lo : lo + size])


def _event_count(result: Result) -> int:
    if result.join is not None:
        return len(result.inputs["impressions"]) + len(result.inputs["clicks"])
    return len(result.inputs["events"])


def _by_row(row: IntArray) -> tuple[IntArray | None, IntArray]:
    """Return the order that sorts ``row`` (stably), None if it is sorted, and ``row`` sorted."""
    if len(row) < 2 or bool(np.all(row[1:] >= row[:-1])):
        return None, row  # tumbling windows: one contribution per row, in row order
    order = np.argsort(row, kind="stable")
    return order, row[order]


def _ranges(lo: IntArray, hi: IntArray) -> IntArray:
    """Return ``lo[0]..hi[0]-1``, then ``lo[1]..hi[1]-1``, and so on, as one array.

    >>> _ranges(np.array([0, 5]), np.array([2, 8])).tolist()
    [0, 1, 5, 6, 7]
    """
    counts = hi - lo
    offsets = np.cumsum(counts) - counts
    return np.repeat(lo - offsets, counts) + np.arange(int(counts.sum()), dtype=np.int64)


def _events_chunk(result: Result) -> Callable[[IntArray], list[dict[str, Any]]]:
    """Return a builder of the ``events`` input's entries for given rows (ascending)."""
    rows = result.inputs["events"]
    spark = _spark_batch(result)
    agg = result.aggregate
    size = result.config.window.size_ms
    if agg is not None:
        c = agg.contributions
        order, sorted_rows = _by_row(c.row)
        emitted = [w.emitted_batch for w in agg.windows]
    duplicate_of = result.dedup.duplicate_of if result.dedup is not None else None

    def build(picked: IntArray) -> list[dict[str, Any]]:
        counted: dict[int, list[dict[str, Any]]] = {}
        dropped: dict[int, list[dict[str, Any]]] = {}
        if agg is not None and len(picked):
            lo = np.searchsorted(sorted_rows, picked, "left")
            hi = np.searchsorted(sorted_rows, picked, "right")
            mine = _ranges(lo, hi) if order is None else order[_ranges(lo, hi)]
            # The chunk's own window starts, as text once each.
            starts, inverse = np.unique(c.start[mine], return_inverse=True)
            start_text, end_text = isos(starts), isos(starts + size)
            for row, k, gone, late, w in zip(
                c.row[mine].tolist(),
                inverse.tolist(),
                c.dropped[mine].tolist(),
                c.late_watermark[mine].tolist(),
                c.window[mine].tolist(),
                strict=True,
            ):
                if gone:
                    dropped.setdefault(row, []).append(
                        {
                            "start": start_text[k],
                            "end": end_text[k],
                            "late_watermark": iso(late),
                            "closed_by_ms": late - int(starts[k]) - size,
                        }
                    )
                else:
                    counted.setdefault(row, []).append(
                        {"start": start_text[k], "end": end_text[k], "emitted_batch": emitted[w]}
                    )
        times = isos(rows.time_ms[picked])
        first = duplicate_of[picked].tolist() if duplicate_of is not None else None
        out = []
        for n, (i, key, batch, valid, group, fate) in enumerate(
            zip(
                picked.tolist(),
                rows.key[picked].tolist(),
                rows.batch[picked].tolist(),
                rows.valid[picked].tolist(),
                rows.group[picked].tolist(),
                result.fates[picked].tolist(),
                strict=True,
            )
        ):
            item: dict[str, Any] = {
                "event_id": key,
                "source": "events",
                "landed_batch": batch,
                "batch": spark[batch],
                "event_time": times[n] if valid else None,
                "event_type": group,
                "fate": fate,
            }
            if first is not None and first[n] >= 0:
                item["first_seen_batch"] = spark[int(rows.batch[first[n]])]
            if i in counted:
                item["counted_in"] = counted[i]
            if i in dropped:
                item["dropped_from"] = dropped[i]
            out.append(item)
        return out

    return build


def _join_chunk(result: Result) -> Callable[[IntArray], list[dict[str, Any]]]:
    """Return a builder of both join sides' entries (impressions, then clicks) for given places."""
    outcome = result.join
    assert outcome is not None
    spark = _spark_batch(result)
    imps, clicks = result.inputs["impressions"], result.inputs["clicks"]
    partners_l: dict[int, list[tuple[int, int]]] = {}
    partners_r: dict[int, list[tuple[int, int]]] = {}
    for i, j, b in outcome.pairs:
        partners_l.setdefault(i, []).append((j, b))
        partners_r.setdefault(j, []).append((i, b))
    nulls = dict(outcome.null_rows)
    left_fates, right_fates = result.join_fates
    n_left = len(imps)

    def build(picked: IntArray) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for place in picked.tolist():
            if place < n_left:
                i = place
                item = _join_item(imps, i, "impressions", imps.key[i], spark)
                item["fate"] = left_fates[i]
                item["joined_with"] = [
                    {"click_id": clicks.group[j], "batch": b} for j, b in partners_l.get(i, [])
                ]
                if i in nulls:
                    item["null_row_batch"] = nulls[i]
                if outcome.left_evicted[i] >= 0:
                    item["evicted_batch"] = int(outcome.left_evicted[i])
            else:
                j = place - n_left
                item = _join_item(clicks, j, "clicks", clicks.group[j], spark)
                item["impression_id"] = clicks.key[j]
                item["fate"] = right_fates[j]
                item["joined_with"] = [
                    {"impression_id": imps.key[i], "batch": b} for i, b in partners_r.get(j, [])
                ]
                if outcome.right_evicted[j] >= 0:
                    item["evicted_batch"] = int(outcome.right_evicted[j])
            out.append(item)
        return out

    return build


def _join_item(
    rows: Any, i: int, source: str, ident: object, spark: dict[int, int]
) -> dict[str, Any]:
    return {
        "event_id": ident,
        "source": source,
        "landed_batch": int(rows.batch[i]),
        "batch": spark[int(rows.batch[i])],
        "event_time": iso(int(rows.time_ms[i])) if rows.valid[i] else None,
    }


def join_rows(result: Result) -> list[dict[str, Any]]:
    """Return the join's output rows with the batch that emitted each."""
    if result.join is None:
        return []
    imps, clicks = result.inputs["impressions"], result.inputs["clicks"]
    out: list[dict[str, Any]] = [
        {"impression_id": imps.key[i], "click_id": clicks.group[j], "batch": b}
        for i, j, b in result.join.pairs
    ]
    out += [
        {"impression_id": imps.key[i], "click_id": None, "batch": b}
        for i, b in result.join.null_rows
    ]
    return sorted(out, key=lambda r: (r["batch"], str(r["impression_id"]), str(r["click_id"])))


def ctr_windows(result: Result) -> list[dict[str, Any]]:
    """Return ``stream_join/ctr``'s windows, by the columns of ``streaming_gold.ad_ctr``.

    One entry per ad and impression-time window that has a joined row, with the batch that
    writes it (``None`` while the window is open).
    """
    if result.ctr is None:
        return []
    return [
        {
            "window_start": iso(w.window_start),
            "window_end": iso(w.window_end),
            "ad_id": w.ad_id,
            "impressions": w.impressions,
            "clicked_impressions": w.clicked_impressions,
            "clicks": w.clicks,
            "ctr": w.ctr,
            "emitted_batch": w.emitted_batch,
        }
        for w in result.ctr.windows
    ]


def report(result: Result, *, details: bool = True) -> dict[str, Any]:
    """Return everything ``streamlab explain --json`` prints.

    ``fates`` counts the rows of each fate; ``events`` (left out without ``details``, for a
    reader that needs only the counts) has one entry per row.
    """
    cfg = result.config
    data: dict[str, Any] = {
        "pipeline": cfg.pipeline,
        "trigger": cfg.trigger.value,
        "policy": cfg.policy.value,
        "watermark": {n: describe(cfg.delay_of(n)) for n in cfg.inputs},
        "batches": batches(result),
        "fates": fate_counts(result),
        "windows": windows(result),
    }
    if details:
        data["events"] = events(result)
    if cfg.pipeline == "windowed_agg":
        data["window"] = describe(cfg.window.size_ms)
        data["slide"] = describe(cfg.window.slide_ms)
    if result.join is not None:
        data["join"] = join_rows(result)
    if result.ctr is not None:
        data["ctr_window"] = describe(cfg.window.size_ms)
        data["ctr_windows"] = ctr_windows(result)
    return data


def explain_lab(paths: LabPaths, config: ModelConfig) -> Result:
    """Run the model over the landed batches of the lab at ``paths``.

    >>> result = explain_lab(LabPaths.resolve(), ModelConfig())  # doctest: +SKIP
    >>> report(result)["batches"][0]["eviction_watermark"]  # doctest: +SKIP
    '1970-01-01T00:00:00.000Z'
    """
    return simulate(load_inputs(paths, config.inputs), config)

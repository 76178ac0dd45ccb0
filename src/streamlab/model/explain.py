"""Per-event fates, per-batch watermarks and windows, as data and as plain words.

``report(result)`` turns a model :class:`~streamlab.model.simulate.Result` into JSON-ready data:
``batches[]``, ``events[]`` and ``windows[]`` (``join[]`` and ``ctr_windows[]`` for the stream
join);
:func:`streamlab.model.story.story` tells one event's story in words.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from streamlab.durations import describe
from streamlab.lab.paths import LabPaths
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


def events(result: Result) -> list[dict[str, Any]]:
    """Return one entry per input row with its fate and the facts behind it."""
    if result.join is not None:
        return _join_events(result)
    rows = result.inputs["events"]
    spark = _spark_batch(result)
    n = len(rows)
    fate = result.fates.tolist()
    counted: dict[int, list[dict[str, Any]]] = {}
    dropped: dict[int, list[dict[str, Any]]] = {}
    if result.aggregate is not None:
        c = result.aggregate.contributions
        wins = result.aggregate.windows
        size = result.config.window.size_ms
        starts, inverse = np.unique(c.start, return_inverse=True)
        start_text = isos(starts)
        end_text = isos(starts + size)
        emitted = [w.emitted_batch for w in wins]
        for row, k, gone, late, w in zip(
            c.row.tolist(),
            inverse.tolist(),
            c.dropped.tolist(),
            c.late_watermark.tolist(),
            c.window.tolist(),
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
    times = isos(rows.time_ms)
    valid = rows.valid.tolist()
    batch = rows.batch.tolist()
    keys = rows.key.tolist()
    groups = rows.group.tolist()
    first = result.dedup.duplicate_of.tolist() if result.dedup is not None else [-1] * n
    out = []
    for i in range(n):
        item: dict[str, Any] = {
            "event_id": keys[i],
            "source": "events",
            "landed_batch": batch[i],
            "batch": spark[batch[i]],
            "event_time": times[i] if valid[i] else None,
            "event_type": groups[i],
            "fate": fate[i],
        }
        if first[i] >= 0:
            item["first_seen_batch"] = spark[batch[first[i]]]
        if i in counted:
            item["counted_in"] = counted[i]
        if i in dropped:
            item["dropped_from"] = dropped[i]
        out.append(item)
    return out


def _join_events(result: Result) -> list[dict[str, Any]]:
    assert result.join is not None
    spark = _spark_batch(result)
    imps, clicks = result.inputs["impressions"], result.inputs["clicks"]
    partners_l: dict[int, list[tuple[int, int]]] = {}
    partners_r: dict[int, list[tuple[int, int]]] = {}
    for i, j, b in result.join.pairs:
        partners_l.setdefault(i, []).append((j, b))
        partners_r.setdefault(j, []).append((i, b))
    nulls = dict(result.join.null_rows)
    left_fates, right_fates = result.join_fates
    out: list[dict[str, Any]] = []
    for i in range(len(imps)):
        item = _join_item(imps, i, "impressions", imps.key[i], spark)
        item["fate"] = left_fates[i]
        item["joined_with"] = [
            {"click_id": clicks.group[j], "batch": b} for j, b in partners_l.get(i, [])
        ]
        if i in nulls:
            item["null_row_batch"] = nulls[i]
        if result.join.left_evicted[i] >= 0:
            item["evicted_batch"] = int(result.join.left_evicted[i])
        out.append(item)
    for j in range(len(clicks)):
        item = _join_item(clicks, j, "clicks", clicks.group[j], spark)
        item["impression_id"] = clicks.key[j]
        item["fate"] = right_fates[j]
        item["joined_with"] = [
            {"impression_id": imps.key[i], "batch": b} for i, b in partners_r.get(j, [])
        ]
        if result.join.right_evicted[j] >= 0:
            item["evicted_batch"] = int(result.join.right_evicted[j])
        out.append(item)
    return out


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

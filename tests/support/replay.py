"""A plain-Python replay of the tumbling query over the landed files, independent of streamlab.

It follows Spark's rules for ``windowed_agg/tumbling`` (docs/semantics-proof.md): batch ``N``
drops as late the rows at or behind the watermark computed after batch ``N-2`` (the query has
two stateful operators, semantics T1); the watermark is the largest event time so far minus
the delay; a re-sent copy carries its original's event time, so the deduplication removes
every later copy of an ``event_id`` that is not late. One landed file is one micro-batch, and
the closing no-data batch emits every window that ends at or before the last watermark.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

DELAY_MS = 10 * 60_000
WINDOW_MS = 5 * 60_000


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@dataclass
class Replay:
    """What the tumbling query must have done, counted from the landed files alone."""

    data_batches: int
    rows_in: int
    late: int
    duplicates: int
    kept: int
    emitted: int
    """Rows in the windows that closed."""
    windows: Counter[tuple[int, str]] = field(default_factory=Counter)
    """Per closed window (start ms, event type), its count."""


def replay(root: Path, delay_ms: int = DELAY_MS, window_ms: int = WINDOW_MS) -> Replay:
    """Replay the tumbling query over the events landed under ``root``."""
    files = sorted(
        (root / "events").glob("batch_*/part-*.json"), key=lambda f: int(f.parent.name[6:])
    )
    rows_in = late = dups = 0
    after: list[int] = []  # the watermark after each batch
    seen: set[str] = set()
    kept: list[tuple[int, str]] = []
    for batch, file in enumerate(files):
        lines = file.read_text().splitlines()
        rows_in += len(lines)
        records = [json.loads(line) for line in lines]
        late_wm = after[batch - 2] if batch >= 2 else 0
        for rec in records:
            event_ms = _ms(rec["event_time"])
            if event_ms <= late_wm:
                late += 1
            elif rec["event_id"] in seen:
                dups += 1
            else:
                seen.add(rec["event_id"])
                kept.append((event_ms, str(rec["event_type"])))
        top = max(_ms(r["event_time"]) for r in records) - delay_ms
        after.append(max(after[-1] if after else 0, top))
    final_wm = after[-1]
    windows: Counter[tuple[int, str]] = Counter()
    for t, kind in kept:
        start = t - t % window_ms
        if start + window_ms <= final_wm:
            windows[(start, kind)] += 1
    return Replay(len(files), rows_in, late, dups, len(kept), sum(windows.values()), windows)

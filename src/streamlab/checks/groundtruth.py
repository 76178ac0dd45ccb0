"""What Spark did next to what the model expected: windows emitted, late drops, duplicates.

For each pipeline that has run on a lab (its checkpoint has commits and the settings file),
the model (:func:`streamlab.model.simulate`) is run with the settings the query recorded, over
the landed batches Spark has processed, and compared with the query's table:

* ``windows_emitted``: the model's emitted windows ``(start, end, event_type, count)`` against
  the rows of ``streaming_gold.events_tumbling``;
* ``late_events``: the events the model drops as late in the tumbling query against the
  ``event_id``s of ``streaming_bronze.late_events`` (as multisets);
* ``duplicates_removed``: the ``event_id``s the model keeps in the dedup query against those of
  ``streaming_silver.events_dedup``, and the duplicates it removes against Spark's own
  ``numDroppedDuplicateRows`` from the progress log;
* ``join_pairs``: the (impression, click) pairs the model's inner join emits against the rows of
  ``streaming_silver.ad_clicks`` (as multisets);
* ``ctr_windows``: the windows of ``stream_join/ctr`` the model emits (a left outer join, then
  a count per ad and window with the join's output watermark) against the rows of
  ``streaming_gold.ad_ctr``: impressions, clicked impressions and clicks.

The trigger is not recorded with a query's settings, so it is read from the checkpoint: the
model plans the batches with each trigger it knows, and the one whose plan (which landed batch
each micro-batch read, and its watermark) is the one Spark ran is used.

Spark keeps the offsets and commits of the last ``minBatchesToRetain`` (20) batches only, so a
longer run's plan is read from durable state that outlives them, as the run summary does
(:mod:`streamlab.run.batches`): the last committed batch, the file source log (which landed
batch each of its entries read, in order; never purged), the offsets Spark kept, and for the
purged batches the progress log (whether each read rows, and its watermark) where it has them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from streamlab.checks.compare import Check, first_difference, side_by_side
from streamlab.errors import StreamlabError
from streamlab.ingest.quarantine import QuarantineConfig
from streamlab.lab.catalog import table_ref
from streamlab.lab.paths import LabPaths
from streamlab.model import dedup as D
from streamlab.model.events import Rows
from streamlab.model.fates import Fate, mask
from streamlab.model.landed import load_source
from streamlab.model.simulate import ModelConfig, Result, simulate
from streamlab.model.watermark import Trigger
from streamlab.pipelines.config import PipelineConfig
from streamlab.pipelines.registry import LATE_TABLE, QUERIES, TUMBLING, QuerySpec
from streamlab.run.batches import position
from streamlab.run.checkpoint import (
    SETTINGS_FILE,
    committed_batches,
    log_files,
    planned_batches,
    read_offsets,
    source_log_offset,
)
from streamlab.run.late import captured_batches
from streamlab.run.progress import latest_by_batch, parse_watermark, progress_log, read_progress

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

COMPARISONS = ("windows_emitted", "late_events", "duplicates_removed", "join_pairs", "ctr_windows")
"""What is compared, in report order; each is checked as ``model.<name>``."""

DEDUP = "dedup"
CLICKS = "stream_join/clicks"
CTR = "stream_join/ctr"
_BATCH = re.compile(r"/batch_(\d+)/[^/]*$")


@dataclass
class Comparison:
    """One quantity as Spark produced it and as the model expects it."""

    spark: int | None
    model: int | None
    ok: bool
    detail: str
    ran: bool = True
    """Whether the pipeline behind it has run; ``False``: nothing to compare, not a failure."""


@dataclass
class GroundTruth:
    """The model's expectations next to Spark's results, with one check per comparison."""

    root: str
    comparisons: dict[str, Comparison]
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per modelled query: the settings, trigger and batches the model ran with."""
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether Spark did what the model expected wherever a pipeline has run."""
        return all(c.ok for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """Return the comparison as small JSON-ready data."""
        out: dict[str, Any] = {"root": self.root, "ok": self.ok}
        for name in COMPARISONS:
            c = self.comparisons[name]
            out[name] = {"spark": c.spark, "model": c.model, "ok": c.ok, "ran": c.ran}
        out["models"] = self.models
        out["checks"] = [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks]
        return out


@dataclass
class _Modelled:
    """One query's Spark run and the model run that matches it."""

    spec: QuerySpec
    checkpoint: Path
    committed: list[int]
    result: Result
    plan_note: str
    plan_ok: bool
    summary: dict[str, Any]
    comparable: bool = True
    """False when no trigger the model plans lays out Spark's batches (e.g. several
    AvailableNow runs with batches landed in between): then there is nothing to compare."""


def compare_with_model(
    spark: SparkSession,
    paths: LabPaths,
    *,
    model_settings: Mapping[str, int] | None = None,
) -> GroundTruth:
    """Compare what the lab's pipelines wrote with what the model expects of them.

    Args:
        spark: a session to read the tables with.
        paths: the lab root.
        model_settings: settings (``PipelineConfig`` fields, e.g. ``watermark_delay_ms``) that
            replace the recorded ones in the model only: what Spark would have done otherwise.

    """
    overrides = dict(model_settings or {})
    specs = {q.name: q for q in QUERIES}
    tumbling = _model_query(paths, specs[TUMBLING], overrides)
    dedup = _model_query(paths, specs[DEDUP], overrides)
    clicks = _model_join_query(paths, specs[CLICKS], overrides)
    ctr = _model_join_query(paths, specs[CTR], overrides)
    comparisons = {
        "windows_emitted": _windows(spark, paths, tumbling),
        "late_events": _late(spark, paths, tumbling),
        "duplicates_removed": _duplicates(spark, paths, dedup),
        "join_pairs": _join_pairs(spark, paths, clicks),
        "ctr_windows": _ctr_windows(spark, paths, ctr),
    }
    report = GroundTruth(str(paths.root), comparisons)
    for m in (tumbling, dedup, clicks, ctr):
        if isinstance(m, _Modelled):
            report.models[m.spec.name] = m.summary
    for name in COMPARISONS:
        c = comparisons[name]
        report.checks.append(Check(f"model.{name}", c.ok, c.detail))
    return report


def has_run(checkpoint: Path) -> bool:
    """Return whether a query has committed a batch in ``checkpoint`` with recorded settings."""
    return bool(committed_batches(checkpoint)) and (checkpoint / SETTINGS_FILE).is_file()


def _not_run(what: str) -> Comparison:
    return Comparison(None, None, True, f"not run: {what} has not run on this lab", ran=False)


def _failed(error: str) -> Comparison:
    return Comparison(None, None, False, error)


# -- the model of one query ---------------------------------------------------------------------


def _model_query(
    paths: LabPaths, spec: QuerySpec, overrides: dict[str, int]
) -> _Modelled | str | None:
    """Run the model for ``spec`` as Spark ran it; ``None`` if it has not run, text on error."""
    ckpt = spec.checkpoint(paths)
    if not has_run(ckpt):
        return None
    try:
        return _model_run(paths, spec, ckpt, overrides)
    except (StreamlabError, OSError, ValueError, KeyError) as exc:
        return f"cannot model {spec.name}: {exc}"


def _recorded(ckpt: Path) -> dict[str, Any]:
    import json

    data = json.loads((ckpt / SETTINGS_FILE).read_text())
    settings = data.get("settings") if isinstance(data, dict) else None
    if not isinstance(settings, dict):
        raise StreamlabError(f"{ckpt / SETTINGS_FILE} has no settings")
    return settings


@dataclass(frozen=True)
class _SparkPlan:
    """What durable state shows of the micro-batches Spark ran, batch ``0`` to ``last``.

    Spark keeps the ``offsets`` and ``commits`` of the last ``minBatchesToRetain`` batches
    only, so an early batch's plan is read from what outlives them: the file source's log
    (never purged: which landed batch each of its entries read, in order) and the progress
    log (each batch's input rows and watermark), as :mod:`streamlab.run.batches` does.
    """

    last: int
    entries: list[int]
    """Per file source log entry read so far, the landed batch it read."""
    reached: dict[int, int]
    """Per batch whose offsets Spark kept: the last source log entry read by then (-1: none)."""
    watermarks: dict[int, int]
    """Per batch known: the watermark (ms) it ran with, from its offsets or its progress."""
    has_data: dict[int, bool]
    """Per batch the progress log holds (and whose offsets are gone): whether it read rows."""
    from_progress: int
    """How many batches are known from the progress log alone."""

    def layout(self) -> dict[int, int | None]:
        """Return, per batch whose own and previous offsets are kept, the landed batch read."""
        out: dict[int, int | None] = {}
        for b, upto in self.reached.items():
            before = -1 if b == 0 else self.reached.get(b - 1)
            if before is None:
                continue
            read = self.entries[before + 1 : upto + 1]
            if len(set(read)) > 1:
                raise StreamlabError(
                    f"micro-batch {b} read landed batches {sorted(set(read))}: "
                    "the model reads one per batch"
                )
            out[b] = read[0] if read else None
        return out

    def matches(self, planned: list[int | None]) -> bool:
        """Return whether a model plan (landed batch per micro-batch) is the one Spark ran."""
        if len(planned) <= self.last:
            return False
        reads: list[int] = []
        through: list[int] = []  # per batch, how many landed batches were read by its end
        for d in planned[: self.last + 1]:
            if d is not None:
                reads.append(d)
            through.append(len(reads))
        if reads != self.entries:
            return False
        layout = self.layout()
        if any(planned[b] != d for b, d in layout.items()):
            return False
        if any(through[b] != upto + 1 for b, upto in self.reached.items()):
            return False
        return all((planned[b] is not None) == data for b, data in self.has_data.items())

    def no_data(self) -> list[int]:
        """Return the batches known to have read nothing."""
        known = {b: d is not None for b, d in self.layout().items()} | self.has_data
        return sorted(b for b, data in known.items() if not data)


def _spark_plan(paths: LabPaths, spec: QuerySpec, ckpt: Path) -> _SparkPlan:
    end = position(ckpt)
    assert end.last_batch is not None
    last, upto = end.last_batch, end.log_offsets[0] if end.log_offsets else -1
    entries: list[int] = []
    for entry in range(upto + 1):
        landed = sorted(
            {
                int(m.group(1))
                for f in log_files(ckpt, 0, entry - 1, entry)
                for m in [_BATCH.search(f)]
                if m
            }
        )
        if len(landed) != 1:
            raise StreamlabError(
                f"the file source log entry {entry} read landed batches {landed}: "
                "the model reads one per batch"
            )
        entries.append(landed[0])
    kept = [b for b in planned_batches(ckpt) if b <= last]
    reached: dict[int, int] = {}
    watermarks: dict[int, int] = {}
    for b in kept:
        reached[b] = source_log_offset(ckpt, b)
        watermarks[b] = read_offsets(ckpt, b).watermark_ms
    has_data: dict[int, bool] = {}
    log = progress_log(paths)
    query_id = _query_id(ckpt)
    mine = [r for r in read_progress(log) if r.get("id") == query_id] if log.is_file() else []
    records = latest_by_batch(mine).get(spec.name, {})
    for b in range(last + 1):
        if b in reached or b not in records:
            continue
        record = records[b]
        moment = parse_watermark(record.get("watermark"))
        if moment is not None:
            watermarks[b] = int(moment.timestamp() * 1000)
        has_data[b] = int(record.get("input_rows") or 0) > 0
    return _SparkPlan(last, entries, reached, watermarks, has_data, len(has_data))


def _query_id(ckpt: Path) -> str | None:
    """Return the query id Spark recorded in the checkpoint (a reset query gets a new one)."""
    import json

    try:
        data = json.loads((ckpt / "metadata").read_text())
    except (OSError, ValueError):
        return None
    return str(data["id"]) if isinstance(data, dict) and "id" in data else None


def _model_run(
    paths: LabPaths, spec: QuerySpec, ckpt: Path, overrides: dict[str, int]
) -> _Modelled:
    plan = _spark_plan(paths, spec, ckpt)
    committed = list(range(plan.last + 1))
    recorded = PipelineConfig.from_dict({**_recorded(ckpt), **overrides})
    settings = spec.recorded(recorded)
    processed = sorted(set(plan.entries))
    if plan.entries != list(range(len(processed))) or processed != list(range(len(processed))):
        raise StreamlabError(
            f"Spark read landed batches {plan.entries}, not 0..{len(plan.entries) - 1}"
        )
    quarantine = QuarantineConfig(recorded.max_skew_ms)
    rows = _first_batches(load_source(paths, "events", quarantine), len(processed))
    pipeline = "windowed_agg" if spec.name == TUMBLING else "dedup"
    base = ModelConfig.from_settings(recorded, pipeline)
    result, note, plan_ok, comparable = _fit_trigger(
        plan, lambda cfg: simulate({"events": rows}, cfg), base
    )
    summary = {
        "settings": settings,
        "trigger": result.config.trigger.value,
        "landed_batches": len(processed),
        "spark_batches": len(committed),
        "plan": note,
    }
    return _Modelled(spec, ckpt, committed, result, note, plan_ok, summary, comparable)


def _fit_trigger(
    plan: _SparkPlan, run: Callable[[ModelConfig], Result], base: ModelConfig
) -> tuple[Result, str, bool, bool]:
    """Run the model with the trigger whose batches and watermarks are the ones Spark ran.

    Returns the result, a note on how it was chosen, whether every known watermark agrees,
    and whether the plan matched at all (``False``: the lab ran in several runs).
    """
    known = sorted(plan.watermarks)
    chosen: tuple[Result, str, bool] | None = None
    for trigger in (Trigger.AVAILABLE_NOW, Trigger.PROCESSING_TIME):
        result = run(replace(base, trigger=trigger))
        if not plan.matches([b.data_batch for b in result.batches]):
            continue
        model_wm = {b: result.batches[b].eviction_watermark for b in known}
        first = next((b for b in known if model_wm[b] != plan.watermarks[b]), None)
        if first is None:
            note = f"trigger {trigger.value}, read from the checkpoint's batches"
            if plan.from_progress:
                note += f" ({plan.from_progress} of them from the progress log)"
            return result, note, True, True
        note = (
            f"batch {first} ran with watermark {_hm(plan.watermarks[first], True)}, "
            f"model {_hm(model_wm[first], True)}"
        )
        chosen = chosen or (result, note, False)
    if chosen is not None:
        return (*chosen, True)
    note = (
        f"Spark's batches (no-data batches {plan.no_data()}) match no trigger the model "
        "plans: the lab ran in several runs with batches landed in between"
    )
    return run(base), note, False, False


def _first_batches(rows: Rows, n: int) -> Rows:
    """Return the rows of data batches ``0..n-1``, as if only those had landed."""
    keep = rows.batch < n
    return Rows(
        rows.batch[keep], rows.time_ms[keep], rows.valid[keep], rows.key[keep], rows.group[keep], n
    )


def _hm(ms: int, full: bool = False) -> str:
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if full else "%H:%M")


def _unmodelled(m: _Modelled | str | None, what: str) -> Comparison | None:
    if m is None:
        return _not_run(what)
    if isinstance(m, str):
        return _failed(m)
    if not m.comparable:
        return Comparison(None, None, True, f"not compared: {m.plan_note}", ran=True)
    return None


def _plan_detail(m: _Modelled) -> str:
    return "" if m.plan_ok else f" ({m.plan_note})"


# -- the comparisons ----------------------------------------------------------------------------


def _read(spark: SparkSession, folder: Path, schema: str, columns: list[Any]) -> list[Any]:
    if not folder.is_dir():
        return []
    return spark.read.schema(schema).parquet(str(folder)).select(*columns).collect()


def _windows(spark: SparkSession, paths: LabPaths, m: _Modelled | str | None) -> Comparison:
    from pyspark.sql import functions as F

    early = _unmodelled(m, "windowed_agg")
    if early is not None or not isinstance(m, _Modelled):
        return early or _failed("no model")
    agg = m.result.aggregate
    assert agg is not None
    last = m.committed[-1]
    model: dict[tuple[int, int, str], list[int]] = {}
    for w in agg.windows:
        if w.emitted_batch is not None and w.emitted_batch <= last:
            model.setdefault((w.start, w.end, w.group), []).append(w.count)
    rows = _read(
        spark,
        table_ref(paths, "streaming_gold.events_tumbling").path,
        "window_start TIMESTAMP, window_end TIMESTAMP, event_type STRING, event_count BIGINT",
        [F.unix_millis("window_start"), F.unix_millis("window_end"), "event_type", "event_count"],
    )
    found: dict[tuple[int, int, str], list[int]] = {}
    for r in rows:
        found.setdefault((int(r[0]), int(r[1]), str(r[2])), []).append(int(r[3]))
    spark_n, model_n = len(rows), sum(len(v) for v in model.values())
    for counts in (*found.values(), *model.values()):
        counts.sort()
    diff = first_difference(found, model)
    ok = diff is None and m.plan_ok
    detail = f"{spark_n} windows emitted by Spark, {model_n} expected by the model"
    if diff is not None:
        start, end, group = diff
        detail += "; first difference: " + side_by_side(
            f"window {_hm(start)}-{_hm(end)} {group}",
            _counts(found.get(diff)),
            _counts(model.get(diff)),
        )
    return Comparison(spark_n, model_n, ok, detail + _plan_detail(m))


def _counts(values: list[int] | None) -> str:
    if not values:
        return "not emitted"
    return " and ".join(str(v) for v in values) + (" (emitted twice)" if len(values) > 1 else "")


def _late(spark: SparkSession, paths: LabPaths, m: _Modelled | str | None) -> Comparison:
    early = _unmodelled(m, "windowed_agg")
    if early is not None or not isinstance(m, _Modelled):
        return early or _failed("no model")
    captured = captured_batches(paths.checkpoint("late_data"))
    if not captured:
        return _not_run("late_data")
    result = m.result
    rows = result.inputs["events"]
    spark_batch = {b.data_batch: b.batch for b in result.batches if b.data_batch is not None}
    late_rows = np.flatnonzero(mask(result.fates, Fate.LATE, Fate.DROPPED_LATE))
    model_ids = Counter(
        str(rows.key[i]) for i in late_rows.tolist() if spark_batch[int(rows.batch[i])] in captured
    )
    table = _read(spark, table_ref(paths, LATE_TABLE).path, "event_id STRING", ["event_id"])
    spark_ids = Counter(str(r[0]) for r in table)
    return _multiset(
        spark_ids,
        model_ids,
        f"late events in {LATE_TABLE}",
        "dropped as late by the model",
        m,
    )


def _multiset(
    spark_ids: Counter[str],
    model_ids: Counter[str],
    spark_what: str,
    model_what: str,
    m: _Modelled,
    item: str = "event",
) -> Comparison:
    spark_n, model_n = sum(spark_ids.values()), sum(model_ids.values())
    diff = first_difference(spark_ids, model_ids, order=str)
    detail = f"{spark_n} {spark_what}, {model_n} {model_what}"
    if diff is not None:
        detail += "; first difference: " + side_by_side(
            f"{item} {diff}", spark_ids[diff], model_ids[diff]
        )
    return Comparison(spark_n, model_n, diff is None and m.plan_ok, detail + _plan_detail(m))


def _duplicates(spark: SparkSession, paths: LabPaths, m: _Modelled | str | None) -> Comparison:
    early = _unmodelled(m, DEDUP)
    if early is not None or not isinstance(m, _Modelled):
        return early or _failed("no model")
    outcome = m.result.dedup
    assert outcome is not None
    keys = m.result.inputs["events"].key
    model_kept = Counter(str(k) for k in keys[outcome.outcome == D.KEPT].tolist())
    model_dups = int((outcome.outcome == D.DUPLICATE).sum())
    table = _read(
        spark,
        table_ref(paths, "streaming_silver.events_dedup").path,
        "event_id STRING",
        ["event_id"],
    )
    spark_kept = Counter(str(r[0]) for r in table)
    spark_dups = _spark_duplicates(paths, m)
    diff = first_difference(spark_kept, model_kept, order=str)
    parts = [
        f"{'?' if spark_dups is None else spark_dups} duplicates removed by Spark "
        f"(numDroppedDuplicateRows), {model_dups} by the model",
        f"{sum(spark_kept.values())} rows kept by Spark, {sum(model_kept.values())} by the model",
    ]
    if spark_dups is None:
        parts.append("the progress log misses some of the query's batches")
    if diff is not None:
        parts.append(
            f"first difference: event {diff} kept by Spark {spark_kept[diff]}, "
            f"by the model {model_kept[diff]}"
        )
    elif spark_dups is not None and spark_dups != model_dups:
        parts.append(f"Spark removed {spark_dups} duplicates, the model {model_dups}")
    ok = diff is None and (spark_dups is None or spark_dups == model_dups) and m.plan_ok
    return Comparison(spark_dups, model_dups, ok, "; ".join(parts) + _plan_detail(m))


def _spark_duplicates(paths: LabPaths, m: _Modelled) -> int | None:
    """Return the duplicates Spark's dedup operator dropped over every committed batch."""
    log = progress_log(paths)
    if not log.is_file():
        return None
    records = latest_by_batch(list(read_progress(log))).get(m.spec.name, {})
    if any(b not in records for b in m.committed):
        return None
    return sum(
        int(op.get("dropped_duplicates") or 0)
        for b in m.committed
        for op in records[b]["state_operators"]
    )


# -- the join queries ---------------------------------------------------------------------------


def _model_join_query(
    paths: LabPaths, spec: QuerySpec, overrides: dict[str, int]
) -> _Modelled | str | None:
    """Run the model of a ``stream_join`` query as Spark ran it (see :func:`_model_query`)."""
    ckpt = spec.checkpoint(paths)
    if not has_run(ckpt):
        return None
    try:
        return _model_join_run(paths, spec, ckpt, overrides)
    except (StreamlabError, OSError, ValueError, KeyError) as exc:
        return f"cannot model {spec.name}: {exc}"


def _model_join_run(
    paths: LabPaths, spec: QuerySpec, ckpt: Path, overrides: dict[str, int]
) -> _Modelled:
    # Impressions and clicks land together, one landed batch each per micro-batch: the plan of
    # the first source (its file source log, kept offsets and progress) is the query's plan.
    plan = _spark_plan(paths, spec, ckpt)
    committed = list(range(plan.last + 1))
    recorded = PipelineConfig.from_dict({**_recorded(ckpt), **overrides})
    processed = sorted(set(plan.entries))
    if plan.entries != list(range(len(processed))):
        raise StreamlabError(
            f"Spark read landed batches {plan.entries}, not 0..{len(plan.entries) - 1}"
        )
    quarantine = QuarantineConfig(recorded.max_skew_ms)
    inputs = {
        name: _first_batches(load_source(paths, name, quarantine), len(processed))
        for name in ("impressions", "clicks")
    }
    base = ModelConfig.from_settings(recorded, "stream_join", outer=spec.name == CTR)
    result, note, plan_ok, comparable = _fit_trigger(plan, lambda cfg: simulate(inputs, cfg), base)
    summary = {
        "settings": spec.recorded(recorded),
        "trigger": result.config.trigger.value,
        "landed_batches": len(processed),
        "spark_batches": len(committed),
        "plan": note,
    }
    return _Modelled(spec, ckpt, committed, result, note, plan_ok, summary, comparable)


def _join_pairs(spark: SparkSession, paths: LabPaths, m: _Modelled | str | None) -> Comparison:
    early = _unmodelled(m, CLICKS)
    if early is not None or not isinstance(m, _Modelled):
        return early or _failed("no model")
    jo = m.result.join
    assert jo is not None
    imps, clicks = m.result.inputs["impressions"], m.result.inputs["clicks"]
    last = m.committed[-1]
    model = Counter(f"{imps.key[i]}/{clicks.group[j]}" for i, j, b in jo.pairs if b <= last)
    table = _read(
        spark,
        table_ref(paths, "streaming_silver.ad_clicks").path,
        "impression_id STRING, click_id STRING",
        ["impression_id", "click_id"],
    )
    found = Counter(f"{r[0]}/{r[1]}" for r in table)
    return _multiset(
        found,
        model,
        "joined clicks in streaming_silver.ad_clicks",
        "by the model",
        m,
        "impression/click",
    )


def _ctr_windows(spark: SparkSession, paths: LabPaths, m: _Modelled | str | None) -> Comparison:
    from pyspark.sql import functions as F

    early = _unmodelled(m, CTR)
    if early is not None or not isinstance(m, _Modelled):
        return early or _failed("no model")
    chain = m.result.ctr
    if chain is None:
        return _failed(f"cannot model {CTR}: the model ran without its aggregation")
    last = m.committed[-1]
    Key = tuple[int, int, str]
    model: dict[Key, list[tuple[int, int, int]]] = {}
    for w in chain.windows:
        if w.emitted_batch is not None and w.emitted_batch <= last:
            values = (w.impressions, w.clicked_impressions, w.clicks)
            model.setdefault((w.window_start, w.window_end, str(w.ad_id)), []).append(values)
    rows = _read(
        spark,
        table_ref(paths, "streaming_gold.ad_ctr").path,
        "window_start TIMESTAMP, window_end TIMESTAMP, ad_id STRING, impressions INT, "
        "clicked_impressions INT, clicks BIGINT",
        [
            F.unix_millis("window_start"),
            F.unix_millis("window_end"),
            "ad_id",
            "impressions",
            "clicked_impressions",
            "clicks",
        ],
    )
    found: dict[Key, list[tuple[int, int, int]]] = {}
    for r in rows:
        found.setdefault((int(r[0]), int(r[1]), str(r[2])), []).append(
            (int(r[3]), int(r[4]), int(r[5]))
        )
    for counts in (*found.values(), *model.values()):
        counts.sort()
    spark_n, model_n = len(rows), sum(len(v) for v in model.values())
    diff = first_difference(found, model)
    detail = f"{spark_n} CTR windows written by Spark, {model_n} expected by the model"
    if diff is not None:
        start, end, ad = diff
        detail += "; first difference: " + side_by_side(
            f"window {_hm(start)}-{_hm(end)} {ad} (impressions, clicked, clicks)",
            _ctr_counts(found.get(diff)),
            _ctr_counts(model.get(diff)),
        )
    return Comparison(spark_n, model_n, diff is None and m.plan_ok, detail + _plan_detail(m))


def _ctr_counts(values: list[tuple[int, int, int]] | None) -> str:
    if not values:
        return "not written"
    return " and ".join(f"{a}/{b}/{c}" for a, b, c in values)

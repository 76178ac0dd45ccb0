"""The query handles a notebook's monitoring code reads, and runs that must end on time."""

from __future__ import annotations

import json
from pathlib import Path

from pyspark.sql import SparkSession

from streamlab.notebook import run_notebook

MONITOR = """\
# Databricks notebook source
import json, time
from pyspark.sql.functions import col, count, to_timestamp, window

events = (
    spark.readStream.schema("id string, t string").json("{base}/in/")
    .withColumn("t", to_timestamp(col("t")))
    .withWatermark("t", "1 minute")
    .groupBy(window("t", "1 minute")).agg(count("*").alias("n"))
)
q = (
    events.writeStream.format("memory").queryName("monitored").outputMode("update")
    .option("checkpointLocation", "{base}/ck").start()
)

# COMMAND ----------

# As the guide's monitor_watermark and the courses poll: sleep, then read lastProgress.
while q.lastProgress is None or q.lastProgress["numInputRows"] == 0:
    time.sleep(0.2)
p = q.lastProgress
report = {{
    "active": [s.name for s in spark.streams.active],
    "name": q.name,
    "id": str(q.id),
    "same_id": str(spark.streams.get(q.id).id),
    "message": q.status["message"],
    "status_keys": sorted(q.status),
    "progress_is_dict": isinstance(p, dict),
    "rows": p["numInputRows"],
    "watermark": p["eventTime"].get("watermark"),
    "state": [op["numRowsTotal"] for op in p["stateOperators"]],
    "recent": len(q.recentProgress),
    "waited": q.awaitTermination(1),
}}
print("REPORT " + json.dumps(report))

# COMMAND ----------

q.stop()
print("AFTER " + json.dumps({{"active": q.isActive, "ended": q.awaitTermination(5)}}))
"""


def test_query_handles_read_as_monitoring_code_reads_them(
    spark: SparkSession, tmp_path: Path
) -> None:
    base = tmp_path / "m"
    (base / "in").mkdir(parents=True)
    lines = [{"id": str(i), "t": f"2026-01-01 09:0{i}:00"} for i in range(5)]
    (base / "in" / "a.json").write_text("".join(json.dumps(r) + "\n" for r in lines))
    path = tmp_path / "monitor.py"
    path.write_text(MONITOR.format(base=base))
    result = run_notebook(path, spark, tmp_path / "lab", capture=True, timeout=600)
    assert result.status == "ok", result.to_dict()["error"]
    out = "".join(c.output or "" for c in result.cells)
    report = json.loads(out.split("REPORT ")[1].splitlines()[0])
    assert "monitored" in report["active"]
    assert report["name"] == "monitored" and report["same_id"] == report["id"]
    assert report["status_keys"] == ["isDataAvailable", "isTriggerActive", "message"]
    assert isinstance(report["message"], str) and report["message"]
    assert report["progress_is_dict"] is True
    assert report["rows"] == 5
    assert report["watermark"] is not None  # the first batch's watermark (1970 before data)
    assert len(report["state"]) == 1
    assert report["recent"] >= 1
    assert report["waited"] is False  # still running after one second
    after = json.loads(out.split("AFTER ")[1].splitlines()[0])
    assert after == {"active": False, "ended": True}
    summary = next(q for q in result.queries if q.name == "monitored")
    assert summary.rows == 5
    assert summary.line().startswith("monitored: ")
    assert summary.started_at == "cell 1 (line 13 of monitor.py)"  # the line of start()


def test_timeout_ends_a_run_that_would_not(spark: SparkSession, tmp_path: Path) -> None:
    path = tmp_path / "slow.py"
    path.write_text(
        "# Databricks notebook source\nimport time\n\n# COMMAND ----------\n\ntime.sleep(120)\n"
    )
    result = run_notebook(path, spark, tmp_path / "lab", timeout=2)
    failure = result.failure
    assert failure is not None
    assert failure.number == 2
    assert failure.error.startswith("the run went past --timeout 2 s: ")
    assert result.seconds < 60


class _Handle:
    def __init__(self) -> None:
        self.shown: list[str] = []

    def update(self, value: object) -> None:
        self.shown.append(value._repr_html_())  # type: ignore[attr-defined]


class _Query:
    name = "display_query_9"
    isActive = True

    def __init__(self) -> None:
        self.lastProgress: dict[str, object] | None = {"batchId": 0}


def test_display_of_a_stream_updates_one_html_table_in_jupyter(spark: SparkSession) -> None:
    from streamlab.notebook.display import Display, StreamDisplay

    spark.createDataFrame([("click", 3)], "event_type string, count long").createOrReplaceTempView(
        "display_query_9"
    )
    handle, query = _Handle(), _Query()
    shown = StreamDisplay(spark, query, "display_query_9", "complete", Display(), handle=handle)  # type: ignore[arg-type]
    shown.refresh()
    shown.refresh()  # no new batch: nothing to redraw
    assert len(handle.shown) == 1
    assert "<th>event_type</th>" in handle.shown[0] and "<td>click</td>" in handle.shown[0]
    assert "after batch 0" in handle.shown[0]
    spark.createDataFrame(
        [("click", 3), ("view", 1)], "event_type string, count long"
    ).createOrReplaceTempView("display_query_9")
    query.lastProgress = {"batchId": 1}
    shown.close()  # the run stops it: a last, final table, and no more refreshing
    assert len(handle.shown) >= 2
    assert "final, complete mode, after batch 1" in handle.shown[-1]
    assert "<td>view</td>" in handle.shown[-1]
    spark.catalog.dropTempView("display_query_9")


def test_cli_timeout_exits_1_with_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from streamlab.cli import app

    path = tmp_path / "slow.py"
    path.write_text("import time\ntime.sleep(120)\n")
    args = ["notebook", "run", str(path), "--root", str(tmp_path / "lab"), "--timeout", "2"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 1
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("✗ slow.py: cell 1 (line 1 of slow.py): the run went past --timeout 2 s")

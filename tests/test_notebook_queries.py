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

"""Auto Loader in a notebook run: infer once, keep the schema, reuse it, rescue the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from streamlab.errors import StreamlabError
from streamlab.notebook import run_notebook
from streamlab.notebook.autoloader import SCHEMA_FILE, apply_hints, parse_options
from streamlab.notebook.delta import as_parquet_sql, delta_only_statement

LOADER = """\
# Databricks notebook source
orders = (
    spark.readStream.format("cloudFiles")
    .option("cloudFiles.format", "json")
    .option("cloudFiles.schemaLocation", "{base}/schema")
    .option("cloudFiles.inferColumnTypes", "true")
    .option("cloudFiles.schemaHints", "amount double")
    .load("{base}/landing/")
)

# COMMAND ----------

(
    orders.writeStream.format("delta")
    .option("checkpointLocation", "{base}/checkpoint")
    .trigger(availableNow=True)
    .toTable("loaded_orders")
    .awaitTermination()
)
"""


def _land(folder: Path, name: str, records: list[dict[str, object]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in records))


def test_auto_loader_infers_stores_reuses_and_rescues(spark: SparkSession, tmp_path: Path) -> None:
    base = tmp_path / "al"
    landing = base / "landing"
    _land(
        landing / "day=1",
        "a.json",
        [{"id": 1, "amount": 2, "who": "x"}, {"id": 2, "amount": 3.5, "who": "y"}],
    )
    path = tmp_path / "loader.py"
    path.write_text(LOADER.format(base=base))
    spark.sql("DROP TABLE IF EXISTS loaded_orders")

    first = run_notebook(path, spark, tmp_path / "lab", capture=True)
    assert first.status == "ok", first.to_dict()["error"]
    stored = json.loads((base / "schema" / SCHEMA_FILE).read_text())
    types = {f["name"]: f["type"] for f in stored["schema"]["fields"]}
    assert types == {
        "amount": "double",
        "id": "long",
        "who": "string",
    }  # the hint made amount double
    assert any("Auto Loader inferred" in n for n in first.notices)
    rows = {r["id"]: r for r in spark.table("loaded_orders").collect()}
    assert sorted(rows) == [1, 2]
    assert rows[1]["amount"] == 2.0 and rows[2]["who"] == "y"
    assert all(r["_rescued_data"] is None for r in rows.values())

    # A new file: an unknown field, and a value that does not fit its column's type.
    _land(
        landing / "day=2",
        "b.json",
        [
            {"id": 3, "amount": 1, "who": "z", "coupon": "SAVE5"},
            {"id": "four", "amount": 4, "who": "w"},
        ],
    )
    second = run_notebook(path, spark, tmp_path / "lab", capture=True)
    assert second.status == "ok", second.to_dict()["error"]
    assert not any("Auto Loader inferred" in n for n in second.notices)  # the stored schema
    assert json.loads((base / "schema" / SCHEMA_FILE).read_text()) == stored
    table = spark.table("loaded_orders")
    assert "coupon" not in table.columns
    rows_after = table.collect()
    assert len(rows_after) == 4  # the restart read only the new file
    rescued = {r["who"]: r["_rescued_data"] for r in rows_after}
    coupon = json.loads(rescued["z"])
    assert coupon["coupon"] == "SAVE5" and coupon["_file_path"].endswith("day=2/b.json")
    assert json.loads(rescued["w"])["id"] == "four"
    assert next(r for r in rows_after if r["who"] == "w")["id"] is None
    spark.sql("DROP TABLE IF EXISTS loaded_orders")


def test_auto_loader_refuses_what_it_cannot_run_in_one_line() -> None:
    with pytest.raises(StreamlabError) as refused:
        parse_options(
            {
                "cloudFiles.format": "json",
                "cloudFiles.useNotifications": "true",
                "cloudFiles.backfillInterval": "1 day",
            }
        )
    message = str(refused.value)
    assert "\n" not in message
    assert "cloudFiles.backfillInterval, cloudFiles.useNotifications is not supported" in message
    with pytest.raises(StreamlabError, match="schemaEvolutionMode=addNewColumns"):
        parse_options(
            {"cloudFiles.format": "json", "cloudFiles.schemaEvolutionMode": "addNewColumns"}
        )
    with pytest.raises(StreamlabError, match=r"cloudFiles\.format 'xml' cannot run here"):
        parse_options({"cloudFiles.format": "xml"})
    opts = parse_options(
        {"cloudFiles.format": "CSV", "header": "true", "cloudFiles.schemaEvolutionMode": "none"}
    )
    assert (opts.format, opts.rescued_column, dict(opts.reader)) == (
        "csv",
        None,
        {"header": "true"},
    )


def test_schema_hints_set_and_add_types(spark: SparkSession) -> None:
    from pyspark.sql.types import StringType, StructField, StructType

    schema = StructType([StructField("a", StringType()), StructField("b", StringType())])
    hinted = apply_hints(schema, "b double, c date")
    assert hinted.simpleString() == "struct<a:string,b:double,c:date>"
    with pytest.raises(StreamlabError, match="is not a column list"):
        apply_hints(schema, "b double double (")


@pytest.mark.parametrize(
    ("statement", "feature"),
    [
        ("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", "MERGE INTO"),
        ("optimize streaming_gold.windowed_metrics", "OPTIMIZE"),
        ("SELECT * FROM t VERSION AS OF 3", "time travel (AS OF)"),
        ("SELECT * FROM table_changes('t', 2)", "change data feed (table_changes)"),
        ("DESCRIBE HISTORY t", "DESCRIBE HISTORY"),
        ("SHOW TABLES IN streaming_gold", None),
        ("SELECT 'merge into' AS x", None),
    ],
)
def test_delta_only_statements(statement: str, feature: str | None) -> None:
    assert delta_only_statement(statement) == feature


def test_using_delta_creates_parquet() -> None:
    assert (
        as_parquet_sql("CREATE TABLE t (a INT) USING DELTA")
        == "CREATE TABLE t (a INT) USING PARQUET"
    )

"""The lab session's settings and the warehouse-backed catalog."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pyspark.sql import SparkSession
from pyspark.sql.types import LongType, StructField, StructType

from streamlab.lab.catalog import DATABASES, attach_catalog, register_table
from streamlab.lab.paths import LabPaths
from streamlab.raw.generator import GeneratorConfig
from streamlab.raw.provision import setup_lab
from streamlab.spark.session import lab_session
from streamlab.spark.settings import ROCKSDB_PROVIDER
from tests.support.lab import BASE_TIME

SCHEMA = StructType([StructField("n", LongType())])


def test_session_is_tuned_for_a_small_machine(spark: SparkSession) -> None:
    conf = spark.conf
    assert conf.get("spark.sql.session.timeZone") == "UTC"
    assert int(conf.get("spark.sql.shuffle.partitions") or 0) <= 4
    assert conf.get("spark.sql.streaming.stateStore.providerClass") == ROCKSDB_PROVIDER
    assert (
        conf.get("spark.sql.streaming.stateStore.rocksdb.changelogCheckpointing.enabled") == "true"
    )
    assert spark.sparkContext.getConf().get("spark.ui.showConsoleProgress") == "false"
    assert lab_session() is spark  # the active session is reused


def test_databases_and_tables_survive_and_follow_the_root(spark: SparkSession, tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = LabPaths.resolve(tmp_path / "a")
    setup_lab(first, GeneratorConfig(base_time=BASE_TIME, batches=1))
    ref = register_table(spark, first, "streaming_gold.numbers", SCHEMA)
    spark.range(3).write.mode("append").parquet(str(ref.path))
    lab_session(first.root)
    assert {d.name for d in spark.catalog.listDatabases()} >= set(DATABASES)
    assert spark.table("streaming_gold.numbers").count() == 3

    other = LabPaths.resolve(tmp_path / "b")
    setup_lab(other, GeneratorConfig(base_time=BASE_TIME, batches=1))
    attach_catalog(spark, other)
    assert not spark.catalog.tableExists("streaming_gold.numbers")
    attach_catalog(spark, first)  # back again: the table is found in the warehouse
    assert spark.table("streaming_gold.numbers").count() == 3
    assert ref.path.is_dir(), "re-pointing the catalog never deletes a table's files"


@pytest.mark.slow
def test_another_process_reads_the_tables_while_this_one_holds_them(
    spark: SparkSession, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    lab = LabPaths.resolve(tmp_path / "shared")
    setup_lab(lab, GeneratorConfig(base_time=BASE_TIME, batches=1))
    ref = register_table(spark, lab, "streaming_silver.numbers", SCHEMA)
    spark.range(5).write.mode("append").parquet(str(ref.path))
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "streamlab",
            "sql",
            "SELECT count(*) AS n FROM streaming_silver.numbers",
            "--root",
            str(lab.root),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert '"n": 5' in out.stdout

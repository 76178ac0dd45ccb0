"""Shared fixtures: one Spark session for the whole run, a fresh lab root per test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from streamlab.lab.paths import LabPaths
from streamlab.raw.generator import GeneratorConfig
from streamlab.raw.provision import setup_lab
from streamlab.spark.session import lab_session
from tests.support.lab import BASE_TIME, GuideRun, run_guide_lab


@pytest.fixture(autouse=True)
def _isolated_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Never touch /tmp/streaming: every test's default lab root is its own."""
    monkeypatch.setenv("STREAMLAB_ROOT", str(tmp_path / "default-root"))
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    monkeypatch.delenv("STREAMLAB_MASTER", raising=False)


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkSession]:
    """The one Spark session of the test run: local, 2 shuffle partitions, UTC."""
    session = lab_session(
        tmp_path_factory.mktemp("spark-root"),
        config={"spark.sql.shuffle.partitions": "2"},
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def guide_run(spark: SparkSession, tmp_path_factory: pytest.TempPathFactory) -> GuideRun:
    """The guide's lab, set up and run once for the whole test run; tests only read it.

    A test that needs to change a lab copies nothing from here: it sets up its own.
    """
    return run_guide_lab(spark, tmp_path_factory.mktemp("guide-run") / "lab")


@pytest.fixture(scope="session")
def streamlab_spark(spark: SparkSession) -> SparkSession:
    """The stream-test plugin's session is the test run's one session."""
    return spark


@pytest.fixture
def lab(tmp_path: Path) -> LabPaths:
    """An empty lab root of the test's own."""
    return LabPaths.resolve(tmp_path / "lab")


@pytest.fixture
def guide_lab(lab: LabPaths) -> LabPaths:
    """A lab set up with the guide's sizes and a fixed base time."""
    setup_lab(lab, GeneratorConfig(base_time=BASE_TIME))
    return lab


@pytest.fixture
def sql_conf(spark: SparkSession) -> object:
    """Set Spark SQL settings for one block and restore the old values after it."""

    @contextmanager
    def apply(settings: dict[str, str]) -> Iterator[None]:
        old = {k: spark.conf.get(k, None) for k in settings}
        for k, v in settings.items():
            spark.conf.set(k, v)
        try:
            yield
        finally:
            for k, v in old.items():
                if v is None:
                    spark.conf.unset(k)
                else:
                    spark.conf.set(k, v)

    return apply

"""The pytest plugin: ``stream_test`` and ``streamlab_spark`` fixtures, two options.

Registered through the ``pytest11`` entry point, so ``pip install streamlab`` is enough:

* ``streamlab_spark``: a session-scoped, tuned local Spark session (2 shuffle partitions, UTC,
  UI off); it reuses the active session when there is one, and connects to
  ``--streamlab-remote sc://HOST:PORT`` when given;
* ``stream_test(query, *, schema=... | inputs=..., output_mode=..., expect_model=...)``: a
  :class:`streamlab.testing.StreamTest` working under the test's own ``tmp_path``;
* ``--streamlab-keep``: keep the inputs, checkpoint and output of failed tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from streamlab.testing.harness import StreamTest

_SESSION_CONFIG = {"spark.sql.shuffle.partitions": "2"}


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add ``--streamlab-keep`` and ``--streamlab-remote``."""
    group = parser.getgroup("streamlab", "streamlab stream tests")
    group.addoption(
        "--streamlab-keep",
        action="store_true",
        default=False,
        help="keep the inputs, checkpoint and output of failed stream tests",
    )
    group.addoption(
        "--streamlab-remote",
        default=None,
        metavar="sc://HOST:PORT",
        help="run stream tests over Spark Connect at this URL",
    )


@pytest.fixture(scope="session")
def streamlab_spark(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SparkSession]:
    """Yield a tuned local Spark session for the run, the active one, or Spark Connect."""
    from pyspark.sql import SparkSession

    from streamlab.spark.session import lab_session

    remote = request.config.getoption("--streamlab-remote")
    active = SparkSession.getActiveSession()
    if active is not None and remote is None:
        yield active  # the user's own session (or another fixture's): never stopped here
        return
    spark = lab_session(
        tmp_path_factory.mktemp("streamlab-spark"),
        remote=remote,
        config=_SESSION_CONFIG,
        attach=False,
    )
    yield spark
    if remote is None:
        spark.stop()


@pytest.fixture
def stream_test(
    request: pytest.FixtureRequest, streamlab_spark: SparkSession, tmp_path: Path
) -> Callable[..., StreamTest]:
    """Return ``make(query, **options)``: a stream test of ``query`` on the shared session."""
    from streamlab.testing.harness import StreamTest

    keep = bool(request.config.getoption("--streamlab-keep"))
    counter = iter(range(1_000_000))

    def make(query: Callable[..., Any], **options: Any) -> StreamTest:
        options.setdefault("keep", keep)
        options.setdefault("workdir", tmp_path / f"stream-{next(counter)}")
        return StreamTest(streamlab_spark, query, **options)

    return make

"""Test your own streaming query against late, duplicated, out-of-order data, on real Spark.

>>> from streamlab.testing import StreamTest, AddData, CheckNewAnswer, ModelAnswer
>>> StreamTest(spark, counts, schema="event_time timestamp").run(  # doctest: +SKIP
...     AddData([("2026-01-01 00:00:10",)]),
...     CheckNewAnswer(ModelAnswer()),
... )

The pytest plugin (registered as ``streamlab``) provides the ``stream_test`` fixture, which
builds a :class:`StreamTest` on a shared local session. See ``docs/testing.md``.
"""

from __future__ import annotations

from streamlab.testing.harness import StreamRun, StreamTest, StreamTestFailure
from streamlab.testing.oracle import NotModelled
from streamlab.testing.steps import (
    AddData,
    CheckAnswer,
    CheckLastBatch,
    CheckNewAnswer,
    CrashAndRestart,
    ExpectLate,
    ExpectStateRows,
    ExpectWatermark,
    ModelAnswer,
    StartStream,
    StopStream,
)

__all__ = [
    "AddData",
    "CheckAnswer",
    "CheckLastBatch",
    "CheckNewAnswer",
    "CrashAndRestart",
    "ExpectLate",
    "ExpectStateRows",
    "ExpectWatermark",
    "ModelAnswer",
    "NotModelled",
    "StartStream",
    "StopStream",
    "StreamRun",
    "StreamTest",
    "StreamTestFailure",
]

"""Spark's own tests of full outer and left semi stream-stream joins, ported to
streamlab.testing; each passes with the suite's explicit rows and with ModelAnswer().

Left semi joins hold fewer state rows in Spark 4.3 than the suite's older assertions say:
SPARK-55973 removes a left row from state as soon as a right row matches it. The rows are the
suite's; the state counts are Spark 4.3's, each next to the suite's in a comment.

The two runs of each case (explicit rows, the model's answer) run as concurrent queries.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from streamlab.testing import AddData, CheckAnswer, CheckNewAnswer, ExpectStateRows, ModelAnswer
from streamlab.testing.steps import Step

SIDES = {"left": "leftKey int, leftTime timestamp", "right": "rightKey int, rightTime timestamp"}


def as_model(steps: Sequence[Step]) -> list[Step]:
    out: list[Step] = []
    for s in steps:
        if isinstance(s, CheckNewAnswer | CheckAnswer):
            out.append(type(s)(ModelAnswer()))
        elif isinstance(s, ExpectStateRows):
            out.append(ExpectStateRows(ModelAnswer()))
        else:
            out.append(s)
    return out


def both(stream_test: Any, query: Callable[..., DataFrame], steps: list[Step]) -> None:
    runs = [stream_test(query, inputs=SIDES).run, stream_test(query, inputs=SIDES).run]
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(runs[0], *steps), pool.submit(runs[1], *as_model(steps))]
        for f in futures:
            f.result()


def range_join(how: str) -> Callable[[DataFrame, DataFrame], DataFrame]:
    """StreamingJoinSuite's ``setupJoinWithRangeCondition(how)``."""

    def query(left: DataFrame, right: DataFrame) -> DataFrame:
        df1 = left.withWatermark("leftTime", "10 seconds")
        df2 = right.withWatermark("rightTime", "10 seconds")
        condition = F.expr(
            "leftKey = rightKey AND "
            "leftTime BETWEEN rightTime - interval 5 seconds AND rightTime + interval 5 seconds"
        )
        joined = df1.join(df2, condition, how)
        if how == "left_semi":
            return joined.select("leftKey", F.col("leftTime").cast("int"))
        return joined.select(
            "leftKey", "rightKey", F.col("leftTime").cast("int"), F.col("rightTime").cast("int")
        )

    return query


# StreamingFullOuterJoinSuite (StreamingJoinSuite.scala):
# test("full outer join with watermark range condition")
def test_full_outer_join_with_watermark_range_condition(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([(1, 5), (3, 5)], to="left"),
        CheckNewAnswer([]),
        ExpectStateRows(2),
        AddData([(1, 10), (2, 5)], to="right"),
        CheckNewAnswer([(1, 1, 5, 10)]),  # match left row in the state
        ExpectStateRows(4),
        AddData([(1, 9)], to="right"),
        CheckNewAnswer([(1, 1, 5, 9)]),
        ExpectStateRows(5),
        # Increase event time watermark to 20s by adding data with time = 30s on both inputs.
        AddData([(1, 7), (1, 30)], to="left"),
        CheckNewAnswer([(1, 1, 7, 9), (1, 1, 7, 10)]),
        ExpectStateRows(7),
        # Watermark = 30 - 10 = 20: outer rows for every unmatched row of both sides.
        AddData([(0, 30)], to="right"),
        CheckNewAnswer([(3, None, 5, None), (None, 2, None, 5)]),
        ExpectStateRows(2),
    ]
    both(stream_test, range_join("full_outer"), steps)


# StreamingLeftSemiJoinSuite (StreamingJoinSuite.scala):
# test("left semi join with watermark range condition")
def test_left_semi_join_with_watermark_range_condition(stream_test: Any) -> None:
    steps: list[Step] = [
        AddData([(1, 5), (3, 5)], to="left"),
        CheckNewAnswer([]),
        ExpectStateRows(2),
        AddData([(1, 10), (2, 5)], to="right"),
        CheckNewAnswer([(1, 5)]),  # match left row in the state
        ExpectStateRows(3),  # suite: 4; Spark 4.3 removes the matched (1, 5) at once
        AddData([(1, 9)], to="right"),
        CheckNewAnswer([]),  # no match: the left row was matched already
        ExpectStateRows(4),  # suite: 5
        # Increase event time watermark to 20s by adding data with time = 30s on both inputs.
        AddData([(1, 7), (1, 30)], to="left"),
        CheckNewAnswer([(1, 7)]),
        ExpectStateRows(5),  # suite: 6; left (3, 5), (1, 30), right (1, 10), (2, 5), (1, 9)
        # Watermark = 30 - 10 = 20, no matched row.
        AddData([(0, 30)], to="right"),
        CheckNewAnswer([]),
        ExpectStateRows(2),  # left (1, 30), right (0, 30)
    ]
    both(stream_test, range_join("left_semi"), steps)

"""The schemas of the generated data sets, and how their time columns are written.

The guide streams JSON without a schema, which a streaming file source refuses; every
streamlab reader passes these.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

TIME_FORMAT = "yyyy-MM-dd HH:mm:ss"
"""How event_time, processing_time, impression_time and click_time are written (UTC)."""

EVENTS = StructType(
    [
        StructField("event_id", StringType()),
        StructField("user_id", StringType()),
        StructField("event_type", StringType()),
        StructField("value", DoubleType()),
        StructField("event_time", StringType()),
        StructField("processing_time", StringType()),
    ]
)
IMPRESSIONS = StructType(
    [
        StructField("impression_id", StringType()),
        StructField("ad_id", StringType()),
        StructField("user_id", StringType()),
        StructField("impression_time", StringType()),
    ]
)
CLICKS = StructType(
    [
        StructField("click_id", StringType()),
        StructField("impression_id", StringType()),
        StructField("click_time", StringType()),
    ]
)

SCHEMAS: dict[str, StructType] = {"events": EVENTS, "impressions": IMPRESSIONS, "clicks": CLICKS}
"""Schema of each generated source, by folder name."""

TIME_COLUMNS: dict[str, str] = {
    "events": "event_time",
    "impressions": "impression_time",
    "clicks": "click_time",
}
"""The event-time column of each source."""

KEYS: dict[str, str] = {"events": "event_id", "impressions": "impression_id", "clicks": "click_id"}
"""The identifying column of each source."""


def parse_time(column: str | Column) -> Column:
    """Parse a ``yyyy-MM-dd HH:mm:ss`` string to a timestamp; ``NULL`` when it does not parse.

    Spark 4 runs in ANSI mode, where ``to_timestamp`` on a bad string raises and kills the
    query; ``try_to_timestamp`` returns ``NULL`` instead, so the row can be set aside.
    """
    col = F.col(column) if isinstance(column, str) else column
    return F.try_to_timestamp(col, F.lit(TIME_FORMAT))

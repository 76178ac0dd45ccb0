"""The schemas of the generated data sets, and how their time columns are written.

The guide streams JSON without a schema, which a streaming file source refuses; every
streamlab reader passes these.
"""

from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F
from pyspark.sql.types import DoubleType, StringType, StructField, StructType

from streamlab.ingest.rules import FIELDS, TIME_COLUMNS, TIME_FORMAT

_TYPES = {"string": StringType(), "double": DoubleType()}

SCHEMAS: dict[str, StructType] = {
    source: StructType([StructField(name, _TYPES[kind]) for name, kind in fields])
    for source, fields in FIELDS.items()
}
"""Schema of each generated source, by folder name (see :data:`.rules.FIELDS`)."""
EVENTS, IMPRESSIONS, CLICKS = SCHEMAS["events"], SCHEMAS["impressions"], SCHEMAS["clicks"]

__all__ = [
    "CLICKS",
    "EVENTS",
    "IMPRESSIONS",
    "SCHEMAS",
    "TIME_COLUMNS",
    "TIME_FORMAT",
    "parse_time",
]


def parse_time(column: str | Column) -> Column:
    """Parse a ``yyyy-MM-dd HH:mm:ss`` string to a timestamp; ``NULL`` when it does not parse.

    Spark 4 runs in ANSI mode, where ``to_timestamp`` on a bad string raises and kills the
    query; ``try_to_timestamp`` returns ``NULL`` instead, so the row can be set aside.
    """
    col = F.col(column) if isinstance(column, str) else column
    return F.try_to_timestamp(col, F.lit(TIME_FORMAT))

"""Read the lab's events as a stream, with a schema, and parse their event time."""

from pyspark.sql import functions as F


def solve(spark, lab):
    return (
        spark.readStream.schema(lab.schema("events"))
        .option("maxFilesPerTrigger", 1)
        .json(lab.events)
        .select(
            "event_id",
            "event_type",
            "value",
            F.try_to_timestamp(F.col("event_time"), F.lit("yyyy-MM-dd HH:mm:ss")).alias(
                "event_time"
            ),
        )
    )

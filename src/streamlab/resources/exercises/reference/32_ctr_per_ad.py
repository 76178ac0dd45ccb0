"""Impressions, clicks and click-through rate per ad and 10-minute window of impression time."""

from pyspark.sql import functions as F


def solve(impressions, clicks):
    imps = impressions.withWatermark("impression_time", "10 minutes")
    cl = clicks.withWatermark("click_time", "10 minutes").withColumnRenamed(
        "impression_id", "click_impression_id"
    )
    joined = imps.join(
        cl,
        F.expr(
            "impression_id = click_impression_id AND click_time >= impression_time "
            "AND click_time <= impression_time + interval 10 minutes"
        ),
        "leftOuter",
    )
    return (
        joined.groupBy(F.window("impression_time", "10 minutes"), "ad_id")
        .agg(
            F.count("impression_id").alias("impressions"),
            F.count("click_id").alias("clicks"),
        )
        .withColumn("ctr", F.round(F.col("clicks") / F.col("impressions"), 4))
    )

"""How long after its impression did each click come? Seconds, per joined click."""

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
        "inner",
    )
    return joined.select(
        "ad_id",
        "click_id",
        (F.unix_timestamp("click_time") - F.unix_timestamp("impression_time")).alias(
            "delay_seconds"
        ),
    )

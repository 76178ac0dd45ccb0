"""Join each click to its impression: both watermarked, the click 0-10 minutes after it."""

from pyspark.sql import functions as F


def solve(impressions, clicks):
    imps = impressions.withWatermark("impression_time", "10 minutes")
    cl = clicks.withWatermark("click_time", "10 minutes").withColumnRenamed(
        "impression_id", "click_impression_id"
    )
    return imps.join(
        cl,
        F.expr(
            "impression_id = click_impression_id AND click_time >= impression_time "
            "AND click_time <= impression_time + interval 10 minutes"
        ),
        "inner",
    )

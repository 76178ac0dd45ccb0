"""Exercise 37 (fix-empty-join): a join that returns nothing.

The starter's join returns nothing: it matches a click's click_id with an impression's
impression_id, which never agree. Fix the condition so each click meets its impression, as
in exercise 28.

Return a streaming DataFrame like exercise 28's.

Check it with: streamlab exercises check 37
"""

from pyspark.sql import functions as F


def solve(impressions, clicks):
    imps = impressions.withWatermark("impression_time", "10 minutes")
    cl = clicks.withWatermark("click_time", "10 minutes").withColumnRenamed(
        "impression_id", "click_impression_id"
    )
    return imps.join(
        cl,
        F.expr(
            "impression_id = click_id AND click_time >= impression_time "
            "AND click_time <= impression_time + interval 10 minutes"
        ),
        "inner",
    )

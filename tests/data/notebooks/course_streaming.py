# Databricks notebook source
# MAGIC %md
# MAGIC # Event-time streams into bronze, silver and gold
# MAGIC Written the way the course writes it: folders read as they are, Delta tables, no triggers.

# COMMAND ----------

import time

from pyspark.sql.functions import approx_count_distinct, col, count, expr, to_timestamp, window
from pyspark.sql.functions import sum as sum_

CHECKPOINTS = "/tmp/streaming/checkpoints/course"

# COMMAND ----------

# MAGIC %sql
# MAGIC CREATE DATABASE IF NOT EXISTS streaming_bronze;
# MAGIC CREATE DATABASE IF NOT EXISTS streaming_silver;
# MAGIC CREATE DATABASE IF NOT EXISTS streaming_gold

# COMMAND ----------

# DBTITLE 1,Read the landed folders
events_raw = spark.readStream.format("json").load("/tmp/streaming/events/")
impressions_raw = spark.readStream.format("json").load("/tmp/streaming/impressions")
clicks_raw = spark.readStream.json("/tmp/streaming/clicks/")

# COMMAND ----------

# DBTITLE 1,Bronze: events as they landed
bronze = (
    events_raw.withColumn("event_time", to_timestamp(col("event_time")))
    .writeStream.format("delta")
    .option("checkpointLocation", f"{CHECKPOINTS}/bronze_events")
    .queryName("bronze_events")
    .toTable("streaming_bronze.events")
)

# COMMAND ----------

# DBTITLE 1,Silver: each event once
silver = (
    spark.readStream.table("streaming_bronze.events")
    .withWatermark("event_time", "10 minutes")
    .dropDuplicates(["event_id", "event_time"])
    .writeStream.format("delta")
    .option("checkpointLocation", f"{CHECKPOINTS}/silver_events")
    .queryName("silver_events")
    .toTable("streaming_silver.events")
)

# COMMAND ----------

# DBTITLE 1,Gold: 5-minute windows
windowed = (
    spark.readStream.table("streaming_silver.events")
    .withWatermark("event_time", "10 minutes")
    .groupBy(window("event_time", "5 minutes"), "event_type")
    .agg(
        count("*").alias("events"),
        sum_("value").alias("total_value"),
        approx_count_distinct("user_id").alias("users"),
    )
)
gold = (
    windowed.writeStream.format("delta")
    .outputMode("append")
    .option("checkpointLocation", f"{CHECKPOINTS}/gold_windowed")
    .queryName("gold_windowed")
    .toTable("streaming_gold.windowed_metrics")
)

# COMMAND ----------

# DBTITLE 1,Gold: clicks joined to their impressions
impressions = impressions_raw.withColumn(
    "impression_time", to_timestamp("impression_time")
).withWatermark("impression_time", "10 minutes")
clicks = (
    clicks_raw.withColumn("click_time", to_timestamp("click_time"))
    .withWatermark("click_time", "10 minutes")
    .withColumnRenamed("impression_id", "click_impression_id")
)
joined = impressions.join(
    clicks,
    expr(
        "click_impression_id = impression_id AND "
        "click_time BETWEEN impression_time AND impression_time + interval 10 minutes"
    ),
)
ad_clicks = (
    joined.writeStream.format("delta")
    .option("checkpointLocation", f"{CHECKPOINTS}/gold_ad_clicks")
    .queryName("gold_ad_clicks")
    .toTable("streaming_gold.ad_clicks")
)

# COMMAND ----------

# DBTITLE 1,Watch the stream
display(spark.readStream.table("streaming_silver.events").groupBy("event_type").count())

# COMMAND ----------

# DBTITLE 1,Monitor with lastProgress
seen = 0
for _ in range(240):
    progress = bronze.lastProgress
    if progress is not None and progress["numInputRows"] > 0:
        seen = progress["numInputRows"]
        break
    time.sleep(0.5)
print(f"bronze batch {progress['batchId']}: {seen} rows")
print("watermark:", (silver.lastProgress or {}).get("eventTime", {}).get("watermark"))
print("state:", [op["numRowsTotal"] for op in (silver.lastProgress or {}).get("stateOperators", [])])
print("active:", sorted(q.name for q in spark.streams.active))
print("status:", gold.status["message"])
print("table exists:", spark.catalog.tableExists("streaming_gold.windowed_metrics"))

# COMMAND ----------

# MAGIC %sql
# MAGIC SHOW TABLES IN streaming_gold

"""streamlab: learn, practise and test Spark Structured Streaming event time."""

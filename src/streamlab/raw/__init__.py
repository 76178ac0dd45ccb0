"""The raw stage: generating the lab's batches and landing them atomically, one folder a batch.

Pure Python and numpy: nothing here needs Spark, except that :mod:`.provision` registers the
databases when it is handed a session.
"""

"""Running the pipelines: the runner, checkpoints, late capture, accounting, progress, status.

Only this package and the CLI start streaming queries.
"""

"""The lab root: where its folders are, the catalog kept in its warehouse folder, its lock.

Everything else stands on this package; it imports nothing of streamlab but :mod:`streamlab.errors`
and :mod:`streamlab.durations`.
"""

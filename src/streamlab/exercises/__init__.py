"""The exercise workbook: practise event time on the lab's own data, checked on real Spark.

>>> import streamlab.exercises as ex
>>> ex.find(3).slug
'watermark-10m'
>>> ex.check(3, "/tmp/streaming/exercises/03_watermark_10m.py")  # doctest: +SKIP

See ``docs/exercises.md``.
"""

from __future__ import annotations

from streamlab.exercises.catalogue import EXERCISES, PARTS, Exercise, Mutant, find
from streamlab.exercises.checker import Checked, Verdict, check

__all__ = ["EXERCISES", "PARTS", "Checked", "Exercise", "Mutant", "Verdict", "check", "find"]

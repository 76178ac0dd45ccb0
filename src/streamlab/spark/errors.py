"""Spark's errors about streaming queries, translated into one line with the cause and the fix.

``translate(exc, user_code=fn)`` turns an exception raised while building, starting or running
a streaming query into a :class:`SparkQueryError`: one line that names the cause and the fix,
keeps Spark's error class, and points at the user's own line (the first traceback frame outside
streamlab, pyspark and py4j, else the line of ``user_code`` that uses the operator involved).
Errors it does not recognise keep Spark's first line and class. The stream test harness, the
notebook runner and the exercises share it.

>>> err = SparkQueryError("bad", error_class="X", where="t.py:3")
>>> str(err)
'bad [X] at t.py:3'
"""

from __future__ import annotations

import inspect
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from streamlab.errors import StreamlabError


class SparkQueryError(StreamlabError):
    """A streaming query Spark refused or that failed in a batch, explained in one line."""

    def __init__(
        self,
        message: str,
        *,
        error_class: str | None,
        where: str | None,
        known: bool = False,
        code: str | None = None,
    ) -> None:
        self.message = message
        """The cause and the fix."""
        self.error_class = error_class
        """Spark's error class (condition), such as ``AMBIGUOUS_REFERENCE``."""
        self.where = where
        """``file:line`` of the user's code involved, when known."""
        self.known = known
        """Whether the error is one of the known mistakes (else Spark's first line is kept)."""
        self.code = code
        """A regular expression for the user's line that uses the operator involved, if known."""
        tag = f" [{error_class}]" if error_class else ""
        at = f" at {where}" if where else ""
        super().__init__(f"{message}{tag}{at}")


@dataclass(frozen=True)
class _Rule:
    """One known error: how to recognise it and what to say."""

    pattern: str
    """A regular expression searched in Spark's message."""
    cause: str
    """What is wrong, in the user's terms."""
    fix: str
    """What to do about it."""
    code: str
    """A regular expression for the user's line that uses the operator involved."""


_RULES = (
    _Rule(
        r"Schema must be specified when creating a streaming source",
        "a streaming file source needs a schema",
        "pass one with spark.readStream.schema('event_time timestamp, ...')",
        r"readStream",
    ),
    _Rule(
        r"Distinct aggregations are not supported on streaming",
        "distinct aggregations (countDistinct, count(DISTINCT ...)) are not supported on a stream",
        "use approx_count_distinct(), or dropDuplicatesWithinWatermark() then count()",
        r"[Dd]istinct|DISTINCT",
    ),
    _Rule(
        r"STREAMING_OUTPUT_MODE\.UNSUPPORTED_OPERATION.*append.*without watermark",
        "append mode needs an aggregation on a window (or the event-time column) with a "
        "watermark, so Spark knows when a group is final",
        "add .withWatermark('event_time', '10 minutes') and group by window('event_time', ...), "
        "or use output_mode='update' or 'complete'",
        r"groupBy|agg\(|withWatermark",
    ),
    _Rule(
        r"possible 'correctness' issue due to global watermark",
        "Spark refuses these chained stateful operators: the first can emit rows behind the "
        "watermark, which the second would drop",
        "chain time-window aggregations in append mode (group the second by window_time() "
        "of the first), or do the second aggregation in foreachBatch",
        r"groupBy|agg\(",
    ),
    _Rule(
        r"Multiple streaming aggregations are not supported",
        "Spark refuses these chained aggregations: only time-window aggregations with a "
        "watermark can be chained, in append mode",
        "chain window aggregations in append mode (window_time() of the first as the second's "
        "time), or do the second aggregation in foreachBatch",
        r"groupBy|agg\(",
    ),
    _Rule(
        r"Stream-stream (LeftOuter|RightOuter|FullOuter|LeftSemi|LeftAnti) join between two "
        r"streaming DataFrame/Datasets is not supported without a watermark",
        "an outer stream-stream join needs a watermark on both inputs and a time range in the "
        "join condition, so Spark knows when a row can no longer match",
        "call withWatermark on both sides and add a condition such as "
        "'click_time BETWEEN impression_time AND impression_time + interval 10 minutes'",
        r"\.join\(",
    ),
    _Rule(
        r"AMBIGUOUS_REFERENCE|AMBIGUOUS_COLUMN_OR_FIELD|ambiguous",
        "a column name is ambiguous: both joined streams have a column of that name",
        "rename one side's column before the join (withColumnRenamed) or alias the inputs and "
        "select 'a.col'",
        r"\.join\(|select\(|col\(",
    ),
    _Rule(
        r"DATA_SOURCE_NOT_FOUND.*(delta|cloudFiles)|"
        r"Failed to find the data source: (delta|cloudFiles)",
        "this Spark has no Delta Lake or Auto Loader (delta-spark 4.4 supports PySpark up to "
        "4.2; Auto Loader is Databricks' own)",
        "run it with 'streamlab notebook run', which emulates both, or write format('parquet') "
        "and readStream.schema(...).json(...)",
        r"delta|cloudFiles",
    ),
    _Rule(
        r"Sorting is not supported on streaming",
        "sorting a stream is only supported on an aggregation in complete output mode",
        "sort each micro-batch in foreachBatch, or sort after reading the sink's output",
        r"orderBy|sort\(|sortWithinPartitions",
    ),
    _Rule(
        r"CAST_INVALID_INPUT|CANNOT_PARSE_TIMESTAMP",
        "a value could not be parsed as a timestamp under ANSI mode, which stops the query",
        "use try_to_timestamp() (NULL for bad values) and route NULLs to a quarantine, or fix "
        "the input",
        r"to_timestamp|cast\(|\.cast|to_date",
    ),
    _Rule(
        r"STATE_STORE_KEY_SCHEMA_NOT_COMPATIBLE|STATE_STORE_VALUE_SCHEMA_NOT_COMPATIBLE|"
        r"does not support recovering from checkpoint|STREAMING_STATEFUL_OPERATOR_NOT_MATCH|"
        r"STATE_STORE_INVALID_CONFIG_AFTER_RESTART|schema for existing state",
        "the query changed in a way its checkpoint cannot follow (its stateful operators or "
        "their keys differ from the run that wrote the checkpoint)",
        "start the changed query on a new checkpoint location (or delete the old checkpoint "
        "to start over)",
        r"groupBy|agg\(|dropDuplicates|\.join\(",
    ),
)

_CLASS = re.compile(r"^\[([A-Z0-9_.]+)\]")
_PACKAGE = str(Path(__file__).resolve().parents[1]).replace("\\", "/") + "/"
"""streamlab's own source folder: its frames are never the user's."""
_INTERNAL = (_PACKAGE, "/pyspark/", "/py4j/", "<frozen ")


def translate(
    exc: BaseException,
    *,
    user_code: Callable[..., Any] | None = None,
    step: str | None = None,
) -> SparkQueryError:
    """Return ``exc`` as one line with the cause and the fix, Spark's class, the user's line.

    Args:
        exc: what Spark (or PySpark) raised.
        user_code: the user's function that built the query, to point at its line.
        step: where in a test this happened, put in front of the message.

    """
    if isinstance(exc, SparkQueryError):
        return exc
    text = _message(exc)
    error_class = _error_class(exc, text)
    where = _user_frame(exc.__traceback__)
    prefix = f"{step}: " if step else ""
    for rule in _RULES:
        if re.search(rule.pattern, text, re.DOTALL):
            where = where or _user_line(user_code, rule.code)
            cls = _rule_class(rule, text) or error_class
            return SparkQueryError(
                f"{prefix}{rule.cause}: {rule.fix}",
                error_class=cls,
                where=where,
                known=True,
                code=rule.code,
            )
    where = where or _user_line(user_code, None)
    first = _first_line(text)
    return SparkQueryError(
        f"{prefix}Spark failed the query: {first}", error_class=error_class, where=where
    )


def is_spark_error(exc: BaseException) -> bool:
    """Return whether ``exc`` comes from Spark (PySpark, the JVM through py4j, a query)."""
    for kind in type(exc).__mro__:
        module = kind.__module__ or ""
        if module.startswith(("pyspark", "py4j")):
            return True
    return False


def _message(exc: BaseException) -> str:
    parts = [str(exc)]
    cause = exc.__cause__ or exc.__context__
    if cause is not None and cause is not exc:
        parts.append(str(cause))
    return "\n".join(parts)


def _error_class(exc: BaseException, text: str) -> str | None:
    get = getattr(exc, "getCondition", None) or getattr(exc, "getErrorClass", None)
    if callable(get):
        try:
            value = get()
        except Exception:
            value = None
        if value:
            return str(value)
    m = _CLASS.match(text.strip())
    return m.group(1) if m else None


def _rule_class(rule: _Rule, text: str) -> str | None:
    """Return the error class named in ``text`` that the rule is about, if any.

    A failure in a batch arrives wrapped (``STREAM_FAILED``, ``FOREACH_BATCH_USER_FUNCTION_
    ERROR``); the class worth keeping is the cause's, such as ``CAST_INVALID_INPUT``.
    """
    for cls in re.findall(r"\[([A-Z][A-Z0-9_]*(?:\.[A-Z0-9_]+)?)\]", text):
        if cls in rule.pattern:
            return str(cls)
    return None


def _first_line(text: str) -> str:
    for line in text.strip().splitlines():
        line = _CLASS.sub("", line.strip()).strip()
        if line:
            return re.sub(r"\s*SQLSTATE: \w+", "", line)[:300].rstrip(";")
    return "unknown error"


def _user_frame(tb: TracebackType | None) -> str | None:
    """Return ``file:line`` of the innermost user frame below every streamlab frame.

    A frame that calls into streamlab (a test calling ``run``) is not the cause: the user's
    query function, called by streamlab, is.
    """
    found = None
    for frame in traceback.extract_tb(tb):
        path = frame.filename.replace("\\", "/")
        if path.startswith(_PACKAGE):
            found = None
        elif not any(p in path for p in _INTERNAL):
            found = f"{_short(frame.filename)}:{frame.lineno}"
    return found


def _user_line(fn: Callable[..., Any] | None, code: str | None) -> str | None:
    """Return ``file:line`` in ``fn``'s source of the first line matching ``code``."""
    if fn is None:
        return None
    fn = inspect.unwrap(fn)  # a wrapper's __wrapped__ is where the user's code is
    try:
        lines, start = inspect.getsourcelines(fn)
        file = inspect.getsourcefile(fn) or "?"
    except (OSError, TypeError):
        return None
    if code is not None:
        body = next((i + 1 for i, line in enumerate(lines) if line.lstrip().startswith("def ")), 0)
        for i, line in enumerate(lines[body:], body):
            if re.search(code, line):
                return f"{_short(file)}:{start + i}"
    return f"{_short(file)}:{start}"


def _short(file: str) -> str:
    path = Path(file)
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)

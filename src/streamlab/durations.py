"""Durations: accepted as ``timedelta``, seconds, or text; normalized once, to milliseconds.

Spark takes interval strings such as ``"10 minutes"``; people type ``10m`` or ``90s``. Every
public entry point normalizes with :func:`to_millis` and hands Spark :func:`spark_interval`.
"""

from __future__ import annotations

import re
from datetime import timedelta

from streamlab.errors import StreamlabError

Duration = timedelta | int | float | str

_UNITS_MS = {
    "ms": 1,
    "millisecond": 1,
    "milliseconds": 1,
    "s": 1000,
    "sec": 1000,
    "secs": 1000,
    "second": 1000,
    "seconds": 1000,
    "m": 60_000,
    "min": 60_000,
    "mins": 60_000,
    "minute": 60_000,
    "minutes": 60_000,
    "h": 3_600_000,
    "hour": 3_600_000,
    "hours": 3_600_000,
    "d": 86_400_000,
    "day": 86_400_000,
    "days": 86_400_000,
}
_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]+)")


def to_millis(value: Duration, *, what: str = "duration") -> int:
    """Return ``value`` in whole milliseconds.

    Numbers are seconds. Text is one or more ``<number><unit>`` parts: ``"10 minutes"``,
    ``"10m"``, ``"1h30m"``, ``"90s"``, ``"0s"``.

    >>> to_millis("10 minutes"), to_millis("1h30m"), to_millis(timedelta(seconds=2))
    (600000, 5400000, 2000)
    """
    if isinstance(value, timedelta):
        ms = round(value.total_seconds() * 1000)
    elif isinstance(value, bool):
        raise StreamlabError(f"{what} must be a duration such as '10 minutes', not {value!r}")
    elif isinstance(value, int | float):
        ms = round(value * 1000)
    else:
        text = str(value).strip().lower()
        if text.startswith("interval "):
            text = text[len("interval ") :]
        pos, ms_total, matched = 0, 0.0, False
        for part in _PART.finditer(text):
            if text[pos : part.start()].strip(" ,"):
                break
            unit = _UNITS_MS.get(part.group(2))
            if unit is None:
                break
            ms_total += float(part.group(1)) * unit
            pos, matched = part.end(), True
        if not matched or text[pos:].strip(" ,"):
            raise StreamlabError(
                f"{what} {value!r} is not a duration: write it like '10 minutes', '10m' or '90s'"
            )
        ms = round(ms_total)
    if ms < 0:
        raise StreamlabError(f"{what} must not be negative, got {value!r}")
    return ms


def spark_interval(ms: int) -> str:
    """Return an interval string Spark accepts for ``ms`` milliseconds.

    >>> spark_interval(600000), spark_interval(1500)
    ('600 seconds', '1500 milliseconds')
    """
    if ms % 1000 == 0:
        return f"{ms // 1000} seconds"
    return f"{ms} milliseconds"


def describe(ms: int) -> str:
    """Return a short human form: ``10m``, ``1h30m``, ``90s`` -> ``1m30s``, ``0s``.

    >>> describe(5_400_000), describe(90_000), describe(0)
    ('1h30m', '1m30s', '0s')
    """
    if ms == 0:
        return "0s"
    out, rest = [], ms
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if rest >= size:
            out.append(f"{rest // size}{unit}")
            rest %= size
    if rest:
        out.append(f"{rest}ms")
    return "".join(out)


def in_words(ms: int) -> str:
    """Return ``ms`` in the largest whole unit, for messages: ``10 minutes``, ``1 second``.

    >>> in_words(600_000), in_words(1000), in_words(1500)
    ('10 minutes', '1 second', '1500 ms')
    """
    for unit, size in (("hour", 3_600_000), ("minute", 60_000), ("second", 1000)):
        if ms and ms % size == 0:
            n = ms // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{ms} ms"

"""ISO-8601 timestamps (as Phoenix's and Langfuse's REST APIs write them) -> nanoseconds.

    iso_ns("2026-12-01T10:00:00.123456Z")        # 1796119200123456000
    iso_ns("2026-12-01T11:00:00.5+01:00")        # offsets are applied
    iso_ns("2026-12-01T10:00:00")                # no offset: read as UTC

Fractions of up to nine digits are kept exactly (no float rounding): the analysis
compares stage times to the nanosecond.
"""

from __future__ import annotations

import calendar
import re

from rag_otel.analysis.model import MAX_TIME_NS

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9})\d*)?"
    r"(?:([Zz])|([+-])(\d{2}):?(\d{2}))?"
)


def iso_ns(text: object) -> int:
    """Nanoseconds since the epoch. Raises ValueError for anything but an ISO-8601 date-time,
    TypeError for a value that is not a string."""
    if text.__class__ is not str:
        raise TypeError(f"timestamp is {type(text).__name__}, not a string")
    assert isinstance(text, str)
    match = _ISO.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"timestamp {text!r} is not ISO-8601 (YYYY-MM-DDTHH:MM:SS[.f][Z|+HH:MM])")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59 and second <= 60):
        raise ValueError(f"timestamp {text!r} is out of range")
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if match.group(9):
        offset = int(match.group(10)) * 3600 + int(match.group(11)) * 60
        seconds -= offset if match.group(9) == "+" else -offset
    fraction = match.group(7) or ""
    return seconds * 1_000_000_000 + int(fraction.ljust(9, "0") or 0)


def time_or_none(value: object) -> int | None:
    """`iso_ns` of a span's time field; None for a missing (null or empty) one. ValueError
    beyond the int64 nanoseconds the analysis stores."""
    if value is None or value == "":
        return None
    ns = iso_ns(value)
    if not 0 <= ns <= MAX_TIME_NS:
        raise ValueError(f"time out of range: {value!r}")
    return ns

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
    r"(?P<minute>(?P<Y>\d{4})-(?P<M>\d{2})-(?P<D>\d{2})[Tt ](?P<h>\d{2}):(?P<m>\d{2}))"
    r":(?P<s>\d{2})(?:[.,](?P<fraction>\d{1,9})\d*)?"
    r"(?:[Zz]|(?P<sign>[+-])(?P<oh>\d{2}):?(?P<om>\d{2}))?"
)
_MINUTES: dict[str, int] = {}
"""Seconds since the epoch of ``YYYY-MM-DDTHH:MM`` prefixes met (spans of one export share a
few): the calendar arithmetic is done once per minute, not per timestamp."""
_MAX_MINUTES = 4096


def iso_ns(text: object) -> int:
    """Nanoseconds since the epoch. Raises ValueError for anything but an ISO-8601 date-time,
    TypeError for a value that is not a string."""
    if text.__class__ is not str:
        raise TypeError(f"timestamp is {type(text).__name__}, not a string")
    match = _ISO.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"timestamp {text!r} is not ISO-8601 (YYYY-MM-DDTHH:MM:SS[.f][Z|+HH:MM])")
    group = match.group
    minute_text = group("minute")
    minute_s = _MINUTES.get(minute_text)
    if minute_s is None:
        month, day, hour, minute = (
            int(group("M")),
            int(group("D")),
            int(group("h")),
            int(group("m")),
        )
        if not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23 and minute <= 59):
            raise ValueError(f"timestamp {text!r} is out of range")
        minute_s = calendar.timegm((int(group("Y")), month, day, hour, minute, 0, 0, 0, 0))
        if len(_MINUTES) >= _MAX_MINUTES:
            _MINUTES.clear()
        _MINUTES[minute_text] = minute_s
    second = int(group("s"))
    if second > 60:
        raise ValueError(f"timestamp {text!r} is out of range")
    seconds = minute_s + second
    sign = group("sign")
    if sign:
        offset = int(group("oh")) * 3600 + int(group("om")) * 60
        seconds -= offset if sign == "+" else -offset
    fraction = group("fraction")
    if not fraction:
        return seconds * 1_000_000_000
    return seconds * 1_000_000_000 + int(fraction.ljust(9, "0"))


def time_or_none(value: object) -> int | None:
    """`iso_ns` of a span's time field; None for a missing (null or empty) one. ValueError
    beyond the int64 nanoseconds the analysis stores."""
    if value is None or value == "":
        return None
    ns = iso_ns(value)
    if not 0 <= ns <= MAX_TIME_NS:
        raise ValueError(f"time out of range: {value!r}")
    return ns

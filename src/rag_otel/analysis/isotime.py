"""Times in the analysis's inputs: ISO-8601 text -> nanoseconds, and the ``--since``/``--until`` values.

    iso_ns("2026-12-01T10:00:00.123456Z")        # 1796119200123456000
    iso_ns("2026-12-01T11:00:00.5+01:00")        # offsets are applied
    iso_ns("2026-12-01T10:00:00")                # no offset: read as UTC
    iso_ns("2026-12-01T10:00Z")                  # seconds may be left out
    option_time_ns("30m", "since", now_ns, url)  # a duration ago, or an ISO-8601 time
    rfc3339(1796119200123456000)                 # "2026-12-01T10:00:00.123456000Z"

The one ISO-8601 parser of the analysis: span times (Phoenix, Langfuse), first-chunk times
(`rag_otel.analysis.first_token`) and the ``since``/``until`` options (live Jaeger and
Phoenix, Prometheus) all come here. It reads ``Z`` (and ``z``) itself, so it does not depend on
the Python version: ``datetime.fromisoformat`` refuses ``Z`` before Python 3.11, the
declared floor being 3.10. Fractions of up to nine digits are kept exactly (no float
rounding): the analysis compares stage times to the nanosecond.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta, timezone

from rag_otel.analysis.inputs import MAX_TIME_NS, InputError

_ISO = re.compile(
    r"(?P<minute>(?P<Y>\d{4})-(?P<M>\d{2})-(?P<D>\d{2})[Tt ](?P<h>\d{2}):(?P<m>\d{2}))"
    r"(?::(?P<s>\d{2})(?:[.,](?P<fraction>\d{1,9})\d*)?)?"
    r"(?:[Zz]|(?P<sign>[+-])(?P<oh>\d{2}):?(?P<om>\d{2}))?"
)
_MINUTES: dict[str, int] = {}
"""Seconds since the epoch of ``YYYY-MM-DDTHH:MM`` prefixes met (spans of one export share a
few): the calendar arithmetic is done once per minute, not per timestamp."""
_MAX_MINUTES = 4096


def iso_ns(text: object) -> int:
    """Nanoseconds since the epoch. Raises ValueError for anything but an ISO-8601
    date-time, TypeError for a value that is not a string."""
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
    second_text = group("s")
    second = 0 if second_text is None else int(second_text)
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


# --- the since / until options ---------------------------------------------------------------

_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": 604_800_000_000_000,
}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h|d|w)")


def parse_duration_ns(text: str) -> int | None:
    """``"1h30m"`` -> nanoseconds; None if `text` is not a duration."""
    text = text.strip()
    pos = 0
    total = 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * _UNITS_NS[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        return None
    return int(total)


def option_time_ns(value: object, option: str, now_ns: int, source: str) -> int:
    """A ``since``/``until`` value as ns since the epoch: a `datetime` (naive means UTC), a
    `timedelta` or duration text (``"1h30m"``: that long before `now_ns`), or ISO-8601 text.
    Anything else raises `InputError` naming `source` and the `option`."""
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return int(stamp.timestamp()) * 1_000_000_000 + stamp.microsecond * 1000
    if isinstance(value, timedelta):
        return now_ns - (value // timedelta(microseconds=1)) * 1000
    if isinstance(value, str):
        ago = parse_duration_ns(value)
        if ago is not None:
            return now_ns - ago
        try:
            return iso_ns(value)
        except ValueError:
            pass
    raise InputError(
        source,
        None,
        f"option {option}: expected a duration such as 1h or 30m, or an RFC 3339 time, got {value!r}",
    )


def rfc3339(ns: int) -> str:
    """Nanoseconds since the epoch as RFC 3339 with nanoseconds, UTC (Go's RFC3339Nano parses it)."""
    seconds, frac = divmod(ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{frac:09d}Z"

"""Containment: a failure inside rag-otel is logged once per kind and counted, never raised."""

from __future__ import annotations

import logging
import sys
from collections import Counter
from typing import Final

logger: Final = logging.getLogger("rag_otel")

COUNTS: Final[Counter[str]] = Counter()
"""How many times each kind of internal failure happened in this process."""


def contained(kind: str, message: str, *args: object) -> None:
    """Record an internal failure of ``kind``; log it (with traceback if any) the first time."""
    COUNTS[kind] += 1
    if COUNTS[kind] == 1:
        logger.warning(
            "rag-otel: " + message + " (further occurrences are counted, not logged)",
            *args,
            exc_info=sys.exc_info()[0] is not None,
        )


_WARNED: Final[set[str]] = set()


def warn_once(message: str) -> None:
    """Log ``message`` as a warning the first time it comes in this process (a bad environment
    variable, read again by every ``configure()``, is reported once)."""
    if message not in _WARNED:
        _WARNED.add(message)
        logger.warning("%s", message)

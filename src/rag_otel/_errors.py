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

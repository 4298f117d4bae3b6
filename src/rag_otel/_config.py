"""Process-wide settings the hot path reads: content capture, redaction, bounds.

One mutable object, ``SETTINGS``, read with a plain attribute access per use.
Defaults come from the environment at import time; ``rag_otel.configure()``
overrides them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Final

CAPTURE_CONTENT_ENV: Final = "RAG_OTEL_CAPTURE_CONTENT"
MAX_CONTENT_LENGTH_ENV: Final = "RAG_OTEL_MAX_CONTENT_LENGTH"
MAX_DOCUMENTS_ENV: Final = "RAG_OTEL_MAX_DOCUMENTS"

DEFAULT_MAX_CONTENT_LENGTH: Final = 4096
DEFAULT_MAX_DOCUMENTS: Final = 10
TRUNCATION_MARK: Final = "...[truncated]"

Redactor = Callable[[str], str]


def env_first(*names: str) -> str | None:
    """The first of the environment variables ``names`` that is set and not blank."""
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def env_flag(name: str, default: bool = False) -> bool:
    """``true/1/yes/on`` (any case) is True, ``false/0/no/off`` False, else ``default``."""
    raw = os.environ.get(name, "").strip().lower()
    if raw in ("true", "1", "yes", "on"):
        return True
    if raw in ("false", "0", "no", "off"):
        return False
    return default


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        value = int(raw)
    except ValueError:
        return default
    return value if value > 0 else default


class Settings:
    """What the tracing API records; changed only by ``configure()``."""

    __slots__ = ("capture_content", "max_content_length", "max_documents", "redact")

    def __init__(self) -> None:
        self.capture_content: bool = env_flag(CAPTURE_CONTENT_ENV)
        self.redact: Redactor | None = None
        self.max_content_length: int = env_int(MAX_CONTENT_LENGTH_ENV, DEFAULT_MAX_CONTENT_LENGTH)
        self.max_documents: int = env_int(MAX_DOCUMENTS_ENV, DEFAULT_MAX_DOCUMENTS)


SETTINGS: Final = Settings()

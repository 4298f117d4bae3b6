"""Process-wide settings the hot path reads: content capture, redaction, bounds.

One mutable object, ``SETTINGS``, read with a plain attribute access per use.
Defaults come from the environment at import time; ``rag_otel.configure()``
overrides them.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Final

CAPTURE_CONTENT_ENV: Final = "RAG_OTEL_CAPTURE_CONTENT"
OTEL_CAPTURE_CONTENT_ENV: Final = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
HIDE_INPUTS_ENV: Final = "OPENINFERENCE_HIDE_INPUTS"
HIDE_OUTPUTS_ENV: Final = "OPENINFERENCE_HIDE_OUTPUTS"
WORKFLOW_NAME_ENV: Final = "RAG_OTEL_WORKFLOW_NAME"
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
    value = _env_bool(name)
    return default if value is None else value


_TRUE: Final = ("true", "1", "yes", "on")
_FALSE: Final = ("false", "0", "no", "off")
# OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT (opentelemetry-util-genai's modes): rag-otel
# records content on span attributes only, so a mode with content on spans turns capture on.
_OTEL_CONTENT_MODES: Final[dict[str, bool]] = {
    "no_content": False,
    "span_only": True,
    "event_only": False,  # content on events only: none on spans (rag-otel emits no events)
    "span_and_event": True,
    **dict.fromkeys(_TRUE, True),
    **dict.fromkeys(_FALSE, False),
}


def _env_bool(name: str) -> bool | None:
    raw = os.environ.get(name, "").strip().lower()
    return True if raw in _TRUE else False if raw in _FALSE else None


def capture_content_from_env() -> tuple[bool, str]:
    """Whether the environment turns content capture on, and which variable decided.

    ``RAG_OTEL_CAPTURE_CONTENT`` (true/false) first, then the GenAI instrumentations'
    ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`` (``NO_CONTENT``, ``SPAN_ONLY``,
    ``EVENT_ONLY``, ``SPAN_AND_EVENT``, or true/false), then OpenInference's
    ``OPENINFERENCE_HIDE_INPUTS`` / ``OPENINFERENCE_HIDE_OUTPUTS`` (set to false: content is
    shown; either one true: off, since rag-otel has one switch), else off. A value a variable
    cannot mean is skipped (logged), as if it were unset.
    """
    own = _env_bool(CAPTURE_CONTENT_ENV)
    if own is not None:
        return own, CAPTURE_CONTENT_ENV
    raw = os.environ.get(OTEL_CAPTURE_CONTENT_ENV, "").strip()
    if raw:
        mode = _OTEL_CONTENT_MODES.get(raw.lower())
        if mode is not None:
            return mode, OTEL_CAPTURE_CONTENT_ENV
        logging.getLogger("rag_otel").warning(
            "rag-otel: %s=%r is not one of NO_CONTENT, SPAN_ONLY, EVENT_ONLY, SPAN_AND_EVENT, "
            "true, false; ignored",
            OTEL_CAPTURE_CONTENT_ENV,
            raw,
        )
    hide = [_env_bool(HIDE_INPUTS_ENV), _env_bool(HIDE_OUTPUTS_ENV)]
    if hide != [None, None]:
        return True not in hide, f"{HIDE_INPUTS_ENV}/{HIDE_OUTPUTS_ENV}"
    return False, "default"


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    try:
        value = int(raw)
    except ValueError:
        return default
    return value if value > 0 else default


class Settings:
    """What the tracing API records; changed only by ``configure()``."""

    __slots__ = (
        "capture_content",
        "max_content_length",
        "max_documents",
        "redact",
        "workflow_name",
    )

    def __init__(self) -> None:
        self.capture_content: bool = capture_content_from_env()[0]
        self.workflow_name: str | None = env_first(WORKFLOW_NAME_ENV)
        """``gen_ai.workflow.name`` of turns that do not name their own (None: not recorded)."""
        self.redact: Redactor | None = None
        self.max_content_length: int = env_int(MAX_CONTENT_LENGTH_ENV, DEFAULT_MAX_CONTENT_LENGTH)
        self.max_documents: int = env_int(MAX_DOCUMENTS_ENV, DEFAULT_MAX_DOCUMENTS)


SETTINGS: Final = Settings()

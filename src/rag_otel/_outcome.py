"""How an exception ends a stage or turn: an error (with its ``error.type``), or not.

Usage::

    from rag_otel._outcome import error_type, is_error

    is_error(ValueError)                  # True: the span is marked ERROR, the sample gets error.type
    is_error(asyncio.CancelledError)      # False: cancelled, not failed
    error_type(json.JSONDecodeError)      # "json.decoder.JSONDecodeError"
    error_type(ValueError)                # "ValueError" (builtins are not module-prefixed)

The one rule spans (``rag_otel.spans``) and duration metrics (``rag_otel.metrics``) share:
cancellation (``asyncio.CancelledError``), early close of a stream (``GeneratorExit``) and
interpreter exit (``KeyboardInterrupt``, ``SystemExit``) end a stage without failing it; any
other exception is an error, named by `error_type` as the OpenTelemetry ``error.type``
attribute asks (the fully qualified class name).
"""

from __future__ import annotations

import sys
from typing import Final

__all__ = ["error_type", "is_error"]

_NOT_ERRORS: Final = (GeneratorExit, KeyboardInterrupt, SystemExit)
"""Always importable; asyncio.CancelledError is looked up when needed: it can only be raised
once asyncio is imported, and importing it just to compare against is slow."""


def is_error(error: type[BaseException]) -> bool:
    """False for cancellation, early close and interpreter exit; True for any other class."""
    if issubclass(error, _NOT_ERRORS):
        return False
    asyncio = sys.modules.get("asyncio")
    return asyncio is None or not issubclass(error, asyncio.CancelledError)


def error_type(error: type[BaseException]) -> str:
    """``error.type``: the class's qualified name, module-prefixed unless a builtin."""
    module = error.__module__
    return error.__qualname__ if module == "builtins" else f"{module}.{error.__qualname__}"

"""rag-otel: OpenTelemetry tracing for retrieval-augmented generation pipelines.

    import rag_otel

    rag_otel.configure(service_name="faq-bot")

    @rag_otel.stage("embed", kind="embedding")
    def embed(text: str) -> list[float]: ...

    with rag_otel.turn(session_id="user-42"):
        vec = embed(question)

Importing this package loads nothing but its version: each name below is imported on
first use (PEP 562), so ``import rag_otel.analysis`` and ``rag-otel analyze`` never load
OpenTelemetry. ``rag_otel.stage`` and the other tracing names load the OpenTelemetry API;
the SDK is imported by ``configure()``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

from rag_otel._version import __version__

if TYPE_CHECKING:
    from rag_otel.configuration import configure, shutdown
    from rag_otel.spans import (
        OperationHandle,
        StageHandle,
        TurnHandle,
        content_capture_enabled,
        current_stage,
        current_turn,
        operation,
        stage,
        turn,
    )

__all__ = [
    "OperationHandle",
    "StageHandle",
    "TurnHandle",
    "__version__",
    "configure",
    "content_capture_enabled",
    "current_stage",
    "current_turn",
    "instrument",
    "operation",
    "shutdown",
    "stage",
    "turn",
]

_HOMES: Final = {
    "configure": "rag_otel.configuration",
    "shutdown": "rag_otel.configuration",
    **dict.fromkeys(
        (
            "OperationHandle",
            "StageHandle",
            "TurnHandle",
            "content_capture_enabled",
            "current_stage",
            "current_turn",
            "operation",
            "stage",
            "turn",
        ),
        "rag_otel.spans",
    ),
}
"""Where each public name lives, imported on first use."""


def instrument(*args: Any, **kwargs: Any) -> Any:
    """Auto-instrument the supported libraries: ``rag_otel.instrumentation.instrument``."""
    from rag_otel.instrumentation import instrument as _instrument

    return _instrument(*args, **kwargs)


if not TYPE_CHECKING:  # mypy reads the imports above; a typo stays an error for it

    def __getattr__(name: str) -> Any:
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        globals()[name] = value  # the next read is a plain module attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__})

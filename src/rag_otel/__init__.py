"""rag-otel: OpenTelemetry tracing for retrieval-augmented generation pipelines.

    import rag_otel

    rag_otel.configure(service_name="faq-bot")

    @rag_otel.stage("embed", kind="embedding")
    def embed(text: str) -> list[float]: ...

    with rag_otel.turn(session_id="user-42"):
        vec = embed(question)

Importing this package loads only the OpenTelemetry API; the SDK is imported by
``configure()``.
"""

from __future__ import annotations

from typing import Any

from rag_otel._version import __version__
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


def instrument(*args: Any, **kwargs: Any) -> Any:
    """Auto-instrument the supported libraries: ``rag_otel.instrumentation.instrument``."""
    from rag_otel.instrumentation import instrument as _instrument

    return _instrument(*args, **kwargs)

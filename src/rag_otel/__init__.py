"""rag-otel: OpenTelemetry tracing for retrieval-augmented generation pipelines."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]

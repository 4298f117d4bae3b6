"""Auto-instrumentation of the retrieval libraries a RAG pipeline calls.

Usage
-----

.. code:: python

    import rag_otel

    rag_otel.configure(service_name="faq-bot", instrument=True)  # configure + instrument()
    # or, on its own:
    from rag_otel.instrumentation import instrument, uninstrument

    instrument()  # -> ["chromadb_rag_otel", "rank_bm25"]: the ones whose library is installed
    instrument(tracer_provider=provider)  # their spans to this provider, not the global one

Each instrumentor is an OpenTelemetry ``BaseInstrumentor`` registered in the
``opentelemetry_instrumentor`` entry-point group, so ``opentelemetry-instrument python
app.py`` loads them as well. The names are the entry-point names; both ``instrument()`` and
``opentelemetry-instrument`` skip those listed in ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS``.

- ``chromadb_rag_otel``: :class:`rag_otel.instrumentation.chromadb.ChromaInstrumentor`
- ``rank_bm25``: :class:`rag_otel.instrumentation.rank_bm25.BM25Instrumentor`

Instrumenting imports neither library: their methods are wrapped when the library is
imported (at once when it already is). See ``docs/instrumentation.md``.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Final

from opentelemetry.instrumentation.dependencies import get_dependency_conflicts
from opentelemetry.trace import TracerProvider

__all__ = ["INSTRUMENTORS", "instrument", "uninstrument"]

INSTRUMENTORS: Final[dict[str, str]] = {
    "chromadb_rag_otel": "rag_otel.instrumentation.chromadb:ChromaInstrumentor",
    "rank_bm25": "rag_otel.instrumentation.rank_bm25:BM25Instrumentor",
}
"""Entry-point name -> ``module:class``, as declared in pyproject.toml."""

_DISABLED_ENV: Final = "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS"


def _instrumentor(target: str) -> Any:
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)()


def _disabled() -> set[str]:
    return {name.strip() for name in os.environ.get(_DISABLED_ENV, "").split(",") if name.strip()}


def instrument(
    *, skip_missing: bool = True, tracer_provider: TracerProvider | None = None
) -> list[str]:
    """Turn on every instrumentor whose library is installed; return their names.

    ``tracer_provider``: where their spans go (default: the global provider, read per call).
    Already instrumented ones (say, by ``opentelemetry-instrument``) are kept and listed,
    with the provider they were given.
    Names in ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS`` are skipped. With
    ``skip_missing=False`` a library that is missing or outside the supported versions
    raises ``RuntimeError`` naming it (and what is already on stays on).
    """
    disabled = _disabled()
    active: list[str] = []
    for name, target in INSTRUMENTORS.items():
        if name in disabled:
            continue
        instrumentor = _instrumentor(target)
        conflict = get_dependency_conflicts(instrumentor.instrumentation_dependencies())
        if conflict is not None:
            if skip_missing:
                continue
            raise RuntimeError(f"rag-otel cannot instrument {name}: {conflict}")
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(skip_dep_check=True, tracer_provider=tracer_provider)
        if instrumentor.is_instrumented_by_opentelemetry:
            active.append(name)
    return active


def uninstrument() -> list[str]:
    """Turn off every instrumentor that is on (however it was turned on); return their names."""
    stopped: list[str] = []
    for name, target in INSTRUMENTORS.items():
        instrumentor = _instrumentor(target)
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
            stopped.append(name)
    return stopped

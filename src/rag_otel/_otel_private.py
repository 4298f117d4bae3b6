"""The fence: every private OpenTelemetry name rag-otel uses lives in this module, nowhere else.

rag-otel supports every OpenTelemetry release from its declared floors up (pyproject.toml);
private names come and go between releases. Each one below is probed once and has a
fallback to public behaviour, so a release without it degrades one feature (reported once,
in the ``rag_otel`` logger) and never raises into the application.

| private name | used by | probed | fallback when missing |
| --- | --- | --- | --- |
| ``opentelemetry.trace._TRACER_PROVIDER`` (the API's global, None until a provider is set) | ``rag_otel.spans`` hot path (is tracing on? one dict read), ``configuration.py`` (is an SDK provider installed?) | when this module loads | ``trace.get_tracer_provider()`` on every read, a ``ProxyTracerProvider`` counting as none: correct, a little slower |
| the batch span processor's queue: ``BatchSpanProcessor._batch_processor._queue`` / ``._max_queue_size`` (SDK >= 1.31), ``.queue`` / ``.max_queue_size`` (SDK 1.30) | ``exporters.CountingBatchSpanProcessor``: count spans that find the queue full instead of the SDK's warning per span; the shutdown report counts what is still queued | once, on a throwaway processor, the first time ``configure()`` builds one (this module must not import the SDK: ``import rag_otel`` stays cheap) | the SDK handles a full queue itself (its own warning); drops and leftovers are reported as unknown |
| ``opentelemetry.context._RUNTIME_CONTEXT._current_context`` (the ``ContextVar`` the default runtime context keeps the current context in) | ``rag_otel.spans`` hot path: read, attach and detach the context as one C call each (``get``/``set``/``reset``) instead of two Python frames each | when this module loads; used only when the runtime context is exactly the default ``ContextVarsRuntimeContext`` (not one chosen with ``OTEL_PYTHON_CONTEXT``) | ``context.get_current`` / ``attach`` / ``detach``: correct, a little slower |
| an OTLP exporter's ``_endpoint`` (HTTP: the URL, gRPC: ``host:port``) | the exporter label in ``configure()``'s result and logs, and the address shutdown checks for a refused connection (``otlp.py``, for ``configuration.py`` and ``metrics/readers.py``) | once, on a throwaway HTTP exporter, on first use | the endpoint resolved from the arguments and the ``OTEL_EXPORTER_OTLP_*`` environment, as the SDK documents it |

Everything else rag-otel does to the SDK goes through public API: bounding shutdown runs the
SDK's own ``shutdown()`` on a helper thread and stops waiting at the deadline
(``exporters.py``); attributes are set with ``Span.set_attribute``.
"""

from __future__ import annotations

import collections
import functools
import logging
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import context as _context
from opentelemetry import trace as _trace
from opentelemetry.context import Context
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExportResult

logger: Final = logging.getLogger("rag_otel")

__all__ = [
    "TRACER_PROVIDER_KEY",
    "TRACER_PROVIDER_SLOT",
    "BatchQueue",
    "attach_context",
    "batch_queue",
    "current_context",
    "detach_context",
    "exporter_endpoint",
    "installed_tracer_provider",
]


# --- the API's global tracer provider ----------------------------------------------------

TRACER_PROVIDER_KEY: Final = "_TRACER_PROVIDER"


_MISSING: Final = object()


class _PublicProviderSlot(dict[str, Any]):
    """Fallback slot: every read asks the public API (a proxy provider counts as none)."""

    def __missing__(self, key: str) -> object:
        provider = _trace.get_tracer_provider()
        return None if isinstance(provider, _trace.ProxyTracerProvider) else provider


def _provider_slot() -> dict[str, Any]:
    namespace = vars(_trace)
    value = namespace.get(TRACER_PROVIDER_KEY, _MISSING)
    if value is None or isinstance(value, _trace.TracerProvider):
        return namespace  # the module's own globals: a read is one dict lookup
    logger.info(
        "rag-otel: opentelemetry.trace has no %s global in this release; "
        "tracing checks the installed provider through the public API (a little slower)",
        TRACER_PROVIDER_KEY,
    )
    return _PublicProviderSlot()


TRACER_PROVIDER_SLOT: Final = _provider_slot()
"""``TRACER_PROVIDER_SLOT[TRACER_PROVIDER_KEY]`` is the installed provider, or None: the hot
path's read (as cheap as reading the module attribute, and live)."""


def installed_tracer_provider() -> _trace.TracerProvider | None:
    """The provider installed with ``trace.set_tracer_provider``, or None."""
    provider = TRACER_PROVIDER_SLOT[TRACER_PROVIDER_KEY]
    return provider if isinstance(provider, _trace.TracerProvider) else None


# --- the current context's variable ------------------------------------------------------


def _context_variable() -> ContextVar[Context] | None:
    """The ContextVar of the default runtime context, or None (another runtime context, or a
    release that keeps it elsewhere: the public functions are used then)."""
    runtime = getattr(_context, "_RUNTIME_CONTEXT", None)
    variable = getattr(runtime, "_current_context", None)
    if type(runtime) is ContextVarsRuntimeContext and isinstance(variable, ContextVar):
        return variable
    logger.info(
        "rag-otel: the OpenTelemetry runtime context is not the default one here; "
        "spans attach their context through the public API (a little slower)"
    )
    return None


_CONTEXT_VARIABLE: Final = _context_variable()

current_context: Final[Callable[[], Context]] = (
    _context.get_current if _CONTEXT_VARIABLE is None else _CONTEXT_VARIABLE.get
)
"""``opentelemetry.context.get_current()``, as one C call when the runtime context allows."""
attach_context: Final[Callable[[Context], Token[Context]]] = (
    _context.attach if _CONTEXT_VARIABLE is None else _CONTEXT_VARIABLE.set
)
"""``opentelemetry.context.attach(ctx)``, as one C call when the runtime context allows."""
detach_context: Final[Callable[[Token[Context]], None]] = (
    _context.detach if _CONTEXT_VARIABLE is None else _CONTEXT_VARIABLE.reset
)
"""``opentelemetry.context.detach(token)``; unlike it, this may raise (a token used twice,
or from another context): callers contain it."""


# --- the batch span processor's queue ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BatchQueue:
    """A batch span processor's queue (a deque of ended spans) and its bound."""

    spans: collections.deque[Any]
    max_size: int


def _queue_in(holder: object, queue_name: str, max_name: str) -> BatchQueue | None:
    queue = getattr(holder, queue_name, None)
    max_size = getattr(holder, max_name, None)
    if isinstance(queue, collections.deque) and isinstance(max_size, int) and max_size > 0:
        return BatchQueue(spans=queue, max_size=max_size)
    return None


def _find_queue(processor: object) -> BatchQueue | None:
    inner = getattr(processor, "_batch_processor", None)  # SDK >= 1.31: BatchProcessor
    if inner is not None:
        return _queue_in(inner, "_queue", "_max_queue_size")
    return _queue_in(processor, "queue", "max_queue_size")  # SDK 1.30


class _NullExporter:
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        from opentelemetry.sdk.trace.export import SpanExportResult

        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


@functools.cache
def _queue_layout_known() -> bool:
    """Probe once: does this SDK's BatchSpanProcessor keep its queue where we look?"""
    try:
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        probe = BatchSpanProcessor(_NullExporter(), max_queue_size=8, max_export_batch_size=4)  # type: ignore[arg-type]
        try:
            found = _find_queue(probe) is not None
        finally:
            probe.shutdown()  # type: ignore[no-untyped-call]
    except Exception:
        found = False
    if not found:
        logger.info(
            "rag-otel: this OpenTelemetry SDK keeps its batch queue elsewhere; spans dropped "
            "on a full queue are reported by the SDK (not counted by rag-otel)"
        )
    return found


def batch_queue(processor: object) -> BatchQueue | None:
    """The queue of ``processor`` (a ``BatchSpanProcessor``), or None where it is not known."""
    if not _queue_layout_known():
        return None
    try:
        return _find_queue(processor)
    except Exception:
        return None


# --- an OTLP exporter's endpoint ------------------------------------------------------------


@functools.cache
def _endpoint_attribute_known() -> bool:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        url = "http://127.0.0.1:4318/v1/traces"
        probe = OTLPSpanExporter(endpoint=url)
        try:
            found = getattr(probe, "_endpoint", None) == url
        finally:
            probe.shutdown()  # type: ignore[no-untyped-call]
    except Exception:
        found = False
    if not found:
        logger.info(
            "rag-otel: OTLP exporters keep their endpoint elsewhere in this release; "
            "rag-otel resolves it from the OTEL_EXPORTER_OTLP_* environment instead"
        )
    return found


def exporter_endpoint(exporter: object, fallback: str) -> str:
    """The endpoint ``exporter`` sends to; ``fallback`` (resolved publicly) where unknown."""
    if _endpoint_attribute_known():
        value = getattr(exporter, "_endpoint", None)
        if isinstance(value, str) and value:
            return value
    return fallback

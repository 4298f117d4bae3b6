"""The fence (``rag_otel._otel_private``): every private OpenTelemetry name lives there, and
each has a public fallback that degrades a feature instead of raising (issue 11)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from rag_otel import _otel_private
from rag_otel.exporters import ContainedExporter, CountingBatchSpanProcessor

pytestmark = pytest.mark.lowest

SRC = Path(_otel_private.__file__).resolve().parent

# A private name of OpenTelemetry's: an import from a private module, the API's globals,
# the SDK processor's and exporters' fields rag-otel has used.
PRIVATE = re.compile(
    r"from opentelemetry[\w.]*\._|import opentelemetry[\w.]*\._"
    r"|_TRACER_PROVIDER|_METER_PROVIDER|_batch_processor|_max_queue_size|\._endpoint\b"
    r"|\bspan\._attributes|\._span_processors|_active_span_processor"
    r"|_RUNTIME_CONTEXT|\._current_context\b"
)


def test_private_names_appear_only_in_the_fence() -> None:
    offenders = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in sorted(SRC.rglob("*.py"))
        if path.name != "_otel_private.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if PRIVATE.search(line)
    ]
    assert offenders == []


def test_the_provider_slot_reads_the_installed_provider() -> None:
    # the conftest installed an SDK provider for the session
    installed = trace.get_tracer_provider()
    assert isinstance(installed, TracerProvider)
    assert _otel_private.TRACER_PROVIDER_SLOT[_otel_private.TRACER_PROVIDER_KEY] is installed
    assert _otel_private.installed_tracer_provider() is installed


def test_the_public_fallback_slot_gives_the_same_answer() -> None:
    """What a release without the global gets: the public API on every read."""
    slot = _otel_private._PublicProviderSlot()
    assert slot[_otel_private.TRACER_PROVIDER_KEY] is trace.get_tracer_provider()


def test_a_processor_whose_queue_is_hidden_still_exports() -> None:
    """An SDK release that keeps its queue elsewhere: drops are the SDK's business, spans
    still go out, and the shutdown report says some may be missing from its count."""
    assert _otel_private.batch_queue(object()) is None
    memory = InMemorySpanExporter()
    processor = CountingBatchSpanProcessor(ContainedExporter(memory, "memory"))
    processor._rag_otel_queue = None  # as batch_queue() answers on such a release
    provider = TracerProvider()
    provider.add_span_processor(processor)
    with provider.get_tracer("t").start_as_current_span("s"):
        pass
    provider.shutdown()
    assert [s.name for s in memory.get_finished_spans()] == ["s"]
    assert processor.queued() is None
    assert processor.undelivered().total == 0


def test_the_queue_is_found_on_this_release() -> None:
    processor = CountingBatchSpanProcessor(ContainedExporter(InMemorySpanExporter(), "memory"))
    try:
        queue = _otel_private.batch_queue(processor)
        assert queue is not None
        assert queue.max_size > 0
        assert processor.queued() == 0
    finally:
        processor.shutdown()


def test_endpoint_fallback() -> None:
    assert _otel_private.exporter_endpoint(object(), "http://fallback:4318") == (
        "http://fallback:4318"
    )


def test_the_context_variable_is_found_on_this_release() -> None:
    """The default runtime context: reading, attaching and detaching are the ContextVar's."""
    from opentelemetry import context

    assert _otel_private._CONTEXT_VARIABLE is not None
    ctx = context.set_value("k", "v")
    token = _otel_private.attach_context(ctx)
    assert context.get_current() is ctx is _otel_private.current_context()
    _otel_private.detach_context(token)
    assert context.get_value("k") is None


def test_another_runtime_context_gets_the_public_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_PYTHON_CONTEXT chose another runtime context: its variable is not ours to use."""
    from opentelemetry import context

    class Custom(context.contextvars_context.ContextVarsRuntimeContext):
        pass

    monkeypatch.setattr(context, "_RUNTIME_CONTEXT", Custom())
    assert _otel_private._context_variable() is None

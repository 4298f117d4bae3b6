"""An outside oracle: opentelemetry-util-genai, the helper the official GenAI instrumentations use.

The same facts (a workflow invocation with a conversation, a retrieval, an embedding, a
streamed chat) go through util-genai's ``TelemetryHandler`` and through rag-otel, into the
same in-memory exporter; the GenAI attributes must agree in name, type and value, and the
span kinds must agree except where docs/span-model.md lists a deliberate deviation. What
rag-otel adds or leaves out is listed here too, so drift on either side fails a test.
Written against opentelemetry-util-genai 1.3b0 (a dev dependency, pyproject.toml).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from opentelemetry.util.genai.handler import TelemetryHandler
from opentelemetry.util.genai.types import InputMessage, OutputMessage, Text

import rag_otel
from rag_otel import semconv as sc
from rag_otel._config import SETTINGS, capture_content_from_env

CONTENT_ENV = "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"

KIND_DEVIATIONS: dict[str, tuple[SpanKind, SpanKind]] = {
    # operation: (util-genai's kind, rag-otel's kind). A stage is a function of this process;
    # the library call inside it brings its own CLIENT span (chromadb's HTTP client does).
    "retrieval": (SpanKind.CLIENT, SpanKind.INTERNAL),
    "embeddings": (SpanKind.CLIENT, SpanKind.INTERNAL),
    "chat": (SpanKind.CLIENT, SpanKind.INTERNAL),
}
ORACLE_ONLY: dict[str, set[str]] = {
    # gen_ai.* keys util-genai writes that rag-otel leaves to the user (set_attribute)
    "chat": {"gen_ai.response.finish_reasons"},
}
RAG_OTEL_ONLY: dict[str, set[str]] = {
    # gen_ai.* keys rag-otel writes that util-genai does not (documented in span-model.md)
    "chat": {sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK},
}


def _oracle_facts(handler: TelemetryHandler) -> None:
    with handler.workflow("faq-bot", conversation_id="conv-1"):
        with handler.retrieval(data_source_id="faq") as retrieval:
            retrieval.top_k = 5
        with handler.embedding("openai", request_model="text-embedding-3-small") as embedding:
            embedding.dimension_count = 384
            embedding.input_tokens = 7
        with handler.inference("openai", request_model="gpt-x") as chat:
            chat.request_stream = True
            chat.input_messages = [InputMessage(role="user", parts=[Text(content="Where?")])]
            chat.output_messages = [
                OutputMessage(role="assistant", parts=[Text(content="Here.")], finish_reason="stop")
            ]
            chat.input_tokens = 3
            chat.output_tokens = 2


def _rag_otel_facts() -> None:
    @rag_otel.stage("generate", kind="generation", provider="openai")
    def generate() -> Iterator[str]:
        stage = rag_otel.current_stage()
        stage.set_model("gpt-x")
        stage.set_input("Where?")
        yield "Here."
        stage.set_output("Here.")
        stage.set_usage(input_tokens=3, output_tokens=2)

    with rag_otel.turn(session_id="conv-1", workflow="faq-bot"):
        with rag_otel.stage("retrieve", kind="retrieval") as retrieval:
            retrieval.set_data_source("faq")
            retrieval.set_top_k(5)
        with rag_otel.stage("embed", kind="embedding", provider="openai") as embedding:
            embedding.set_model("text-embedding-3-small")
            embedding.set_embedding_dimension(384)
            embedding.set_usage(input_tokens=7)
        assert list(generate()) == ["Here."]


def _by_operation(spans: tuple[ReadableSpan, ...]) -> dict[str, ReadableSpan]:
    return {str((s.attributes or {})[sc.GEN_AI_OPERATION_NAME]): s for s in spans}


def _gen_ai(span: ReadableSpan) -> dict[str, Any]:
    return {k: v for k, v in (span.attributes or {}).items() if k.startswith("gen_ai.")}


def _messages(value: object) -> Any:
    """Messages JSON without null-valued optional fields (util-genai writes ``"name": null``)."""

    def strip(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items() if v is not None}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node

    return strip(json.loads(str(value)))


def _run_both(
    span_exporter: InMemorySpanExporter,
) -> tuple[dict[str, ReadableSpan], dict[str, ReadableSpan]]:
    handler = TelemetryHandler(tracer_provider=trace.get_tracer_provider())
    tracer = trace.get_tracer("web.framework")
    # under a request span, as a web app runs them: a turn there is INTERNAL, like util-genai's
    with tracer.start_as_current_span("GET /oracle", kind=SpanKind.SERVER):
        _oracle_facts(handler)
    oracle = _by_operation(
        tuple(
            s
            for s in span_exporter.get_finished_spans()
            if sc.GEN_AI_OPERATION_NAME in (s.attributes or {})
        )
    )
    span_exporter.clear()
    with tracer.start_as_current_span("GET /ours", kind=SpanKind.SERVER):
        _rag_otel_facts()
    ours = _by_operation(
        tuple(
            s
            for s in span_exporter.get_finished_spans()
            if sc.GEN_AI_OPERATION_NAME in (s.attributes or {})
        )
    )
    return oracle, ours


@pytest.fixture
def content_on(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Content on in both: util-genai through its variable, rag-otel as that variable says."""
    monkeypatch.setenv(CONTENT_ENV, "SPAN_ONLY")
    monkeypatch.delenv("RAG_OTEL_CAPTURE_CONTENT", raising=False)
    saved = SETTINGS.capture_content
    SETTINGS.capture_content = capture_content_from_env()[0]
    yield
    SETTINGS.capture_content = saved


@pytest.mark.usefixtures("content_on")
def test_same_facts_same_genai_attributes(span_exporter: InMemorySpanExporter) -> None:
    oracle, ours = _run_both(span_exporter)
    assert set(oracle) == set(ours) == {"invoke_workflow", "retrieval", "embeddings", "chat"}
    for operation, theirs in oracle.items():
        expected, got = _gen_ai(theirs), _gen_ai(ours[operation])
        for key in (sc.GEN_AI_INPUT_MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES):
            if key in expected:  # same parts JSON; key order and null fields aside
                assert _messages(got.pop(key)) == _messages(expected.pop(key)), key
        missing = set(expected) - set(got) - ORACLE_ONLY.get(operation, set())
        extra = set(got) - set(expected) - RAG_OTEL_ONLY.get(operation, set())
        assert not missing, f"{operation}: util-genai writes {missing}, rag-otel does not"
        assert not extra, f"{operation}: rag-otel writes {extra}, util-genai does not"
        for key in set(expected) & set(got):
            assert type(got[key]) is type(expected[key]), (operation, key, got[key])
            assert got[key] == expected[key], (operation, key)
        # the documented gaps are real: each still differs (else drop it from the lists)
        for key in ORACLE_ONLY.get(operation, set()):
            assert key in expected, (operation, key)
            assert key not in got, (operation, key)
        for key in RAG_OTEL_ONLY.get(operation, set()):
            assert key in got, (operation, key)
            assert key not in expected, (operation, key)


@pytest.mark.usefixtures("content_on")
def test_span_kinds_agree_but_for_the_documented_deviations(
    span_exporter: InMemorySpanExporter,
) -> None:
    oracle, ours = _run_both(span_exporter)
    differences = {
        operation: (span.kind, ours[operation].kind)
        for operation, span in oracle.items()
        if span.kind is not ours[operation].kind
    }
    assert differences == KIND_DEVIATIONS


@pytest.mark.parametrize("mode", ["NO_CONTENT", "SPAN_ONLY", "EVENT_ONLY", "SPAN_AND_EVENT"])
def test_content_variable_means_the_same_to_both(
    span_exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.setenv(CONTENT_ENV, mode)
    monkeypatch.delenv("RAG_OTEL_CAPTURE_CONTENT", raising=False)
    saved = SETTINGS.capture_content
    SETTINGS.capture_content = capture_content_from_env()[0]
    try:
        oracle, ours = _run_both(span_exporter)
    finally:
        SETTINGS.capture_content = saved
    theirs_on_span = sc.GEN_AI_INPUT_MESSAGES in (oracle["chat"].attributes or {})
    ours_on_span = sc.GEN_AI_INPUT_MESSAGES in (ours["chat"].attributes or {})
    assert ours_on_span is theirs_on_span, mode

"""Conventions checked key by key; content gating; Langfuse's own default export filter."""

from __future__ import annotations

import json
from typing import Any

import pytest
from core_helpers import one
from langfuse._client.span_filter import is_default_export_span
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import rag_otel
from rag_otel import semconv as sc
from rag_otel._config import SETTINGS, TRUNCATION_MARK
from rag_otel._errors import COUNTS

STAGE_ATTRIBUTES: dict[str, dict[str, Any]] = {
    "embedding": {
        "rag.stage": "s",
        "rag.stage.kind": "embedding",
        "openinference.span.kind": "EMBEDDING",
        "gen_ai.operation.name": "embeddings",
    },
    "retrieval": {
        "rag.stage": "s",
        "rag.stage.kind": "retrieval",
        "openinference.span.kind": "RETRIEVER",
        "gen_ai.operation.name": "retrieval",
    },
    "fusion": {
        "rag.stage": "s",
        "rag.stage.kind": "fusion",
        "openinference.span.kind": "CHAIN",
        "gen_ai.workflow.name": "rag",
    },
    "rerank": {
        "rag.stage": "s",
        "rag.stage.kind": "rerank",
        "openinference.span.kind": "RERANKER",
        "gen_ai.operation.name": "rerank",
    },
    "generation": {
        "rag.stage": "s",
        "rag.stage.kind": "generation",
        "openinference.span.kind": "LLM",
        "gen_ai.operation.name": "chat",
    },
    "other": {
        "rag.stage": "s",
        "rag.stage.kind": "other",
        "openinference.span.kind": "CHAIN",
        "gen_ai.workflow.name": "rag",
    },
}


@pytest.mark.parametrize("kind", sc.STAGE_KINDS)
def test_stage_attributes_key_by_key(span_exporter: InMemorySpanExporter, kind: str) -> None:
    with rag_otel.stage("s", kind=kind) as handle:  # type: ignore[arg-type]
        assert handle.kind == kind
        assert handle.name == "s"
    span = one(span_exporter.get_finished_spans(), "s")
    assert dict(span.attributes or {}) == STAGE_ATTRIBUTES[kind]
    assert span.kind is SpanKind.INTERNAL
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == "rag_otel"


def test_static_attributes_are_added(span_exporter: InMemorySpanExporter) -> None:
    @rag_otel.stage("bm25", kind="retrieval", **{"rag.retriever": "bm25", "k": 20})
    def search() -> None:
        pass

    search()
    attrs = dict(one(span_exporter.get_finished_spans(), "bm25").attributes or {})
    assert attrs == {
        **STAGE_ATTRIBUTES["retrieval"],
        "rag.stage": "bm25",
        "rag.retriever": "bm25",
        "k": 20,
    }


def test_turn_attributes_and_kind(span_exporter: InMemorySpanExporter) -> None:
    with rag_otel.turn(session_id="user-42", user_id="u-1", channel="web") as t:
        assert len(t.turn_id) == 32
        assert t.turn_id[12] == "4"
    with rag_otel.turn(turn_id="given-id") as given:
        assert given.turn_id == "given-id"
    first, second = span_exporter.get_finished_spans()
    assert first.name == sc.TURN_SPAN_NAME
    assert dict(first.attributes or {}) == {
        "rag.turn.id": t.turn_id,
        "session.id": "user-42",
        "gen_ai.conversation.id": "user-42",
        "user.id": "u-1",
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.workflow.name": "rag",
        "channel": "web",
    }
    assert dict(second.attributes or {}) == {
        "rag.turn.id": "given-id",
        "gen_ai.operation.name": "invoke_workflow",
        "gen_ai.workflow.name": "rag",
    }
    assert first.kind is SpanKind.SERVER  # root of its trace


def test_turn_under_a_request_span_is_internal(span_exporter: InMemorySpanExporter) -> None:
    tracer = trace.get_tracer("web.framework")
    with tracer.start_as_current_span("GET /ask", kind=SpanKind.SERVER), rag_otel.turn():
        pass
    turn = one(span_exporter.get_finished_spans(), "rag.turn")
    assert turn.kind is SpanKind.INTERNAL
    assert turn.parent is not None


def test_operation_attributes(span_exporter: InMemorySpanExporter) -> None:
    with rag_otel.operation("chroma.add", data_source="docs") as op:
        op.set_attribute("db.batch", 3)
    with rag_otel.operation("cache.warm", kind="housekeeping"):
        pass
    add, warm = span_exporter.get_finished_spans()
    assert dict(add.attributes or {}) == {
        "rag.operation": "ingest",
        "gen_ai.data_source.id": "docs",
        "db.batch": 3,
    }
    assert dict(warm.attributes or {}) == {
        "rag.operation": "housekeeping",
        "gen_ai.workflow.name": "rag",
    }
    assert sc.RAG_STAGE not in (add.attributes or {})


def test_retrieval_handle(span_exporter: InMemorySpanExporter) -> None:
    with rag_otel.stage("retrieve", kind="retrieval") as s:
        s.record_documents(["d1", "d2", 3], [0.9, 0.5, 0.1], contents=["a", "b", "c"])
        s.set_top_k(20)
        s.set_data_source("faq")
        s.set_query("where is my permit?")
    attrs = dict(one(span_exporter.get_finished_spans(), "retrieve").attributes or {})
    extra = {k: v for k, v in attrs.items() if k not in STAGE_ATTRIBUTES["retrieval"]}
    assert extra == {
        "retrieval.documents.0.document.id": "d1",
        "retrieval.documents.0.document.score": 0.9,
        "retrieval.documents.1.document.id": "d2",
        "retrieval.documents.1.document.score": 0.5,
        "retrieval.documents.2.document.id": "3",
        "retrieval.documents.2.document.score": 0.1,
        "gen_ai.retrieval.documents": json.dumps(
            [{"id": "d1", "score": 0.9}, {"id": "d2", "score": 0.5}, {"id": "3", "score": 0.1}]
        ),
        "gen_ai.request.top_k": 20.0,
        "gen_ai.data_source.id": "faq",
    }  # no query text, no document content: capture is off by default


def test_documents_are_bounded(span_exporter: InMemorySpanExporter) -> None:
    with rag_otel.stage("retrieve", kind="retrieval") as s:
        s.record_documents([f"d{i}" for i in range(100)], [1.0 / (i + 1) for i in range(100)])
    attrs = one(span_exporter.get_finished_spans(), "retrieve").attributes or {}
    limit = SETTINGS.max_documents
    assert f"retrieval.documents.{limit - 1}.document.id" in attrs
    assert f"retrieval.documents.{limit}.document.id" not in attrs
    assert len(json.loads(str(attrs["gen_ai.retrieval.documents"]))) == limit


def test_rerank_handle(span_exporter: InMemorySpanExporter) -> None:
    with rag_otel.stage("rerank", kind="rerank") as s:
        s.record_input_documents(["a", "b"], [0.2, 0.3])
        s.record_documents(["b"], [0.99])
        s.set_top_k(1)
        s.set_model("ms-marco-MiniLM-L-12-v2")
    attrs = dict(one(span_exporter.get_finished_spans(), "rerank").attributes or {})
    extra = {k: v for k, v in attrs.items() if k not in STAGE_ATTRIBUTES["rerank"]}
    assert extra == {
        "reranker.input_documents.0.document.id": "a",
        "reranker.input_documents.0.document.score": 0.2,
        "reranker.input_documents.1.document.id": "b",
        "reranker.input_documents.1.document.score": 0.3,
        "reranker.output_documents.0.document.id": "b",
        "reranker.output_documents.0.document.score": 0.99,
        "gen_ai.retrieval.documents": '[{"id": "b", "score": 0.99}]',
        "gen_ai.request.top_k": 1.0,
        "reranker.top_k": 1,
        "gen_ai.request.model": "ms-marco-MiniLM-L-12-v2",
        "reranker.model_name": "ms-marco-MiniLM-L-12-v2",
    }


def test_embedding_and_generation_handles(span_exporter: InMemorySpanExporter) -> None:
    with rag_otel.stage("embed", kind="embedding") as e:
        e.set_model("all-MiniLM-L6-v2")
        e.set_embedding_dimension(384)
        e.set_usage(input_tokens=7)
    with rag_otel.stage("generate", kind="generation") as g:
        g.set_model("gpt-x", response_model="gpt-x-2026")
        g.set_usage(input_tokens=100, output_tokens=20)
    embed, generate = span_exporter.get_finished_spans()
    assert {
        k: v for k, v in (embed.attributes or {}).items() if k not in STAGE_ATTRIBUTES["embedding"]
    } == {
        "gen_ai.request.model": "all-MiniLM-L6-v2",
        "embedding.model_name": "all-MiniLM-L6-v2",
        "gen_ai.embeddings.dimension.count": 384,
        "gen_ai.usage.input_tokens": 7,
        "llm.token_count.prompt": 7,
        "llm.token_count.total": 7,
    }
    assert {
        k: v
        for k, v in (generate.attributes or {}).items()
        if k not in STAGE_ATTRIBUTES["generation"]
    } == {
        "gen_ai.request.model": "gpt-x",
        "llm.model_name": "gpt-x",
        "gen_ai.response.model": "gpt-x-2026",
        "gen_ai.usage.input_tokens": 100,
        "gen_ai.usage.output_tokens": 20,
        "llm.token_count.prompt": 100,
        "llm.token_count.completion": 20,
        "llm.token_count.total": 120,
    }


# --- content ---------------------------------------------------------------------------


def _content_calls() -> None:
    with rag_otel.turn() as t:
        t.set_input("question?")
        with rag_otel.stage("retrieve", kind="retrieval") as s:
            s.set_query("secret query")
            s.record_documents(["d1"], [1.0], contents=["secret document"])
        with rag_otel.stage("rerank", kind="rerank") as r:
            r.set_query("secret query")
        with rag_otel.stage("generate", kind="generation") as g:
            g.set_input([{"role": "user", "content": "prompt"}])
            g.set_output("answer")
        t.set_output("answer")


CONTENT_KEYS = {
    sc.INPUT_VALUE,
    sc.OUTPUT_VALUE,
    sc.GEN_AI_RETRIEVAL_QUERY_TEXT,
    sc.RERANKER_QUERY,
    "retrieval.documents.0.document.content",
}


def test_no_content_by_default(span_exporter: InMemorySpanExporter) -> None:
    assert rag_otel.content_capture_enabled() is False
    _content_calls()
    for span in span_exporter.get_finished_spans():
        assert not CONTENT_KEYS & set(span.attributes or {}), span.name
        assert "secret" not in json.dumps(dict(span.attributes or {}))


@pytest.mark.usefixtures("capture_content")
def test_content_when_enabled_redacted_and_truncated(
    span_exporter: InMemorySpanExporter,
) -> None:
    SETTINGS.redact = lambda text: text.replace("secret", "[redacted]")
    SETTINGS.max_content_length = 12
    _content_calls()
    spans = {s.name: dict(s.attributes or {}) for s in span_exporter.get_finished_spans()}
    assert spans["retrieve"]["gen_ai.retrieval.query.text"] == "[redacted] q" + TRUNCATION_MARK
    assert spans["retrieve"]["input.value"] == "[redacted] q" + TRUNCATION_MARK
    assert spans["retrieve"]["retrieval.documents.0.document.content"] == (
        "[redacted] d" + TRUNCATION_MARK
    )
    assert spans["rerank"]["reranker.query"] == "[redacted] q" + TRUNCATION_MARK
    assert spans["generate"]["input.value"] == '[{"role": "u' + TRUNCATION_MARK
    assert spans["generate"]["output.value"] == "answer"
    assert spans["rag.turn"]["input.value"] == "question?"
    assert "secret" not in json.dumps(spans)


# --- odd values never raise --------------------------------------------------------------


def test_odd_values_are_contained(span_exporter: InMemorySpanExporter) -> None:
    class Odd:
        def __str__(self) -> str:
            return "odd"

    before = sum(COUNTS.values())
    with rag_otel.stage("odd", kind="retrieval", weird=Odd(), nothing=None) as s:
        s.set_attribute("mapping", {"a": 1})
        s.set_attribute("mixed", [1, "a"])
        s.set_attributes({"ok": (1, 2)})
        s.record_documents(["a"], ["not a number"])  # float() fails: contained
        s.set_top_k("many")  # type: ignore[arg-type]
    attrs = dict(one(span_exporter.get_finished_spans(), "odd").attributes or {})
    assert attrs["weird"] == "odd"
    assert "nothing" not in attrs
    assert attrs["mapping"] == "{'a': 1}"
    assert attrs["mixed"] == "[1, 'a']"
    assert attrs["ok"] == (1, 2)
    assert sum(COUNTS.values()) > before


# --- Langfuse's default export filter ----------------------------------------------------


def test_every_rag_otel_span_survives_langfuse_default_filter(
    span_exporter: InMemorySpanExporter,
) -> None:
    with rag_otel.turn():  # no session id: the turn still carries gen_ai.* attributes
        for kind in sc.STAGE_KINDS:
            with rag_otel.stage(f"stage.{kind}", kind=kind):
                pass
    with rag_otel.operation("chroma.add", data_source="docs"):
        pass
    with rag_otel.operation("housekeeping"):
        pass
    trace.get_tracer("plain").start_span("plain.span").end()  # the control

    spans = span_exporter.get_finished_spans()
    assert len(spans) == len(sc.STAGE_KINDS) + 4
    verdicts = {s.name: is_default_export_span(s) for s in spans}
    assert verdicts.pop("plain.span") is False  # the filter really filters
    assert verdicts == dict.fromkeys(verdicts, True)

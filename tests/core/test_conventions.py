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
from rag_otel._config import SETTINGS, TRUNCATION_MARK, Settings, capture_content_from_env
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
        "gen_ai.operation.name": "fusion",
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
        "gen_ai.operation.name": "task",
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
        "channel": "web",
    }  # no gen_ai.workflow.name: none was given, and rag-otel never makes one up
    assert dict(second.attributes or {}) == {
        "rag.turn.id": "given-id",
        "gen_ai.operation.name": "invoke_workflow",
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
        "gen_ai.operation.name": "ingest",
        "gen_ai.data_source.id": "docs",
        "db.batch": 3,
    }
    assert dict(warm.attributes or {}) == {
        "rag.operation": "housekeeping",
        "gen_ai.operation.name": "housekeeping",
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
        "gen_ai.retrieval.top_k": 20,
        "gen_ai.data_source.id": "faq",
    }  # no query text, no document content: capture is off by default
    assert type(attrs["gen_ai.retrieval.top_k"]) is int  # an int, not GenAI's old double
    assert "gen_ai.request.top_k" not in attrs  # the decoding top-k of a model, not ours


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
        "gen_ai.rerank.candidate.count": 2,
        "gen_ai.rerank.top_n": 1,
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


# --- issue 12: the current GenAI conventions, item by item ---------------------------------


def test_spec_commit_is_stated() -> None:
    assert sc.GEN_AI_SPEC_REPOSITORY == "open-telemetry/semantic-conventions-genai"
    assert len(sc.GEN_AI_SPEC_COMMIT) == 40
    assert sc.GEN_AI_SPEC_COMMIT in (sc.__doc__ or "")


@pytest.fixture
def workflow_name() -> Any:
    saved = SETTINGS.workflow_name
    yield
    SETTINGS.workflow_name = saved


@pytest.mark.usefixtures("workflow_name")
def test_workflow_name_only_when_the_user_names_it(span_exporter: InMemorySpanExporter) -> None:
    SETTINGS.workflow_name = None
    with rag_otel.turn(), rag_otel.stage("fuse", kind="fusion"):
        pass
    with rag_otel.turn(workflow="faq-bot"):
        pass
    SETTINGS.workflow_name = "from-configure"  # what configure(workflow_name=...) sets
    with rag_otel.turn():
        pass
    with rag_otel.turn(workflow="faq-bot"):  # the turn's own name wins
        pass
    fuse, unnamed, named, configured, own = span_exporter.get_finished_spans()
    for span in (fuse, unnamed):
        assert sc.GEN_AI_WORKFLOW_NAME not in (span.attributes or {}), span.name
    assert (named.attributes or {})[sc.GEN_AI_WORKFLOW_NAME] == "faq-bot"
    assert (configured.attributes or {})[sc.GEN_AI_WORKFLOW_NAME] == "from-configure"
    assert (own.attributes or {})[sc.GEN_AI_WORKFLOW_NAME] == "faq-bot"


def test_workflow_name_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAG_OTEL_WORKFLOW_NAME", raising=False)
    assert Settings().workflow_name is None
    monkeypatch.setenv("RAG_OTEL_WORKFLOW_NAME", "support-bot")
    assert Settings().workflow_name == "support-bot"


def test_every_stage_kind_has_an_operation_name() -> None:
    defined = {"embeddings", "retrieval", "chat"}  # in the spec's gen_ai.operation.name values
    for kind in sc.STAGE_KINDS:
        operation = sc.KIND_CONVENTIONS[kind].gen_ai_operation
        assert operation, kind
        assert operation in defined | {"rerank", "fusion", "task"}, kind


def test_streamed_generation_records_stream_true(span_exporter: InMemorySpanExporter) -> None:
    @rag_otel.stage("stream", kind="generation")
    def stream() -> Any:
        yield "a"
        yield "b"

    @rag_otel.stage("astream", kind="generation")
    async def astream() -> Any:
        yield "a"

    @rag_otel.stage("whole", kind="generation")
    def whole() -> str:
        return "ab"

    @rag_otel.stage("hits", kind="retrieval")
    def hits() -> Any:
        yield "d1"

    async def consume() -> None:
        async for _ in astream():
            pass

    import asyncio

    assert "".join(stream()) == "ab"
    asyncio.run(consume())
    assert whole() == "ab"
    assert list(hits()) == ["d1"]
    spans = {s.name: dict(s.attributes or {}) for s in span_exporter.get_finished_spans()}
    for name in ("stream", "astream"):
        assert spans[name][sc.GEN_AI_REQUEST_STREAM] is True, name
        assert sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in spans[name], name
    for name in ("whole", "hits"):
        assert sc.GEN_AI_REQUEST_STREAM not in spans[name], name


def test_shared_scope_on_a_generator_and_a_function(span_exporter: InMemorySpanExporter) -> None:
    scope = rag_otel.stage("gen", kind="generation")  # one shared scope, two shapes

    @scope
    def streamed() -> Any:
        yield "x"

    @scope
    def returned() -> str:
        return "x"

    list(streamed())
    returned()
    first, second = span_exporter.get_finished_spans()
    assert (first.attributes or {})[sc.GEN_AI_REQUEST_STREAM] is True
    assert sc.GEN_AI_REQUEST_STREAM not in (second.attributes or {})


def test_provider_from_stage_and_set_model(span_exporter: InMemorySpanExporter) -> None:
    with rag_otel.stage("embed", kind="embedding", provider="cohere"):
        pass
    with rag_otel.stage("generate", kind="generation") as g:
        g.set_model("gpt-x", provider="openai")
    with rag_otel.stage("retrieve", kind="retrieval"):
        pass
    embed, generate, retrieve = span_exporter.get_finished_spans()
    assert (embed.attributes or {})[sc.GEN_AI_PROVIDER_NAME] == "cohere"
    assert (generate.attributes or {})[sc.GEN_AI_PROVIDER_NAME] == "openai"
    assert sc.GEN_AI_PROVIDER_NAME not in (retrieve.attributes or {})  # never guessed


def test_conversation_id_on_generation_stages_in_a_session(
    span_exporter: InMemorySpanExporter,
) -> None:
    @rag_otel.stage("generate", kind="generation")
    def generate() -> Any:
        yield "a"

    with rag_otel.turn(session_id="conv-7"):
        with rag_otel.stage("answer", kind="generation"):
            pass
        list(generate())
        with rag_otel.stage("retrieve", kind="retrieval"):
            pass
    # no session: no conversation id, never a made-up one
    with rag_otel.turn(), rag_otel.stage("answer.anon", kind="generation"):
        pass
    with rag_otel.stage("answer.alone", kind="generation"):  # outside any turn
        pass
    spans = {s.name: dict(s.attributes or {}) for s in span_exporter.get_finished_spans()}
    assert spans["answer"][sc.GEN_AI_CONVERSATION_ID] == "conv-7"
    assert spans["generate"][sc.GEN_AI_CONVERSATION_ID] == "conv-7"
    for name in ("retrieve", "answer.anon", "answer.alone"):
        assert sc.GEN_AI_CONVERSATION_ID not in spans[name], name


def test_no_messages_without_capture(span_exporter: InMemorySpanExporter) -> None:
    with rag_otel.stage("generate", kind="generation") as g:
        g.set_input("prompt")
        g.set_output("answer")
    attrs = dict(one(span_exporter.get_finished_spans(), "generate").attributes or {})
    assert sc.GEN_AI_INPUT_MESSAGES not in attrs
    assert sc.GEN_AI_OUTPUT_MESSAGES not in attrs


@pytest.mark.usefixtures("capture_content")
def test_generation_messages_in_the_parts_format(span_exporter: InMemorySpanExporter) -> None:
    with rag_otel.stage("chat", kind="generation") as g:
        g.set_input(
            [
                {"role": "system", "content": "Answer from the passages."},
                {"role": "user", "content": "Where is my permit?"},
            ]
        )
        g.set_output("At the town hall.", finish_reason="length")
    with rag_otel.stage("plain", kind="generation") as p:
        p.set_input("just a prompt")
        p.set_output("an answer")
    with rag_otel.stage("retrieve", kind="retrieval") as r:
        r.set_input("query")
    spans = {s.name: dict(s.attributes or {}) for s in span_exporter.get_finished_spans()}
    assert json.loads(str(spans["chat"][sc.GEN_AI_INPUT_MESSAGES])) == [
        {"role": "system", "parts": [{"type": "text", "content": "Answer from the passages."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Where is my permit?"}]},
    ]
    assert json.loads(str(spans["chat"][sc.GEN_AI_OUTPUT_MESSAGES])) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "At the town hall."}],
            "finish_reason": "length",
        }
    ]
    assert json.loads(str(spans["plain"][sc.GEN_AI_INPUT_MESSAGES])) == [
        {"role": "user", "parts": [{"type": "text", "content": "just a prompt"}]}
    ]
    assert json.loads(str(spans["plain"][sc.GEN_AI_OUTPUT_MESSAGES]))[0]["finish_reason"] == "stop"
    assert sc.GEN_AI_INPUT_MESSAGES not in spans["retrieve"]  # generation stages only


@pytest.mark.usefixtures("capture_content")
def test_messages_are_redacted_and_truncated_per_part(
    span_exporter: InMemorySpanExporter,
) -> None:
    SETTINGS.redact = lambda text: text.replace("secret", "[redacted]")
    SETTINGS.max_content_length = 12
    with rag_otel.stage("chat", kind="generation") as g:
        g.set_input([{"role": "user", "content": "secret question, long"}])
    attrs = dict(one(span_exporter.get_finished_spans(), "chat").attributes or {})
    messages = json.loads(str(attrs[sc.GEN_AI_INPUT_MESSAGES]))  # still valid JSON
    assert messages[0]["parts"][0]["content"] == "[redacted] q" + TRUNCATION_MARK


CONTENT_ENV = (
    "RAG_OTEL_CAPTURE_CONTENT",
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
    "OPENINFERENCE_HIDE_INPUTS",
    "OPENINFERENCE_HIDE_OUTPUTS",
)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, (False, "default")),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY"}, (True, "OTEL")),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "span_and_event"}, (True, "OTEL")),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "EVENT_ONLY"}, (False, "OTEL")),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "NO_CONTENT"}, (False, "OTEL")),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "true"}, (True, "OTEL")),
        ({"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "false"}, (False, "OTEL")),
        # the rag-otel variable wins over the ecosystem's
        (
            {
                "RAG_OTEL_CAPTURE_CONTENT": "false",
                "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY",
            },
            (False, "RAG_OTEL"),
        ),
        (
            {
                "RAG_OTEL_CAPTURE_CONTENT": "true",
                "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "NO_CONTENT",
            },
            (True, "RAG_OTEL"),
        ),
        # OTel's variable wins over OpenInference's
        (
            {
                "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "NO_CONTENT",
                "OPENINFERENCE_HIDE_INPUTS": "false",
            },
            (False, "OTEL"),
        ),
        # an unknown value is skipped: the next variable decides
        (
            {
                "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "everything",
                "OPENINFERENCE_HIDE_INPUTS": "false",
            },
            (True, "OPENINFERENCE"),
        ),
        ({"OPENINFERENCE_HIDE_INPUTS": "false"}, (True, "OPENINFERENCE")),
        ({"OPENINFERENCE_HIDE_OUTPUTS": "false"}, (True, "OPENINFERENCE")),
        (
            {"OPENINFERENCE_HIDE_INPUTS": "true", "OPENINFERENCE_HIDE_OUTPUTS": "false"},
            (False, "OPENINFERENCE"),  # one switch: a partial hide keeps all content off
        ),
        ({"OPENINFERENCE_HIDE_OUTPUTS": "true"}, (False, "OPENINFERENCE")),
    ],
)
def test_content_switch_order(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: tuple[bool, str]
) -> None:
    for name in CONTENT_ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    on, source = capture_content_from_env()
    assert on is expected[0]
    assert source.startswith(expected[1]), source  # which variable decided
    assert Settings().capture_content is on

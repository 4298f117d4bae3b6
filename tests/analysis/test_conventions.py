"""Stage and turn recognition (`rag_otel.analysis.conventions`): the table, its precedence,
what the readers make of it, and how `build_trace` picks turns from the markers."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson
import pytest

from rag_otel.analysis.conventions import (
    CONVENTIONS,
    RECOGNITION_KEYS,
    STAGE_KINDS,
    classify_span,
)
from rag_otel.analysis.model import (
    SPAN_KIND_CLIENT,
    SPAN_KIND_INTERNAL,
    SPAN_KIND_SERVER,
    TURN_ANYWHERE,
    TURN_AT_ROOT,
    TURN_NONE,
    Diagnostics,
    Span,
)
from rag_otel.analysis.readers.jaeger import decode_response
from rag_otel.analysis.readers.otlp import ReadState, decode_resource_spans
from rag_otel.analysis.report import analyze
from rag_otel.analysis.traces import build_trace

OI = "openinference.span.kind"
TL = "traceloop.span.kind"
TL_NAME = "traceloop.entity.name"
OP = "gen_ai.operation.name"
LF = "langfuse.observation.type"
HS_TYPE = "haystack.component.type"
HS_NAME = "haystack.component.name"
ML = "mlflow.spanType"


def classified(
    attributes: Mapping[str, Any], *, name: str = "span-name", kind: int = SPAN_KIND_INTERNAL
) -> tuple[str | None, str | None, str | None, int]:
    span = Span("t", "s", None, name, 0, 1, kind=kind)
    classify_span(span, attributes)
    return span.stage, span.stage_kind, span.stage_source, span.turn_candidate


# (attributes, span name) -> (stage name, kind, source, turn candidate)
TABLE: list[tuple[dict[str, Any], str, tuple[str | None, str | None, str | None, int]]] = [
    # rag-otel
    (
        {"rag.stage": "embed", "rag.stage.kind": "embedding"},
        "x",
        ("embed", "embedding", "rag-otel", 0),
    ),
    ({"rag.stage": "mix", "rag.stage.kind": "Fusion"}, "x", ("mix", "fusion", "rag-otel", 0)),
    ({"rag.stage": "s"}, "x", ("s", "other", "rag-otel", 0)),
    ({"rag.stage": "s", "rag.stage.kind": "teleport"}, "x", ("s", "other", "rag-otel", 0)),
    ({"rag.stage": 7}, "x", ("7", "other", "rag-otel", 0)),
    # OpenInference: the span name names the stage
    ({OI: "LLM"}, "generate", ("generate", "generation", "openinference", 0)),
    ({OI: "EMBEDDING"}, "embed", ("embed", "embedding", "openinference", 0)),
    ({OI: "RETRIEVER"}, "retrieve", ("retrieve", "retrieval", "openinference", 0)),
    ({OI: "RERANKER"}, "rerank", ("rerank", "rerank", "openinference", 0)),
    ({OI: "TOOL"}, "lookup", ("lookup", "tool", "openinference", 0)),
    ({OI: "CHAIN"}, "rag_turn", ("rag_turn", "other", "openinference", TURN_AT_ROOT)),
    ({OI: "AGENT"}, "agent", ("agent", "other", "openinference", TURN_AT_ROOT)),
    ({OI: "GUARDRAIL"}, "guard", ("guard", "other", "openinference", 0)),
    ({OI: "EVALUATOR"}, "judge", ("judge", "other", "openinference", 0)),
    ({OI: "PROMPT"}, "prompt", ("prompt", "other", "openinference", 0)),
    ({OI: "UNKNOWN"}, "u", ("u", "other", "openinference", 0)),
    ({OI: "llm"}, "g", ("g", "generation", "openinference", 0)),  # case-insensitive
    # OpenLLMetry: traceloop.entity.name names the stage
    ({TL: "task", TL_NAME: "retrieve"}, "retrieve.task", ("retrieve", "other", "openllmetry", 0)),
    ({TL: "tool", TL_NAME: "lookup"}, "lookup.tool", ("lookup", "tool", "openllmetry", 0)),
    ({TL: "agent", TL_NAME: "a"}, "a.agent", ("a", "other", "openllmetry", TURN_AT_ROOT)),
    (
        {TL: "workflow", TL_NAME: "rag"},
        "rag.workflow",
        ("rag", "other", "openllmetry", TURN_ANYWHERE),
    ),
    ({TL: "task"}, "nameless.task", ("nameless.task", "other", "openllmetry", 0)),
    ({"llm.request.type": "chat"}, "openai.chat", ("openai.chat", "generation", "openllmetry", 0)),
    ({"llm.request.type": "completion"}, "c", ("c", "generation", "openllmetry", 0)),
    ({"llm.request.type": "embedding"}, "e", ("e", "embedding", "openllmetry", 0)),
    ({"llm.request.type": "rerank"}, "r", ("r", "rerank", "openllmetry", 0)),
    # GenAI: the operation (and the tool / agent / data source), never the model
    (
        {OP: "chat", "gen_ai.request.model": "gpt-4o"},
        "chat gpt-4o",
        ("chat", "generation", "gen-ai", 0),
    ),
    ({OP: "text_completion"}, "t", ("text_completion", "generation", "gen-ai", 0)),
    ({OP: "generate_content"}, "g", ("generate_content", "generation", "gen-ai", 0)),
    ({OP: "embeddings"}, "embeddings m", ("embeddings", "embedding", "gen-ai", 0)),
    (
        {OP: "retrieval", "gen_ai.data_source.id": "kb"},
        "r",
        ("retrieval", "retrieval", "gen-ai", 0),
    ),
    ({OP: "retrieval"}, "r", ("retrieval", "retrieval", "gen-ai", 0)),
    ({OP: "search_memory"}, "m", ("search_memory", "retrieval", "gen-ai", 0)),
    ({OP: "rerank"}, "r", ("rerank", "rerank", "gen-ai", 0)),
    (
        {OP: "execute_tool", "gen_ai.tool.name": "weather"},
        "x",
        ("weather", "tool", "gen-ai", 0),
    ),
    (
        {OP: "invoke_agent", "gen_ai.agent.name": "Bot"},
        "x",
        ("Bot", "other", "gen-ai", TURN_ANYWHERE),
    ),
    ({OP: "invoke_workflow"}, "x", ("invoke_workflow", "other", "gen-ai", TURN_ANYWHERE)),
    (
        {OP: "invoke_workflow", "gen_ai.workflow.name": "rag_turn"},
        "invoke_workflow rag_turn",
        ("rag_turn", "other", "gen-ai", TURN_ANYWHERE),
    ),
    ({OP: "execute_tool"}, "execute_tool", ("execute_tool", "tool", "gen-ai", 0)),
    ({OP: "create_agent"}, "x", ("create_agent", "other", "gen-ai", 0)),
    ({OP: "plan"}, "x", ("plan", "other", "gen-ai", 0)),
    # Langfuse: the observation name is the span name
    ({LF: "generation"}, "llm", ("llm", "generation", "langfuse", 0)),
    ({LF: "GENERATION"}, "llm", ("llm", "generation", "langfuse", 0)),
    ({LF: "embedding"}, "e", ("e", "embedding", "langfuse", 0)),
    ({LF: "retriever"}, "r", ("r", "retrieval", "langfuse", 0)),
    ({LF: "tool"}, "t", ("t", "tool", "langfuse", 0)),
    ({LF: "agent"}, "a", ("a", "other", "langfuse", TURN_AT_ROOT)),
    ({LF: "chain"}, "c", ("c", "other", "langfuse", TURN_AT_ROOT)),
    ({LF: "span"}, "s", ("s", "other", "langfuse", TURN_AT_ROOT)),
    ({LF: "event"}, "e", (None, None, None, 0)),
    # Haystack (opentelemetry-haystack): components by class, pipelines and agents by span name
    *[
        (
            {HS_TYPE: type_, HS_NAME: "c1", "haystack.component.visits": 1},
            "haystack.component.run",
            ("c1", kind, "haystack", 0),
        )
        for type_, kind in [
            ("OpenAITextEmbedder", "embedding"),
            ("SentenceTransformersDocumentEmbedder", "embedding"),
            ("InMemoryBM25Retriever", "retrieval"),
            ("InMemoryEmbeddingRetriever", "retrieval"),
            ("DocumentJoiner", "fusion"),
            ("BranchJoiner", "fusion"),
            ("MetaFieldRanker", "rerank"),
            ("TransformersSimilarityRanker", "rerank"),
            ("OpenAIGenerator", "generation"),
            ("OpenAIChatGenerator", "generation"),
            ("ToolInvoker", "tool"),
            ("ChatPromptBuilder", "other"),
            ("PyPDFToDocument", "other"),
            ("Agent", "other"),
        ]
    ],
    (
        {HS_TYPE: "InMemoryBM25Retriever"},
        "haystack.component.run",
        ("haystack.component.run", "retrieval", "haystack", 0),
    ),
    ({}, "haystack.pipeline.run", ("haystack.pipeline.run", "other", "haystack", TURN_ANYWHERE)),
    (
        {"haystack.pipeline.execution_mode": "async"},
        "haystack.async_pipeline.run",
        ("haystack.async_pipeline.run", "other", "haystack", TURN_ANYWHERE),
    ),
    ({}, "haystack.agent.run", ("haystack.agent.run", "other", "haystack", TURN_ANYWHERE)),
    (
        {"haystack.agent.step": 0},
        "haystack.agent.step",
        ("haystack.agent.step", "other", "haystack", 0),
    ),
    ({}, "haystack.agent.step.llm", ("haystack.agent.step.llm", "generation", "haystack", 0)),
    (
        {"haystack.tool.name": "weather"},
        "haystack.agent.step.tool",
        ("weather", "tool", "haystack", 0),
    ),
    ({}, "Haystack.Pipeline.Run", (None, None, None, 0)),  # span names match exactly
    # MLflow Tracing: mlflow.spanType is JSON-encoded; the span name names the stage
    *[
        ({ML: f'"{type_}"'}, "s", ("s", kind, "mlflow", turn))
        for type_, kind, turn in [
            ("EMBEDDING", "embedding", 0),
            ("RETRIEVER", "retrieval", 0),
            ("RERANKER", "rerank", 0),
            ("LLM", "generation", 0),
            ("CHAT_MODEL", "generation", 0),
            ("TOOL", "tool", 0),
            ("CHAIN", "other", TURN_AT_ROOT),
            ("AGENT", "other", TURN_AT_ROOT),
            ("PARSER", "other", TURN_AT_ROOT),
            ("UNKNOWN", "other", TURN_AT_ROOT),
        ]
    ],
    ({ML: "RETRIEVER"}, "s", ("s", "retrieval", "mlflow", 0)),  # not encoded: read as it is
    ({ML: '"RETRIEVER'}, "s", ("s", "other", "mlflow", TURN_AT_ROOT)),  # broken JSON: unknown
    # database clients
    ({"db.system.name": "postgresql"}, "SELECT docs", ("SELECT docs", "retrieval", "db", 0)),
    ({"db.system": "redis"}, "GET", ("GET", "retrieval", "db", 0)),
    # nothing recognisable
    ({}, "x", (None, None, None, 0)),
    ({"http.method": "GET"}, "GET /", (None, None, None, 0)),
]


@pytest.mark.parametrize(("attributes", "name", "expected"), TABLE)
def test_each_convention_maps_to_a_stage_kind_and_source(
    attributes: dict[str, Any], name: str, expected: tuple[Any, ...]
) -> None:
    assert classified(attributes, name=name) == expected
    kind = expected[1]
    assert kind is None or kind in STAGE_KINDS


PRECEDENCE: list[tuple[str, dict[str, Any], tuple[str | None, str | None, str | None, int]]] = [
    (
        "rag-otel before OpenInference and GenAI (rag-otel's own spans carry all three)",
        {"rag.stage": "embed", "rag.stage.kind": "embedding", OI: "EMBEDDING", OP: "embeddings"},
        ("embed", "embedding", "rag-otel", TURN_NONE),
    ),
    (
        "rag.operation (ingest) is never a stage, whatever else it carries",
        {"rag.operation": "ingest", "db.system.name": "chroma", OI: "RETRIEVER"},
        (None, None, None, TURN_NONE),
    ),
    (
        "OpenInference before OpenLLMetry",
        {OI: "RETRIEVER", TL: "task", TL_NAME: "other-name"},
        ("span-name", "retrieval", "openinference", TURN_NONE),
    ),
    (
        "OpenLLMetry's span kind before GenAI",
        {TL: "tool", TL_NAME: "lookup", OP: "execute_tool", "gen_ai.tool.name": "lookup"},
        ("lookup", "tool", "openllmetry", TURN_NONE),
    ),
    (
        "GenAI before OpenLLMetry's llm.request.type (its LLM client spans carry both)",
        {OP: "chat", "llm.request.type": "chat"},
        ("chat", "generation", "gen-ai", TURN_NONE),
    ),
    (
        "GenAI before Langfuse",
        {LF: "span", OP: "embeddings"},
        ("embeddings", "embedding", "gen-ai", TURN_NONE),
    ),
    (
        "Langfuse before database clients",
        {LF: "retriever", "db.system.name": "postgresql"},
        ("span-name", "retrieval", "langfuse", TURN_NONE),
    ),
    (
        "db.system.name before the older db.system",
        {"db.system": "redis", "db.system.name": "postgresql"},
        ("span-name", "retrieval", "db", TURN_NONE),
    ),
]


@pytest.mark.parametrize(
    ("why", "attributes", "expected"), PRECEDENCE, ids=[p[0] for p in PRECEDENCE]
)
def test_one_precedence_order_decides_conflicts(
    why: str, attributes: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    assert classified(attributes) == expected, why


def test_a_langfuse_event_stops_at_its_row_and_db_server_spans_are_not_stages() -> None:
    # an event is not work: a later row (db) does not make it a stage
    assert classified({LF: "event", "db.system.name": "postgresql"}) == (None, None, None, 0)
    # the database's own server span times the same call as the client's span
    assert classified({"db.system.name": "postgresql"}, kind=SPAN_KIND_SERVER)[0] is None
    assert classified({"db.system.name": "postgresql"}, kind=SPAN_KIND_CLIENT)[2] == "db"


def test_rag_turn_spans_are_turns_with_their_id() -> None:
    span = Span("t", "s", None, "rag.turn", 0, 1)
    classify_span(span, {"rag.turn.id": 42, OI: "CHAIN"})
    assert (span.is_turn, span.turn_id, span.stage, span.turn_candidate) == (True, "42", None, 0)


def test_rag_stage_set_to_nothing_is_no_stage_in_classify_and_in_the_reader() -> None:
    assert classified({"rag.stage": None, OI: "RETRIEVER"}) == (None, None, None, 0)
    attrs = [
        {"key": "rag.stage", "value": {}},
        {"key": OI, "value": {"stringValue": "RETRIEVER"}},
    ]
    rs = [
        {
            "scopeSpans": [
                {
                    "spans": [
                        {
                            "traceId": "1" * 32,
                            "spanId": "2" * 16,
                            "name": "n",
                            "startTimeUnixNano": "1",
                            "endTimeUnixNano": "2",
                            "attributes": attrs,
                        }
                    ]
                }
            ]
        }
    ]
    (span,) = decode_resource_spans(rs, ReadState("x", Diagnostics()), None)
    assert (span.stage, span.stage_kind, span.stage_source) == (None, None, None)


def test_classify_resets_what_an_earlier_classification_set() -> None:
    span = Span("t", "s", None, "retrieve", 0, 1)
    classify_span(span, {OI: "RETRIEVER"})
    classify_span(span, {})
    assert (span.stage, span.stage_kind, span.stage_source) == (None, None, None)


class _Recording(dict[str, Any]):
    """An attribute mapping that remembers every key asked for."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        super().__init__(data)
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return super().__contains__(key)


def _every_key_value() -> Iterator[dict[str, Any]]:
    for attributes, _name, _expected in TABLE:
        yield attributes
    for convention in CONVENTIONS:
        for key in convention.keys:
            for value in (*convention.rules, "not-a-known-value"):
                yield {key: value, **dict.fromkeys(RECOGNITION_KEYS - {key, "rag.stage"}, "x")}


def test_recognition_keys_hold_every_attribute_classify_reads() -> None:
    """Readers decode only RECOGNITION_KEYS: a key read but missing would go unseen."""
    asked: set[str] = set()
    for attributes in _every_key_value():
        recording = _Recording(attributes)
        classify_span(Span("t", "s", None, "n", 0, 1), recording)
        asked |= recording.asked
    assert asked <= RECOGNITION_KEYS
    assert {"rag.stage", OI, TL, TL_NAME, OP, LF, "db.system.name", "db.system"} <= asked


# --- the readers apply the same recognition ------------------------------------------------


def _otlp_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, list):
        return {"arrayValue": {"values": [_otlp_value(v) for v in value]}}
    return {"stringValue": value}


def _jaeger_tag(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64", "value": value}
    return {"key": key, "type": "string", "value": value}


def _scalar_rows() -> list[tuple[dict[str, Any], str]]:
    rows = [(attributes, name) for attributes, name, _ in TABLE]
    rows += [(attributes, "span-name") for _, attributes, _ in PRECEDENCE]
    rows += [({"rag.stage": "s", "rag.turn.id": "1"}, "rag.turn")]  # a turn, not a stage
    return rows


def test_otlp_and_jaeger_readers_classify_like_classify_span() -> None:
    rows = _scalar_rows()
    noise = {"http.route": "/ask", "input.value": "q" * 50}
    otlp_spans = [
        {
            "traceId": f"{i:032x}",
            "spanId": f"{i + 1:016x}",
            "name": name,
            "kind": 1,
            "startTimeUnixNano": "1000",
            "endTimeUnixNano": "2000",
            "attributes": [
                {"key": k, "value": _otlp_value(v)} for k, v in {**noise, **attributes}.items()
            ],
        }
        for i, (attributes, name) in enumerate(rows)
    ]
    doc = {"resourceSpans": [{"resource": {}, "scopeSpans": [{"spans": otlp_spans}]}]}
    d = Diagnostics()
    from_otlp = decode_resource_spans(
        orjson.loads(orjson.dumps(doc))["resourceSpans"], ReadState("x", d), None
    )
    jaeger = {
        "data": [
            {
                "traceID": f"{i:032x}",
                "spans": [
                    {
                        "traceID": f"{i:032x}",
                        "spanID": f"{i + 1:016x}",
                        "operationName": name,
                        "startTime": 1,
                        "duration": 1,
                        "tags": [_jaeger_tag(k, v) for k, v in {**noise, **attributes}.items()],
                    }
                ],
            }
            for i, (attributes, name) in enumerate(rows)
        ]
    }
    from_jaeger = decode_response(jaeger, ReadState("y", d), None)
    assert not d.counts, d.counts
    expected = [classified(attributes, name=name) for attributes, name in rows]
    for spans in (from_otlp, from_jaeger):
        got = [(s.stage, s.stage_kind, s.stage_source, s.turn_candidate) for s in spans]
        assert got == expected


def test_keep_attributes_classifies_the_same() -> None:
    rows = _scalar_rows()
    spans = [
        {
            "traceId": f"{i:032x}",
            "spanId": f"{i + 1:016x}",
            "name": name,
            "startTimeUnixNano": "1000",
            "endTimeUnixNano": "2000",
            "attributes": [{"key": k, "value": _otlp_value(v)} for k, v in attributes.items()],
        }
        for i, (attributes, name) in enumerate(rows)
    ]
    rs = [{"scopeSpans": [{"spans": spans}]}]
    plain = decode_resource_spans(rs, ReadState("x", Diagnostics()), None)
    kept = decode_resource_spans(rs, ReadState("x", Diagnostics(), keep_attributes=True), None)
    key = [(s.stage, s.stage_kind, s.stage_source, s.turn_candidate, s.is_turn) for s in plain]
    assert key == [
        (s.stage, s.stage_kind, s.stage_source, s.turn_candidate, s.is_turn) for s in kept
    ]


# --- turns from the markers -----------------------------------------------------------------


def node(
    span_id: str,
    parent: str | None,
    start: int,
    end: int,
    attributes: Mapping[str, Any] | None = None,
    *,
    name: str | None = None,
) -> Span:
    span = Span("t1", span_id, parent, name or span_id, start, end)
    classify_span(span, attributes or {})
    return span


def turns_and_stages(spans: list[Span]) -> tuple[list[tuple[str, str]], set[str]]:
    d = Diagnostics()
    trace = build_trace(spans, diagnostics=d)
    turns = [(t.span.span_id, t.source) for t in trace.turns]
    return turns, {name for name, *_ in trace.stage_samples()}


def test_openinference_root_chain_is_the_turn_and_nested_chains_are_stages() -> None:
    spans = [
        node("root", None, 0, 100, {OI: "CHAIN"}),
        node("sub", "root", 0, 50, {OI: "CHAIN"}),
        node("llm", "sub", 10, 40, {OI: "LLM"}),
    ]
    assert turns_and_stages(spans) == ([("root", "openinference")], {"sub", "llm"})


def test_openinference_chain_below_a_server_span_is_a_stage_of_the_root_turn() -> None:
    spans = [
        node("http", None, 0, 100, {"http.route": "/ask"}),
        node("chain", "http", 0, 90, {OI: "CHAIN"}),
        node("llm", "chain", 10, 40, {OI: "LLM"}),
    ]
    assert turns_and_stages(spans) == ([("http", "trace-root")], {"chain", "llm"})


def test_a_workflow_anywhere_is_the_turn_and_only_the_outermost() -> None:
    spans = [
        node("http", None, 0, 100, {"http.route": "/ask"}),
        node("wf", "http", 5, 95, {TL: "workflow", TL_NAME: "answer"}),
        node("inner", "wf", 10, 50, {TL: "workflow", TL_NAME: "inner"}),
        node("t", "inner", 10, 20, {TL: "task", TL_NAME: "retrieve"}),
    ]
    assert turns_and_stages(spans) == ([("wf", "openllmetry")], {"inner", "retrieve"})


def test_gen_ai_invoke_agent_inside_invoke_workflow_is_a_stage() -> None:
    spans = [
        node("wf", None, 0, 100, {OP: "invoke_workflow"}),
        node("agent", "wf", 5, 95, {OP: "invoke_agent", "gen_ai.agent.name": "helper"}),
        node("chat", "agent", 10, 50, {OP: "chat"}),
    ]
    assert turns_and_stages(spans) == ([("wf", "gen-ai")], {"helper", "chat"})


def test_rag_turn_beats_every_other_marker() -> None:
    spans = [
        node("wf", None, 0, 100, {TL: "workflow", TL_NAME: "answer"}),
        node("turn", "wf", 5, 95, {"rag.turn.id": "1"}, name="rag.turn"),
        node("s", "turn", 10, 50, {"rag.stage": "retrieve", "rag.stage.kind": "retrieval"}),
    ]
    # the workflow around it is then a stage, outside any turn (sampled, not attributed)
    assert turns_and_stages(spans) == ([("turn", "rag-otel")], {"answer", "retrieve"})


def test_without_any_marker_each_root_is_a_turn() -> None:
    spans = [
        node("root", None, 0, 100),
        node("q", "root", 10, 50, {"db.system.name": "postgresql"}),
    ]
    assert turns_and_stages(spans) == ([("root", "trace-root")], {"q"})


def test_a_trace_root_that_is_a_stage_is_its_turn_and_its_own_stage() -> None:
    """One LLM call traced alone (GenAI instrumentation, no app spans): a turn of one stage."""
    spans = [
        node("chat", None, 0, 100, {OP: "chat"}),
        node("http", "chat", 10, 90, {"http.method": "POST"}),
    ]
    d = Diagnostics()
    report = analyze(spans, diagnostics=d)
    assert report.turn.count == 1
    assert report.turn.source == "trace-root"
    assert [(s.name, s.kind, s.count, s.turns) for s in report.stages] == [
        ("chat", "generation", 1, 1)
    ]
    assert report.attribution.overall.stages == {"chat": 1.0}
    assert report.verdict.stage == "chat"
    assert d.counts["turn-from-root"] == 1


def test_an_orphan_stage_is_no_turn() -> None:
    """A stage whose parent (the turn) was lost stays a stage outside any turn."""
    d = Diagnostics()
    trace = build_trace([node("r", "lost-turn", 0, 10, {"rag.stage": "retrieve"})], diagnostics=d)
    assert trace.turns == []
    assert d.counts["stage-outside-turn"] == 1


def test_nested_recognised_spans_are_charged_by_self_time() -> None:
    """An LLM client span inside the user's generation stage: each gets its own time."""
    spans = [
        node("root", None, 0, 100, {OI: "CHAIN"}),
        node("generate", "root", 0, 100, {OI: "LLM"}),
        node("client", "generate", 20, 80, {OI: "LLM"}, name="ChatCompletion"),
    ]
    report = analyze(spans, diagnostics=Diagnostics())
    shares = report.attribution.overall.stages
    assert shares == pytest.approx({"generate": 0.4, "ChatCompletion": 0.6})
    assert sum(shares.values()) == pytest.approx(1.0)


def test_all_spans_keeps_recognised_names_and_adds_the_rest() -> None:
    spans = [
        node("root", None, 0, 100, {TL: "workflow", TL_NAME: "answer"}, name="answer.workflow"),
        node("t", "root", 0, 40, {TL: "task", TL_NAME: "retrieve"}, name="retrieve.task"),
        node("h", "root", 40, 90, {"http.method": "POST"}, name="POST"),
    ]
    default = analyze(spans, diagnostics=Diagnostics())
    every = analyze(spans, all_spans=True, diagnostics=Diagnostics())
    assert [(s.name, s.kind, s.source) for s in default.stages] == [
        ("retrieve", "other", "openllmetry")
    ]
    assert [(s.name, s.kind, s.source) for s in every.stages] == [
        ("retrieve", "other", "openllmetry"),
        ("POST", "other", "all-spans"),
    ]
    assert default.turn.source == every.turn.source == "openllmetry"

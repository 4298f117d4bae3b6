"""Framework dialects (issue 22): LlamaIndex's own OpenTelemetry integration, read from span
events and names; pydantic-ai's first chunk; the rule that a tool-call output has no first
token, for every source. The fixtures are the real libraries' spans (tests/fixtures/peers,
made by make_fixtures.py); the generic checks of every peer fixture (stages, kinds, sources,
turns, verdict, time to first token against the truth) are in test_peer_analysis.py and
test_first_token_peers.py."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from rag_otel.analysis.conventions import (
    FUSION,
    OTHER,
    RERANK,
    RETRIEVAL,
    SOURCE_LLAMA_INDEX,
    classify_events,
)
from rag_otel.analysis.first_token import first_chunk_ns, shows_answer
from rag_otel.analysis.model import TURN_AT_ROOT, Diagnostics, Span
from rag_otel.analysis.pipeline import analyze_sources
from rag_otel.analysis.readers import read_spans
from rag_otel.analysis.readers.common import ReadState
from rag_otel.analysis.readers.jaeger import decode_response
from rag_otel.analysis.readers.phoenix import decode_spans
from rag_otel.analysis.report import FIRST_TOKEN_ROW, Report, analyze

PEERS = Path(__file__).resolve().parents[1] / "fixtures" / "peers"
LLAMA = PEERS / "llamaindex.otlp.jsonl"
UUID = "0d4b4cbe-7b7a-4c5e-9d61-0f5cc3f5e1a2"
MS = 1_000_000
T0 = 1_700_000_000_000 * MS


def truth_of(name: str) -> dict[str, Any]:
    truth: dict[str, Any] = json.loads((PEERS / f"{name}.truth.json").read_text("utf-8"))
    return truth


def classified(name: str, *events: str) -> tuple[str | None, str | None, str | None, int]:
    span = Span("t", "s", None, name, 0, 1)
    classify_events(span, events)
    return span.stage, span.stage_kind, span.stage_source, span.turn_candidate


def test_every_framework_fixture_is_here() -> None:
    """The generic peer tests find fixtures by glob: a missing one must fail somewhere."""
    names = {"llamaindex", "openinference-llamaindex", "openinference-haystack"}
    names |= {"haystack", "haystack-agent", "mlflow"}  # test_framework_dialects_haystack_mlflow
    for name in names | {"pydantic-ai", "pydantic-ai-logfire"}:
        truth = truth_of(name)
        assert (PEERS / truth["fixture"]).is_file()
        assert truth["turns"] == 20


# --- LlamaIndex: the rule on data ------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "events", "expected"),
    [
        ("OpenAI.chat", ("LLMChatStartEvent", "LLMChatEndEvent"), ("OpenAI.chat", "generation")),
        ("Ollama.complete", ("LLMCompletionStartEvent",), ("Ollama.complete", "generation")),
        ("E.get_query_embedding", ("EmbeddingStartEvent",), ("E.get_query_embedding", "embedding")),
        ("BM25Retriever.retrieve", ("RetrievalStartEvent",), ("BM25Retriever.retrieve", RETRIEVAL)),
        ("QueryFusionRetriever.retrieve", ("RetrievalStartEvent",), (None, FUSION)),
        ("LLMRerank._postprocess_nodes", ("ReRankStartEvent",), (None, RERANK)),
        # a postprocessor without rerank events: a stage of kind other, unless its class reranks
        ("SimilarityPostprocessor._postprocess_nodes", (), (None, OTHER)),
        ("CohereRerank._postprocess_nodes", (), (None, RERANK)),
        # older releases: Class.method-<uuid>
        (f"OpenAI.chat-{UUID}", ("LLMChatStartEvent",), ("OpenAI.chat", "generation")),
        (f"X._postprocess_nodes-{UUID}", (), ("X._postprocess_nodes", OTHER)),
    ],
)
def test_llamaindex_stages_come_from_the_public_methods_events(
    name: str, events: tuple[str, ...], expected: tuple[str | None, str]
) -> None:
    stage, kind, source, turn = classified(name, *events)
    assert (stage, kind) == (expected[0] or name, expected[1])
    assert (source, turn) == (SOURCE_LLAMA_INDEX, 0)


@pytest.mark.parametrize(
    ("name", "events"),
    [
        ("VectorIndexRetriever._retrieve", ()),  # inner: its stage's own time
        ("HashEmbedding._get_query_embedding", ()),
        ("OpenAI.chat", ()),  # the outer of two nested chat spans
        ("OpenAI.predict", ("LLMPredictStartEvent", "LLMPredictEndEvent")),  # a wrapper
        ("CompactAndRefine.synthesize", ("SynthesizeStartEvent",)),
        ("RetrieverQueryEngine._query", ()),
        ("retrieve", ("SomethingElse",)),  # plain spans of other tracers
        ("http.get", ()),
    ],
)
def test_llamaindex_inner_methods_and_wrappers_are_not_stages(
    name: str, events: tuple[str, ...]
) -> None:
    assert classified(name, *events) == (None, None, None, 0)


def test_a_query_is_a_turn_at_the_root() -> None:
    assert classified("RetrieverQueryEngine.query", "QueryStartEvent", "QueryEndEvent") == (
        None,
        None,
        SOURCE_LLAMA_INDEX,
        TURN_AT_ROOT,
    )


# --- LlamaIndex: its real spans ----------------------------------------------------------


def llama_report(**kwargs: Any) -> Report:
    return analyze_sources([str(LLAMA)], workers=1, **kwargs)


def test_llamaindex_spans_give_its_stages_kinds_turns_and_verdict() -> None:
    truth = truth_of("llamaindex")
    report = llama_report()
    stages = {s.name: (s.kind, s.source, s.count) for s in report.stages}
    expected = {
        s["name"]: (s["kind_from_attributes"], "llamaindex", truth["turns"])
        for s in truth["stages"]
        if s["recognised_from"]
    }
    assert stages == expected  # the nested chat counted once; inner methods no stages
    assert report.turn.count == truth["turns"]
    assert report.turn.source == "llamaindex"
    assert report.verdict.stage == truth["slowest_stage"]
    assert not report.diagnostics.counts
    shares = report.attribution.overall.stages
    # the fusion retriever's own time is what its retrievers leave
    assert shares["QueryFusionRetriever.retrieve"] < shares["KeywordRetriever.retrieve"]
    # no streamed answer: no first token, and no guess
    assert report.first_token is not None
    assert report.first_token.timed == 0
    assert report.verdict.first_token_stage is None


def test_llamaindex_wrappers_never_win_even_with_all_spans() -> None:
    truth = truth_of("llamaindex")
    report = llama_report(all_spans=True)
    assert report.verdict.stage == truth["slowest_stage"]
    shares = report.attribution.overall.stages
    for wrapper in truth["wrappers"]:
        assert shares[wrapper] < 0.05, wrapper
    # recognised stages keep their kind and source beside the plain spans
    kinds = {s.name: (s.kind, s.source) for s in report.stages}
    assert kinds["KeywordRerank._postprocess_nodes"] == ("rerank", "llamaindex")
    assert kinds["RetrieverQueryEngine._query"] == ("other", "all-spans")


def _otlp_spans(path: Path) -> list[dict[str, Any]]:
    return [
        span
        for line in path.read_text("utf-8").splitlines()
        for rs in orjson.loads(line)["resourceSpans"]
        for ss in rs["scopeSpans"]
        for span in ss["spans"]
    ]


def _as_jaeger(spans: list[dict[str, Any]]) -> dict[str, Any]:
    """The spans as Jaeger's query API shows them: events become logs with an event field."""
    traces: dict[str, list[dict[str, Any]]] = {}
    for s in spans:
        start_us = int(s["startTimeUnixNano"]) // 1000
        traces.setdefault(s["traceId"], []).append(
            {
                "traceID": s["traceId"],
                "spanID": s["spanId"],
                "operationName": s["name"],
                "references": [
                    {"refType": "CHILD_OF", "traceID": s["traceId"], "spanID": s["parentSpanId"]}
                ]
                if s.get("parentSpanId")
                else [],
                "startTime": start_us,
                "duration": int(s["endTimeUnixNano"]) // 1000 - start_us,
                "tags": [],
                "logs": [
                    {
                        "timestamp": int(e["timeUnixNano"]) // 1000,
                        "fields": [{"key": "event", "type": "string", "value": e["name"]}],
                    }
                    for e in s.get("events", ())
                ],
                "processID": "p1",
            }
        )
    processes = {"p1": {"serviceName": "faq-bot-llamaindex", "tags": []}}
    return {"data": [{"traceID": t, "spans": v, "processes": processes} for t, v in traces.items()]}


def _as_phoenix(spans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def iso(ns: str) -> str:
        from datetime import datetime, timezone

        return datetime.fromtimestamp(int(ns) / 1e9, tz=timezone.utc).isoformat()

    return [
        {
            "id": s["spanId"],
            "name": s["name"],
            "context": {"trace_id": s["traceId"], "span_id": s["spanId"]},
            "span_kind": "UNKNOWN",
            "parent_id": s.get("parentSpanId") or None,
            "start_time": iso(s["startTimeUnixNano"]),
            "end_time": iso(s["endTimeUnixNano"]),
            "status_code": "OK",
            "status_message": "",
            "attributes": {},
            "events": [
                {"name": e["name"], "timestamp": iso(e["timeUnixNano"]), "attributes": {}}
                for e in s.get("events", ())
            ],
        }
        for s in spans
    ]


def test_every_reader_recognises_llamaindex_from_its_events() -> None:
    """The same real spans through Jaeger's and Phoenix's shapes: the same stages."""
    otlp = _otlp_spans(LLAMA)
    expected = {(s.stage, s.stage_kind) for s in read_spans(LLAMA, diagnostics=Diagnostics())}
    for decoded in (
        decode_response(_as_jaeger(otlp), ReadState("jaeger.json", Diagnostics()), None),
        decode_spans(_as_phoenix(otlp), ReadState("phoenix.json", Diagnostics()), None),
    ):
        assert {(s.stage, s.stage_kind) for s in decoded} == expected
        report = analyze(decoded, diagnostics=Diagnostics())
        assert report.verdict.stage == "KeywordRerank._postprocess_nodes"
        assert report.turn.count == 20
        assert report.turn.source == "llamaindex"


# --- the first token is the answer's: a tool call shows the user nothing -------------------


@pytest.mark.parametrize("peer", ["pydantic-ai", "pydantic-ai-logfire"])
def test_pydantic_ai_first_token_is_the_answers_not_the_tool_calls(peer: str) -> None:
    truth = truth_of(peer)
    d = Diagnostics()
    spans = list(read_spans(PEERS / truth["fixture"], diagnostics=d))
    chats = [s for s in spans if s.name == truth["first_token"]["span_name"]]
    assert len(chats) == 2 * truth["turns"]
    assert sum(s.first_chunk_ns is not None for s in chats) == truth["first_token"]["answer_spans"]
    report = analyze(spans, diagnostics=d)
    assert report.first_token is not None
    assert report.first_token.timed == report.first_token.turns == truth["turns"]
    got = sorted(v / 1e6 for v in report.samples[FIRST_TOKEN_ROW])
    assert got == pytest.approx(sorted(truth["measured_turn_to_first_token_ms"]), abs=0.001)
    # the tool-call request's first chunk came far earlier: it is not the first token
    assert max(truth["measured_turn_to_tool_call_chunk_ms"]) < min(got)


TEXT = '[{"role":"assistant","parts":[{"type":"text","content":"Ten years."}]}]'
CALL = '[{"role":"assistant","parts":[{"type":"tool_call","id":"1","name":"search"}]}]'
BOTH = (
    '[{"role":"assistant","parts":[{"type":"text","content":"Let me look."},'
    '{"type":"tool_call","id":"1","name":"search"}]}]'
)


@pytest.mark.parametrize(
    ("attributes", "answer"),
    [
        ({"gen_ai.output.messages": TEXT}, True),
        ({"gen_ai.output.messages": CALL}, False),
        ({"gen_ai.output.messages": BOTH}, True),  # the user sees the text
        ({"gen_ai.output.messages": json.loads(CALL)}, False),  # already decoded
        # content not captured: the finish reason tells
        ({"gen_ai.response.finish_reasons": ["tool_calls"]}, False),
        ({"gen_ai.response.finish_reasons": ["tool_call"]}, False),
        ({"gen_ai.response.finish_reasons": ["stop"]}, True),
        ({"gen_ai.response.finish_reasons": '["tool_calls"]'}, False),  # Jaeger keeps JSON text
        ({"gen_ai.completion.0.finish_reason": "tool_calls"}, False),  # OpenLLMetry
        ({"llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "f"}, False),
        (
            {
                "llm.output_messages.0.message.tool_calls.0.tool_call.function.name": "f",
                "llm.output_messages.0.message.content": "Checking.",
            },
            True,
        ),
        ({"gen_ai.output.messages": "not json"}, True),  # nothing tells: an answer
        ({}, True),
    ],
)
def test_shows_answer(attributes: dict[str, Any], answer: bool) -> None:
    assert shows_answer(attributes) is answer


@pytest.mark.parametrize(
    "ttfc", ["gen_ai.response.time_to_first_chunk", "gen_ai.client.operation.time_to_first_chunk"]
)
def test_both_time_to_first_chunk_attributes_are_read(ttfc: str) -> None:
    assert first_chunk_ns(T0, {ttfc: 0.25}, None) == T0 + 250 * MS
    assert first_chunk_ns(T0, {ttfc: 0.25, "gen_ai.output.messages": CALL}, None) is None


def test_the_conventions_attribute_wins_over_the_metrics_name() -> None:
    both = {
        "gen_ai.response.time_to_first_chunk": 0.1,
        "gen_ai.client.operation.time_to_first_chunk": 0.2,
    }
    assert first_chunk_ns(T0, both, None) == T0 + 100 * MS


def test_the_rule_holds_for_every_first_chunk_source() -> None:
    """A chunk event (rag-otel's, OpenInference's, OpenLLMetry's) on a tool-call span is
    no first token either."""
    call = {"gen_ai.response.finish_reasons": ["tool_calls"]}
    for event in ("rag.first_chunk", "First Token Stream Event", "gen_ai.content.completion.chunk"):
        assert first_chunk_ns(T0, None, [(event, T0 + MS)]) == T0 + MS
        assert first_chunk_ns(T0, call, [(event, T0 + MS)]) is None


def test_a_jaeger_agent_trace_takes_the_answers_first_chunk() -> None:
    """Jaeger: tags carry pydantic-ai's attribute and the finish reasons (as JSON text)."""

    def span(sid: str, parent: str | None, name: str, start_ms: int, tags: list[Any]) -> Any:
        return {
            "traceID": "a" * 32,
            "spanID": sid,
            "operationName": name,
            "references": [{"refType": "CHILD_OF", "traceID": "a" * 32, "spanID": parent}]
            if parent
            else [],
            "startTime": (T0 // 1000) + start_ms * 1000,
            "duration": 100_000,
            "tags": tags,
            "processID": "p1",
        }

    def tag(key: str, value: Any) -> dict[str, Any]:
        kind = "float64" if isinstance(value, float) else "string"
        return {"key": key, "type": kind, "value": value}

    op, ttfc = "gen_ai.operation.name", "gen_ai.client.operation.time_to_first_chunk"
    reasons = "gen_ai.response.finish_reasons"
    doc = {
        "data": [
            {
                "traceID": "a" * 32,
                "processes": {"p1": {"serviceName": "agent", "tags": []}},
                "spans": [
                    span("1" * 16, None, "invoke_agent a", 0, [tag(op, "invoke_agent")]),
                    span(
                        "2" * 16,
                        "1" * 16,
                        "chat m",
                        0,
                        [tag(op, "chat"), tag(ttfc, 0.04), tag(reasons, '["tool_call"]')],
                    ),
                    span(
                        "3" * 16,
                        "1" * 16,
                        "chat m",
                        200,
                        [tag(op, "chat"), tag(ttfc, 0.05), tag(reasons, '["stop"]')],
                    ),
                ],
            }
        ]
    }
    spans = decode_response(doc, ReadState("jaeger.json", Diagnostics()), None)
    firsts = {s.span_id: s.first_chunk_ns for s in spans}
    assert firsts == {"1" * 16: None, "2" * 16: None, "3" * 16: T0 + 250 * MS}

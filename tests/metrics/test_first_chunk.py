"""Time to first chunk, per streamed stage (GenAI conventions) and per turn (time to first token).

Recorded on the first chunk only, once per turn whatever the number of streamed stages, and
timing the same interval as the spans' ``rag.first_chunk`` events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from metrics_helpers import points
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import rag_otel
from rag_otel import metrics
from rag_otel import semconv as sc

STAGE_FIRST = sc.METRIC_GEN_AI_TIME_TO_FIRST_CHUNK
TURN_FIRST = sc.METRIC_TURN_TIME_TO_FIRST_CHUNK


@rag_otel.stage("retrieve", kind="retrieval")
def retrieve() -> list[str]:
    time.sleep(0.02)
    return ["a"]


@rag_otel.stage(
    "draft", kind="generation", provider="openai", **{"gen_ai.request.model": "gpt-4o-mini"}
)
def draft() -> Iterator[str]:
    time.sleep(0.01)
    yield "a"
    time.sleep(0.01)
    yield "b"


@rag_otel.stage("answer", kind="generation")
async def answer() -> AsyncIterator[str]:
    await asyncio.sleep(0.01)
    yield "a"
    yield "b"


@rag_otel.stage("not-streamed", kind="rerank")
def rerank() -> Iterator[str]:  # a generator, but not a generation: no first chunk
    yield "x"


async def streamed_turn(i: int) -> None:
    with rag_otel.turn(session_id=f"s{i}"):
        retrieve()
        assert list(rerank()) == ["x"]
        assert list(draft()) == ["a", "b"]
        assert [c async for c in answer()] == ["a", "b"]


def test_per_stage_and_once_per_turn(
    metric_reader: InMemoryMetricReader, span_exporter: InMemorySpanExporter
) -> None:
    async def run() -> None:
        for i in range(4):
            await streamed_turn(i)
        with rag_otel.turn(session_id="plain"):  # no streamed stage: no time to first token
            retrieve()

    asyncio.run(run())
    stages = {p.attributes[sc.RAG_STAGE]: p for p in points(metric_reader, STAGE_FIRST)}
    assert sorted(stages) == ["answer", "draft"]
    assert stages["draft"].attributes == {
        sc.RAG_STAGE: "draft",
        sc.RAG_STAGE_KIND: "generation",
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_PROVIDER_NAME: "openai",
        sc.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
    }
    assert stages["answer"].attributes == {
        sc.RAG_STAGE: "answer",
        sc.RAG_STAGE_KIND: "generation",
        sc.GEN_AI_OPERATION_NAME: "chat",
    }
    assert stages["draft"].count == stages["answer"].count == 4
    assert tuple(stages["draft"].data.explicit_bounds) == metrics.GEN_AI_BUCKETS
    [turn] = points(metric_reader, TURN_FIRST)
    assert (turn.attributes, turn.count) == ({}, 4)
    assert tuple(turn.data.explicit_bounds) == metrics.DEFAULT_BUCKETS

    # The same intervals as the spans: stage start -> its first chunk, and turn start ->
    # the turn's first chunk (the draft's: it streams before the answer starts).
    spans = span_exporter.get_finished_spans()

    def first_chunk(s: ReadableSpan) -> int:
        return next(e.timestamp for e in s.events if e.name == sc.EVENT_FIRST_CHUNK) - (
            s.start_time or 0
        )

    for name in ("draft", "answer"):
        from_spans = sum(first_chunk(s) for s in spans if s.name == name) / 1e9
        assert stages[name].sum == pytest.approx(from_spans, rel=0.1), name
    turn_start = {s.context.trace_id: s.start_time for s in spans if s.name == "rag.turn"}
    from_spans = (
        sum(
            first_chunk(s) + (s.start_time or 0) - turn_start[s.context.trace_id]
            for s in spans
            if s.name == "draft"
        )
        / 1e9
    )
    assert turn.sum == pytest.approx(from_spans, rel=0.1)
    assert turn.sum > 4 * 0.03  # retrieve's 20 ms and the draft's 10 ms, in each turn


def test_a_named_workflow_is_on_the_turns_time_to_first_token(
    metric_reader: InMemoryMetricReader,
) -> None:
    """As on the turn's duration (gen_ai.invoke_workflow.duration): gen_ai.workflow.name."""
    for workflow in ("faq-bot", "faq-bot", None):
        with rag_otel.turn(workflow=workflow):
            assert list(draft()) == ["a", "b"]
    turns = {tuple(p.attributes.items()): p.count for p in points(metric_reader, TURN_FIRST)}
    assert turns == {((sc.GEN_AI_WORKFLOW_NAME, "faq-bot"),): 2, (): 1}


def test_a_stream_outside_any_turn_records_only_its_stage(
    metric_reader: InMemoryMetricReader,
) -> None:
    assert list(draft()) == ["a", "b"]
    assert [p.count for p in points(metric_reader, STAGE_FIRST)] == [1]
    assert points(metric_reader, TURN_FIRST) == []


def test_a_turn_opened_with_metrics_off_records_no_time_to_first_token(
    span_exporter: InMemorySpanExporter,
) -> None:
    reader = InMemoryMetricReader()
    with rag_otel.turn():
        metrics.enable([], readers=[reader])  # switched on mid-turn
        try:
            assert list(draft()) == ["a", "b"]
            assert [p.count for p in points(reader, STAGE_FIRST)] == [1]
            assert points(reader, TURN_FIRST) == []
        finally:
            metrics.disable()


def test_nothing_is_recorded_when_metrics_are_off(span_exporter: InMemorySpanExporter) -> None:
    assert not metrics.ENABLED
    before = len(metrics._PENDING)
    asyncio.run(streamed_turn(0))
    assert len(metrics._PENDING) == before == 0
    assert any(
        e.name == sc.EVENT_FIRST_CHUNK for s in span_exporter.get_finished_spans() for e in s.events
    )

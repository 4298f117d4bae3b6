"""The first token as real libraries record it, written as OTLP JSON and read back.

rag-otel's own streamed stages (the session's SDK TracerProvider) and Langfuse's Python SDK
(a generation's ``completion_start_time``, on a TracerProvider of the test's own with an
in-memory exporter: nothing leaves the process).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import rag_otel
from rag_otel.analysis.model import Diagnostics
from rag_otel.analysis.readers import read_spans
from rag_otel.analysis.report import FIRST_TOKEN_ROW, analyze
from rag_otel.exporters import spans_to_otlp_json


def write(path: Path, spans: tuple[ReadableSpan, ...]) -> Path:
    path.write_text(json.dumps(spans_to_otlp_json(spans)) + "\n")
    return path


@rag_otel.stage("retrieve", kind="retrieval")
def retrieve() -> list[str]:
    time.sleep(0.003)
    return ["a"]


@rag_otel.stage("generate", kind="generation")
def generate() -> Iterator[str]:
    time.sleep(0.004)
    yield "first"
    time.sleep(0.004)
    yield "second"


@rag_otel.stage("agenerate", kind="generation")
async def agenerate() -> AsyncIterator[str]:
    await asyncio.sleep(0.004)
    yield "first"
    await asyncio.sleep(0.004)
    yield "second"


def test_rag_otel_streamed_stages(span_exporter: InMemorySpanExporter, tmp_path: Path) -> None:
    async def turns() -> None:
        for i in range(3):
            with rag_otel.turn(session_id=f"s{i}"):
                retrieve()
                if i < 2:
                    assert "".join(generate()) == "firstsecond"
                else:
                    assert "".join([c async for c in agenerate()]) == "firstsecond"
        with rag_otel.turn(session_id="no-stream"):
            retrieve()

    asyncio.run(turns())
    finished = span_exporter.get_finished_spans()
    path = write(tmp_path / "spans.jsonl", finished)

    events = {
        s.context.span_id: e.timestamp
        for s in finished
        for e in s.events
        if e.name == "rag.first_chunk"
    }
    assert len(events) == 3
    d = Diagnostics()
    spans = list(read_spans(str(path), diagnostics=d))
    assert {int(s.span_id, 16): s.first_chunk_ns for s in spans if s.first_chunk_ns} == events
    report = analyze(spans, diagnostics=d)
    ft = report.first_token
    assert ft is not None
    assert (ft.timed, ft.turns) == (3, 4)
    turn_start = {s.context.trace_id: s.start_time for s in finished if s.name == "rag.turn"}
    want = sorted(
        events[s.context.span_id] - turn_start[s.context.trace_id]
        for s in finished
        if s.context.span_id in events
    )
    assert sorted(report.samples[FIRST_TOKEN_ROW]) == want
    assert all(v > 7_000_000 for v in want)  # retrieve's 3 ms and the 4 ms to the first chunk
    fa = report.first_token_attribution
    assert fa is not None
    assert set(fa.overall.stages) == {"retrieve", "generate", "agenerate"}
    assert sum(fa.overall.stages.values()) + fa.overall.remainder == pytest.approx(1.0)


def test_langfuse_generation_completion_start_time(tmp_path: Path) -> None:
    from langfuse import Langfuse

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    client = Langfuse(
        public_key="pk-lf-test",
        secret_key="sk-lf-test",
        base_url="http://127.0.0.1:9",  # never reached: the exporter below is in memory
        tracer_provider=provider,
        span_exporter=exporter,
        flush_at=1,
    )
    try:
        with client.start_as_current_observation(name="answer", as_type="span"):
            generation = client.start_observation(name="llm", as_type="generation")
            time.sleep(0.002)
            first = datetime.now(timezone.utc)
            generation.update(completion_start_time=first)
            time.sleep(0.002)
            generation.end()
        client.flush()
    finally:
        client.shutdown()
    finished = exporter.get_finished_spans()
    llm = next(s for s in finished if s.name == "llm")
    written = (llm.attributes or {})["langfuse.observation.completion_start_time"]
    assert isinstance(written, str)
    assert written.startswith('"')  # JSON-encoded ISO 8601, as the SDK writes it

    path = write(tmp_path / "langfuse.jsonl", finished)
    d = Diagnostics()
    spans = list(read_spans(str(path), diagnostics=d))
    first_ns = (first - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
    assert {s.name: s.first_chunk_ns for s in spans} == {"llm": first_ns * 1000, "answer": None}
    report = analyze(spans, diagnostics=d)  # no rag.turn: the root span is the turn
    root = next(s for s in finished if s.name == "answer")
    assert report.first_token is not None
    assert list(report.samples[FIRST_TOKEN_ROW]) == [first_ns * 1000 - (root.start_time or 0)]

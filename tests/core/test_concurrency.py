"""Many turns at once on one event loop: every stage under its own turn, nothing leaks."""

from __future__ import annotations

import asyncio
from collections import defaultdict

import pytest
from core_helpers import span_id
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import rag_otel


@rag_otel.stage("embed", kind="embedding")
async def embed(turn_no: int, delay: float) -> int:
    await asyncio.sleep(delay)
    stage = rag_otel.current_stage()
    assert stage is not None
    assert stage.name == "embed"
    stage.set_attribute("test.turn", turn_no)
    return turn_no


@rag_otel.stage("retrieve", kind="retrieval")
async def retrieve(turn_no: int, delay: float) -> int:
    await asyncio.sleep(delay)
    rag_otel.current_stage().set_attribute("test.turn", turn_no)  # type: ignore[union-attr]
    return turn_no


@rag_otel.stage("bm25", kind="retrieval")
def bm25(turn_no: int) -> int:
    rag_otel.current_stage().set_attribute("test.turn", turn_no)  # type: ignore[union-attr]
    return turn_no


async def one_turn(turn_no: int, delays: tuple[float, float]) -> None:
    async with rag_otel.turn(session_id=f"session-{turn_no}") as turn:
        turn.set_attribute("test.turn", turn_no)
        results = await asyncio.gather(
            embed(turn_no, delays[0]),
            retrieve(turn_no, delays[1]),
            asyncio.to_thread(bm25, turn_no),
        )
        assert results == [turn_no] * 3
        assert rag_otel.current_turn() is turn


def check(spans: tuple[ReadableSpan, ...], turns: int) -> None:
    turn_spans = {span_id(s): s for s in spans if s.name == "rag.turn"}
    assert len(turn_spans) == turns
    children: dict[int, list[ReadableSpan]] = defaultdict(list)
    for span in spans:
        if span.name == "rag.turn":
            continue
        assert span.parent is not None, f"{span.name} has no parent"
        parent = turn_spans[span.parent.span_id]
        assert span.context is not None
        assert parent.context is not None
        assert span.context.trace_id == parent.context.trace_id
        own = dict(span.attributes or {})
        assert own["test.turn"] == (parent.attributes or {})["test.turn"]
        assert "session.id" not in own  # turn attributes do not leak into stages
        children[span.parent.span_id].append(span)
    for turn_id, turn_span in turn_spans.items():
        attrs = dict(turn_span.attributes or {})
        assert attrs["session.id"] == f"session-{attrs['test.turn']}"
        assert sorted(s.name for s in children[turn_id]) == ["bm25", "embed", "retrieve"]


@pytest.mark.usefixtures("propagate")
async def test_500_concurrent_turns(span_exporter: InMemorySpanExporter) -> None:
    await asyncio.gather(*(one_turn(i, ((i % 7) / 1000, (i % 5) / 1000)) for i in range(500)))
    spans = span_exporter.get_finished_spans()
    assert len(spans) == 500 * 4
    check(spans, 500)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    delays=st.lists(
        st.tuples(
            st.sampled_from([0.0, 0.0005, 0.001, 0.003]),
            st.sampled_from([0.0, 0.0005, 0.001, 0.003]),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_any_interleaving_keeps_turns_apart(
    span_exporter: InMemorySpanExporter, propagate: None, delays: list[tuple[float, float]]
) -> None:
    span_exporter.clear()

    async def main() -> None:
        await asyncio.gather(*(one_turn(i, d) for i, d in enumerate(delays)))

    asyncio.run(main())
    check(span_exporter.get_finished_spans(), len(delays))

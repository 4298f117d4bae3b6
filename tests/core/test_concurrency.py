"""Many turns at once on one event loop: every stage under its own turn, nothing leaks."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from core_helpers import parent_id, span_id
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import rag_otel


@rag_otel.stage("embed", kind="embedding")
async def embed(turn_no: int, delay: float) -> int:
    await asyncio.sleep(delay)
    stage = rag_otel.current_stage()
    assert stage.name == "embed"
    stage.set_attribute("test.turn", turn_no)
    return turn_no


@rag_otel.stage("retrieve", kind="retrieval")
async def retrieve(turn_no: int, delay: float) -> int:
    await asyncio.sleep(delay)
    rag_otel.current_stage().set_attribute("test.turn", turn_no)
    return turn_no


@rag_otel.stage("bm25", kind="retrieval")
def bm25(turn_no: int) -> int:
    rag_otel.current_stage().set_attribute("test.turn", turn_no)
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


# --- one scope object shared by many tasks and threads -----------------------------------

SHARED = rag_otel.stage("shared", kind="retrieval")  # one object, entered by everyone
SLOW_MARKS = ("Calling end() on an ended span", "Failed to detach context")


@dataclass(frozen=True)
class Entry:
    """One entry into SHARED, as its own task or thread saw it (wall-clock ns)."""

    who: str
    before: int  # just before entering
    last: int  # the last thing done inside the block
    after: int  # just after leaving
    parent: int | None = None  # the span it was entered under


def check_entries(
    spans: tuple[ReadableSpan, ...], entries: list[Entry], caplog: pytest.LogCaptureFixture
) -> None:
    """Each entry's span, and only it, covers its own block, under its own parent, once."""
    shared = {str((s.attributes or {})["test.who"]): s for s in spans if s.name == "shared"}
    assert len(shared) == len([s for s in spans if s.name == "shared"]) == len(entries)
    for entry in entries:
        span = shared[entry.who]
        assert span.start_time is not None
        assert span.end_time is not None
        assert entry.before <= span.start_time, entry.who
        # ended by its own exit: not before its block finished, not after it left
        assert entry.last <= span.end_time <= entry.after, entry.who
        assert parent_id(span) == entry.parent, entry.who
    logged = [r.getMessage() for r in caplog.records]
    assert not [m for m in logged if m.startswith(SLOW_MARKS)], logged


async def _task_entry(n: int, hold: float) -> Entry:
    async with rag_otel.turn(session_id=f"task-{n}") as turn:
        before = time.time_ns()
        async with SHARED as handle:
            handle.set_attribute("test.who", f"task-{n}")
            await asyncio.sleep(hold)  # the others enter and leave meanwhile
            assert rag_otel.current_stage() is handle
            last = time.time_ns()
        after = time.time_ns()
        assert rag_otel.current_stage() is not handle
        return Entry(f"task-{n}", before, last, after, turn.span.get_span_context().span_id)


async def test_one_scope_object_shared_by_tasks_exiting_in_any_order(
    span_exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    # entered in task order, left in another order (hold times shuffled)
    holds = [(n * 7919 % 100) / 10_000 for n in range(100)]
    entries = await asyncio.gather(*(_task_entry(n, hold) for n, hold in enumerate(holds)))
    check_entries(span_exporter.get_finished_spans(), list(entries), caplog)


@rag_otel.stage("answer", kind="generation")
async def _streamed_answer(n: int) -> AsyncIterator[str]:
    """The shared scope held across yields: the body resumes in the context it left."""
    before = time.time_ns()
    with SHARED as handle:
        handle.set_attribute("test.who", f"stream-{n}")
        for word in ("a", "b", "c"):
            yield word
            await asyncio.sleep((n % 4) / 1000)
            assert rag_otel.current_stage() is handle
        last = time.time_ns()
    after = time.time_ns()
    answer = rag_otel.current_stage()
    assert answer.name == "answer"
    STREAMED.append(
        Entry(f"stream-{n}", before, last, after, answer.span.get_span_context().span_id)
    )
    yield "."


STREAMED: list[Entry] = []


async def test_one_scope_object_held_across_yields_by_concurrent_streams(
    span_exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    STREAMED.clear()

    async def consume(n: int) -> str:
        return "".join([word async for word in _streamed_answer(n)])

    assert await asyncio.gather(*(consume(n) for n in range(50))) == ["abc."] * 50
    check_entries(span_exporter.get_finished_spans(), STREAMED, caplog)


def test_one_scope_object_shared_by_threads(
    span_exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    threads, rounds = 8, 400
    entries: list[Entry] = []
    start = threading.Barrier(threads)

    def worker(t: int) -> None:
        start.wait()
        for i in range(rounds):
            before = time.time_ns()
            with SHARED as handle:
                handle.set_attribute("test.who", f"thread-{t}-{i}")
                time.sleep(0 if i % 3 else 0.0001)  # let the other threads in
                assert rag_otel.current_stage() is handle
                last = time.time_ns()
            entries.append(Entry(f"thread-{t}-{i}", before, last, time.time_ns()))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible, inside __exit__ too
    try:
        pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join(timeout=60)
    finally:
        sys.setswitchinterval(interval)
    assert len(entries) == threads * rounds
    check_entries(span_exporter.get_finished_spans(), entries, caplog)


async def test_one_scope_object_shared_by_tasks_and_threads_at_once(
    span_exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> None:
    def in_thread(n: int) -> Entry:
        before = time.time_ns()
        with SHARED as handle:
            handle.set_attribute("test.who", f"thread-{n}")
            time.sleep((n % 5) / 1000)
            last = time.time_ns()
        return Entry(f"thread-{n}", before, last, time.time_ns())

    holds = [(n * 31 % 10) / 1000 for n in range(60)]
    entries = await asyncio.gather(
        *(_task_entry(n, hold) for n, hold in enumerate(holds)),
        *(asyncio.to_thread(in_thread, n) for n in range(20)),
    )
    check_entries(span_exporter.get_finished_spans(), list(entries), caplog)

"""Every function shape times every propagation path: each stage is a child of its turn,
and work inside a stage (even inside a generator's body) is a child of that stage."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from core_helpers import by_name, one, parent_id, span_id, trace_id
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import rag_otel

pytestmark = pytest.mark.lowest  # also run on the lowest declared versions


def inner() -> None:
    with rag_otel.stage("inner", kind="other"):
        pass


@rag_otel.stage("shape.sync", kind="retrieval")
def f_sync() -> int:
    inner()
    return 1


@rag_otel.stage("shape.async", kind="retrieval")
async def f_async() -> int:
    await asyncio.sleep(0)
    inner()
    return 1


@rag_otel.stage("shape.gen", kind="generation")
def f_gen() -> Iterator[int]:
    inner()
    yield 1
    yield 2


@rag_otel.stage("shape.agen", kind="generation")
async def f_agen() -> AsyncIterator[int]:
    inner()
    yield 1
    await asyncio.sleep(0)
    yield 2


def f_cm() -> int:
    with rag_otel.stage("shape.cm", kind="retrieval"):
        inner()
        return 1


async def f_acm() -> int:
    async with rag_otel.stage("shape.acm", kind="retrieval"):
        await asyncio.sleep(0)
        inner()
        return 1


async def _collect(agen: AsyncIterator[int]) -> list[int]:
    return [x async for x in agen]


def run_sync(shape: str) -> Any:
    """Run one shape to completion from synchronous code (a thread)."""
    if shape == "sync":
        return f_sync()
    if shape == "async":
        return asyncio.run(f_async())
    if shape == "gen":
        return list(f_gen())
    if shape == "agen":
        return asyncio.run(_collect(f_agen()))
    if shape == "cm":
        return f_cm()
    return asyncio.run(f_acm())


async def run_async(shape: str) -> Any:
    """Run one shape to completion from a coroutine."""
    if shape == "sync":
        return f_sync()
    if shape == "async":
        return await f_async()
    if shape == "gen":
        return list(f_gen())
    if shape == "agen":
        return await _collect(f_agen())
    if shape == "cm":
        return f_cm()
    return await f_acm()


def _in_thread(shape: str) -> Any:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(run_sync(shape)))
    thread.start()
    thread.join()
    return result[0]


async def _thread_coro(shape: str) -> Any:
    return _in_thread(shape)


async def _submit(shape: str) -> Any:
    with ThreadPoolExecutor(max_workers=2) as pool:
        return pool.submit(run_sync, shape).result()


PATHS: dict[str, Callable[[str], Any]] = {
    "direct": run_async,
    "create_task": lambda shape: asyncio.create_task(run_async(shape)),
    "gather": lambda shape: asyncio.gather(run_async(shape), run_async(shape)),
    "to_thread": lambda shape: asyncio.to_thread(run_sync, shape),
    "run_in_executor": lambda shape: asyncio.get_running_loop().run_in_executor(
        None, run_sync, shape
    ),
    "submit": _submit,
    "thread": lambda shape: _thread_coro(shape),
}


SHAPES = ["sync", "async", "gen", "agen", "cm", "acm"]
EXPECTED = {"sync": 1, "async": 1, "gen": [1, 2], "agen": [1, 2], "cm": 1, "acm": 1}


@pytest.mark.usefixtures("propagate")
@pytest.mark.parametrize("path", list(PATHS))
@pytest.mark.parametrize("shape", SHAPES)
async def test_stage_is_child_of_its_turn(
    span_exporter: InMemorySpanExporter, shape: str, path: str
) -> None:
    async with rag_otel.turn(session_id="s-1") as turn:
        result = await PATHS[path](shape)
    expected = EXPECTED[shape]
    assert result == ([expected, expected] if path == "gather" else expected)

    spans = span_exporter.get_finished_spans()
    turn_span = one(spans, "rag.turn")
    assert turn.span.get_span_context().span_id == span_id(turn_span)
    stages = by_name(spans, f"shape.{shape}")
    inners = by_name(spans, "inner")
    assert len(stages) == len(inners) == (2 if path == "gather" else 1)
    for stage_span in stages:
        assert parent_id(stage_span) == span_id(turn_span), f"{shape} via {path} is orphaned"
        assert trace_id(stage_span) == trace_id(turn_span)
    stage_ids = {span_id(s) for s in stages}
    for inner_span in inners:
        assert parent_id(inner_span) in stage_ids, f"work inside {shape} via {path} not parented"


def test_without_propagation_a_thread_child_is_orphaned(
    span_exporter: InMemorySpanExporter,
) -> None:
    """The control for the matrix above: raw OTel behaviour without rag-otel's propagation."""
    with rag_otel.turn() as _, ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(f_sync).result()
    spans = span_exporter.get_finished_spans()
    assert parent_id(one(spans, "shape.sync")) is None


@pytest.mark.usefixtures("propagate")
def test_thread_subclass_with_its_own_run(span_exporter: InMemorySpanExporter) -> None:
    class Worker(threading.Thread):
        def run(self) -> None:
            f_sync()

    with rag_otel.turn():
        worker = Worker()
        worker.start()
        worker.join()
    spans = span_exporter.get_finished_spans()
    assert parent_id(one(spans, "shape.sync")) == span_id(one(spans, "rag.turn"))
    assert "run" not in worker.__dict__  # the instance is left as it was


@pytest.mark.usefixtures("propagate")
def test_pool_workers_do_not_keep_the_first_submitters_context(
    span_exporter: InMemorySpanExporter,
) -> None:
    with ThreadPoolExecutor(max_workers=1) as pool:
        with rag_otel.turn():
            pool.submit(f_sync).result()
        # Same worker thread, submitted outside any turn: a root, not a child of the old turn.
        pool.submit(f_sync).result()
    sync_spans = by_name(span_exporter.get_finished_spans(), "shape.sync")
    assert [parent_id(s) is None for s in sync_spans] == [False, True]


def test_enable_disable_is_symmetric() -> None:
    from rag_otel import propagation

    original_submit = ThreadPoolExecutor.submit
    original_start = threading.Thread.start
    propagation.enable()
    propagation.enable()
    assert ThreadPoolExecutor.submit is not original_submit
    propagation.disable()
    propagation.disable()
    assert ThreadPoolExecutor.submit is original_submit
    assert threading.Thread.start is original_start

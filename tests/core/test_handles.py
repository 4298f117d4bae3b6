"""Every way a handle is made sets every slot of it.

A slot left unset would raise AttributeError when the entry ends, outside the containment,
that is, into the host. Handles are made by `rag_otel.spans.handles.new_handle` (a turn's by
`new_turn_handle`); this test walks every path that makes one, with tracing on and off,
and reads every slot of what it returns.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from opentelemetry import trace as api
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import rag_otel
from rag_otel import metrics
from rag_otel.metrics import recorder
from rag_otel.spans import (
    OperationArgs,
    PinnedOperationScope,
    PinnedStageScope,
    StageArgs,
    current_stage,
    current_turn,
)
from rag_otel.spans.handles import _Handle

pytestmark = pytest.mark.lowest  # also run on the lowest declared versions


def slots(handle: _Handle) -> list[str]:
    return [s for cls in type(handle).__mro__ for s in getattr(cls, "__slots__", ())]


def unset(handle: _Handle) -> list[str]:
    return [s for s in slots(handle) if not hasattr(handle, s)]


class _BrokenTracer(api.NoOpTracer):
    def start_span(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("start_span failed")


class _BrokenProvider(api.NoOpTracerProvider):
    """A provider whose spans cannot start: the scope hands out a stand-in handle."""

    def get_tracer(self, *args: Any, **kwargs: Any) -> api.Tracer:
        return _BrokenTracer()


def _decorated(make: Callable[[Callable[[], _Handle]], Callable[[], _Handle]]) -> _Handle:
    return make(lambda: current_stage())()


def _in_generator() -> _Handle:
    @rag_otel.stage("g", kind="generation")
    def gen() -> Iterator[_Handle]:
        yield current_stage()

    return next(iter(gen()))


def _in_async_generator() -> _Handle:
    @rag_otel.stage("ag", kind="generation")
    async def agen() -> AsyncIterator[_Handle]:
        yield current_stage()

    async def first() -> _Handle:
        async for handle in agen():
            return handle
        raise AssertionError("no item")

    return asyncio.run(first())


def _in_coroutine() -> _Handle:
    @rag_otel.stage("c", kind="retrieval")
    async def coro() -> _Handle:
        return current_stage()

    return asyncio.run(coro())


def _entered(scope: Any) -> _Handle:
    with scope as handle:
        return handle  # type: ignore[no-any-return]


PATHS: dict[str, Callable[[], _Handle]] = {
    "stage, decorated": lambda: _decorated(rag_otel.stage("s", kind="retrieval")),
    "stage, unnamed decorator": lambda: _decorated(rag_otel.stage),
    "stage, with": lambda: _entered(rag_otel.stage("w", kind="embedding")),
    "stage, with attributes": lambda: _entered(rag_otel.stage("w", kind="rerank", top=3)),
    "stage, generation in a session": lambda: _decorated(rag_otel.stage("gen", kind="generation")),
    "stage, generator": _in_generator,
    "stage, async generator": _in_async_generator,
    "stage, coroutine": _in_coroutine,
    "turn, with": lambda: _entered(rag_otel.turn("user-1")),
    "turn, with a turn id and attributes": lambda: _entered(rag_otel.turn("u", "t1", tier="x")),
    "turn, decorated": lambda: rag_otel.turn(lambda: current_turn())(),
    "operation, with": lambda: _entered(rag_otel.operation("index.add", data_source="faq")),
    "no-op: current_stage outside a stage": current_stage,
    "no-op: current_turn outside a turn": current_turn,
    "pinned stage": lambda: _entered(
        PinnedStageScope(StageArgs("p", "retrieval"), tracer_provider=api.NoOpTracerProvider())
    ),
    "pinned operation": lambda: _entered(
        PinnedOperationScope(OperationArgs("p"), tracer_provider=api.NoOpTracerProvider())
    ),
    "stand-in: a stage whose span cannot start": lambda: _entered(
        PinnedStageScope(StageArgs("x"), tracer_provider=_BrokenProvider())
    ),
    "stand-in: an operation whose span cannot start": lambda: _entered(
        PinnedOperationScope(OperationArgs("x"), tracer_provider=_BrokenProvider())
    ),
}


@pytest.fixture(params=["metrics off", "metrics on"])
def metrics_state(request: pytest.FixtureRequest) -> Iterator[None]:
    """Metrics on sets the handle's timing slots on entry: both states are walked."""
    saved = recorder.ENABLED
    recorder.ENABLED = request.param == "metrics on"
    yield
    recorder.ENABLED = saved
    # nothing drains the samples recorded here (no meter provider): they must not reach the
    # next test's metric reader
    recorder._PENDING.clear()


@pytest.mark.parametrize("path", PATHS)
def test_every_path_sets_every_slot_with_tracing_on(
    path: str, span_exporter: InMemorySpanExporter, metrics_state: None
) -> None:
    with rag_otel.turn("session-9"):  # a generation stage reads its turn's session
        handle = PATHS[path]()
    assert slots(handle)
    assert unset(handle) == [], path
    assert metrics.ENABLED is recorder.ENABLED


@pytest.mark.parametrize(
    "path", [p for p in PATHS if not p.startswith(("pinned", "stand-in"))]
)  # a pinned scope is on even when no provider is installed: tested above
def test_every_path_sets_every_slot_with_tracing_off(
    path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rag_otel._otel_private import TRACER_PROVIDER_KEY, TRACER_PROVIDER_SLOT

    monkeypatch.setitem(TRACER_PROVIDER_SLOT, TRACER_PROVIDER_KEY, None)
    handle = PATHS[path]()
    assert unset(handle) == [], path
    assert not handle.span.is_recording()

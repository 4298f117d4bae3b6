"""Errors, cancellation, early close, garbage collection and streaming: the span always ends,
the host sees exactly what it would see without rag-otel."""

from __future__ import annotations

import asyncio
import gc
import inspect
import time
import traceback
from collections.abc import AsyncIterator, Generator, Iterator

import pytest
from core_helpers import one, parent_id, span_id
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import INVALID_SPAN, StatusCode

import rag_otel
from rag_otel import semconv as sc
from subprocesses import run_python

pytestmark = pytest.mark.lowest  # also run on the lowest declared versions


class PipelineError(Exception):
    pass


def _raise_here() -> None:
    raise PipelineError("boom")


@rag_otel.stage("fails", kind="retrieval")
def fails() -> None:
    _raise_here()


@rag_otel.stage("afails", kind="retrieval")
async def afails() -> None:
    await asyncio.sleep(0)
    _raise_here()


def _assert_error_span(exporter: InMemorySpanExporter, name: str) -> None:
    span = one(exporter.get_finished_spans(), name)
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "PipelineError: boom"
    assert span.attributes is not None
    assert span.attributes[sc.ERROR_TYPE] == f"{__name__}.PipelineError"
    assert [e.name for e in span.events][-1:] == ["exception"]
    assert span.end_time is not None


def test_sync_error_is_recorded_and_reraised_unchanged(
    span_exporter: InMemorySpanExporter,
) -> None:
    with pytest.raises(PipelineError) as info:
        fails()
    frames = [f.name for f in traceback.extract_tb(info.value.__traceback__)]
    assert frames[-1] == "_raise_here"  # the original traceback is intact
    assert info.value.__context__ is None
    assert info.value.__cause__ is None
    _assert_error_span(span_exporter, "fails")


def test_same_exception_object(span_exporter: InMemorySpanExporter) -> None:
    error = PipelineError("boom")

    @rag_otel.stage("raises.given")
    def raise_given() -> None:
        raise error

    with pytest.raises(PipelineError) as info:
        raise_given()
    assert info.value is error
    _assert_error_span(span_exporter, "raises.given")


async def test_async_error(span_exporter: InMemorySpanExporter) -> None:
    with pytest.raises(PipelineError) as info:
        await afails()
    assert traceback.extract_tb(info.value.__traceback__)[-1].name == "_raise_here"
    _assert_error_span(span_exporter, "afails")


def test_context_manager_error(span_exporter: InMemorySpanExporter) -> None:
    with pytest.raises(PipelineError), rag_otel.stage("cm.fails", kind="fusion"):
        _raise_here()
    _assert_error_span(span_exporter, "cm.fails")


def test_turn_records_the_error_too(span_exporter: InMemorySpanExporter) -> None:
    with pytest.raises(PipelineError), rag_otel.turn():
        fails()
    spans = span_exporter.get_finished_spans()
    turn = one(spans, "rag.turn")
    assert turn.status.status_code is StatusCode.ERROR
    assert parent_id(one(spans, "fails")) == span_id(turn)


async def test_cancellation_is_not_an_error(span_exporter: InMemorySpanExporter) -> None:
    started = asyncio.Event()

    @rag_otel.stage("slow", kind="generation")
    async def slow() -> None:
        started.set()
        await asyncio.sleep(30)

    task = asyncio.create_task(slow())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    span = one(span_exporter.get_finished_spans(), "slow")
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes is not None
    assert span.attributes[sc.RAG_CANCELLED] is True
    assert sc.ERROR_TYPE not in span.attributes
    assert span.events == ()


async def test_cancelled_async_generator(span_exporter: InMemorySpanExporter) -> None:
    @rag_otel.stage("stream.slow", kind="generation")
    async def stream() -> AsyncIterator[int]:
        yield 1
        await asyncio.sleep(30)
        yield 2

    async def consume() -> None:
        async for _ in stream():
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    span = one(span_exporter.get_finished_spans(), "stream.slow")
    assert span.attributes is not None
    assert span.attributes[sc.RAG_CANCELLED] is True
    assert span.status.status_code is StatusCode.UNSET


# --- generators ------------------------------------------------------------------------


def test_generator_closed_early(span_exporter: InMemorySpanExporter) -> None:
    cleaned = []

    @rag_otel.stage("gen.early", kind="generation")
    def chunks() -> Iterator[int]:
        try:
            yield from range(10)
        finally:
            cleaned.append(True)

    gen = chunks()
    assert next(gen) == 0
    assert span_exporter.get_finished_spans() == ()  # still open while iterating
    gen.close()
    assert cleaned == [True]
    span = one(span_exporter.get_finished_spans(), "gen.early")
    assert span.attributes is not None
    assert span.attributes[sc.RAG_STREAM_CLOSED_EARLY] is True
    assert span.attributes[sc.RAG_STREAM_CHUNK_COUNT] == 1
    assert span.status.status_code is StatusCode.UNSET


def test_generator_garbage_collected(span_exporter: InMemorySpanExporter) -> None:
    @rag_otel.stage("gen.dropped", kind="retrieval")
    def results() -> Iterator[int]:
        yield 1
        yield 2

    gen = results()
    next(gen)
    del gen
    gc.collect()
    span = one(span_exporter.get_finished_spans(), "gen.dropped")
    assert span.end_time is not None


async def test_async_generator_closed_early_and_collected(
    span_exporter: InMemorySpanExporter,
) -> None:
    @rag_otel.stage("agen.early", kind="generation")
    async def chunks() -> AsyncIterator[int]:
        for i in range(10):
            yield i

    agen = chunks()
    async for item in agen:
        if item == 2:
            break
    await agen.aclose()
    span = one(span_exporter.get_finished_spans(), "agen.early")
    assert span.attributes is not None
    assert span.attributes[sc.RAG_STREAM_CHUNK_COUNT] == 3
    assert span.attributes[sc.RAG_STREAM_CLOSED_EARLY] is True

    dropped = chunks()
    await dropped.__anext__()
    del dropped
    gc.collect()
    for _ in range(5):  # asyncio's finaliser hook schedules aclose() on the loop
        await asyncio.sleep(0)
    assert len([s for s in span_exporter.get_finished_spans() if s.name == "agen.early"]) == 2


def test_generator_protocol_is_forwarded(span_exporter: InMemorySpanExporter) -> None:
    """send(), throw() and the return value behave exactly as without the decorator."""

    def echo() -> Generator[int, int, str]:
        total = 0
        while True:
            try:
                received = yield total
            except ValueError:
                total = -1
                continue
            if received is None:
                return f"done:{total}"
            total += received

    traced = rag_otel.stage("echo", kind="fusion")(echo)

    def drive(gen_fn: type[object] | object) -> list[object]:
        gen = gen_fn()  # type: ignore[operator]
        out: list[object] = [next(gen), gen.send(2), gen.send(3), gen.throw(ValueError())]
        try:
            gen.send(None)
        except StopIteration as stop:
            out.append(stop.value)
        return out

    assert drive(traced) == drive(echo) == [0, 2, 5, -1, "done:-1"]

    def delegate() -> Generator[int, int, str]:
        return (yield from traced())

    gen = delegate()
    next(gen)
    with pytest.raises(StopIteration) as stop:
        gen.send(None)  # type: ignore[arg-type]
    assert stop.value.value == "done:0"


def test_generator_error_mid_stream(span_exporter: InMemorySpanExporter) -> None:
    @rag_otel.stage("gen.fails", kind="generation")
    def chunks() -> Iterator[int]:
        yield 1
        _raise_here()

    with pytest.raises(PipelineError):
        list(chunks())
    _assert_error_span(span_exporter, "gen.fails")


def test_span_is_current_only_while_the_generator_runs(
    span_exporter: InMemorySpanExporter,
) -> None:
    @rag_otel.stage("gen.outer", kind="generation")
    def chunks() -> Iterator[int]:
        with rag_otel.stage("gen.body") as body:
            yield 1
            # resumed, the body runs in the context it left: its own stage is current
            assert rag_otel.current_stage() is body
        assert rag_otel.current_stage().name == "gen.outer"
        yield 2

    gen = chunks()
    next(gen)
    # Between yields, the caller's context is its own: this is not a child of gen.outer.
    assert rag_otel.current_stage().span is INVALID_SPAN
    with rag_otel.stage("caller.between"):
        pass
    list(gen)
    spans = span_exporter.get_finished_spans()
    assert parent_id(one(spans, "caller.between")) is None
    assert parent_id(one(spans, "gen.body")) == span_id(one(spans, "gen.outer"))


def test_streaming_time_to_first_chunk(span_exporter: InMemorySpanExporter) -> None:
    @rag_otel.stage("llm.stream", kind="generation")
    def stream() -> Iterator[str]:
        time.sleep(0.05)
        yield "Hello"
        yield ", "
        yield "world"

    assert "".join(stream()) == "Hello, world"
    span = one(span_exporter.get_finished_spans(), "llm.stream")
    assert span.attributes is not None
    ttfc = span.attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    assert isinstance(ttfc, float)
    assert 0.05 <= ttfc < (span.end_time - span.start_time) / 1e9  # type: ignore[operator]
    assert span.attributes[sc.RAG_STREAM_CHUNK_COUNT] == 3
    (event,) = span.events
    assert event.name == sc.EVENT_FIRST_CHUNK
    assert span.start_time is not None
    assert abs((event.timestamp - span.start_time) / 1e9 - ttfc) < 0.01


async def test_async_streaming_time_to_first_chunk(span_exporter: InMemorySpanExporter) -> None:
    @rag_otel.stage("llm.astream", kind="generation")
    async def stream() -> AsyncIterator[str]:
        await asyncio.sleep(0.05)
        yield "a"
        yield "b"

    assert [c async for c in stream()] == ["a", "b"]
    span = one(span_exporter.get_finished_spans(), "llm.astream")
    assert span.attributes is not None
    ttfc = span.attributes[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK]
    assert isinstance(ttfc, float)
    assert ttfc >= 0.05
    assert span.attributes[sc.RAG_STREAM_CHUNK_COUNT] == 2


def test_non_generation_generators_do_not_count_chunks(
    span_exporter: InMemorySpanExporter,
) -> None:
    @rag_otel.stage("retrieve.stream", kind="retrieval")
    def hits() -> Iterator[int]:
        yield 1

    list(hits())
    span = one(span_exporter.get_finished_spans(), "retrieve.stream")
    assert span.attributes is not None
    assert sc.RAG_STREAM_CHUNK_COUNT not in span.attributes
    assert sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK not in span.attributes


# --- what decorating keeps -----------------------------------------------------------------


def test_metadata_signature_and_shape_are_kept() -> None:
    def plain(a: int, b: str = "x", *, c: float = 1.0) -> str:
        """Doc."""
        return b * a

    async def coro(a: int) -> int:
        return a

    def gen(n: int) -> Iterator[int]:
        yield n

    async def agen(n: int) -> AsyncIterator[int]:
        yield n

    for fn in (plain, coro, gen, agen):
        traced = rag_otel.stage(fn)
        assert traced.__name__ == fn.__name__
        assert traced.__qualname__ == fn.__qualname__
        assert traced.__doc__ == fn.__doc__
        assert traced.__wrapped__ is fn  # type: ignore[attr-defined]
        assert inspect.signature(traced) == inspect.signature(fn)
        assert inspect.iscoroutinefunction(traced) == inspect.iscoroutinefunction(fn)
        assert inspect.isgeneratorfunction(traced) == inspect.isgeneratorfunction(fn)
        assert inspect.isasyncgenfunction(traced) == inspect.isasyncgenfunction(fn)
    assert rag_otel.stage(plain)(2, "ab") == "abab"


def test_bare_decorator_names_the_stage_after_the_function(
    span_exporter: InMemorySpanExporter,
) -> None:
    class Retriever:
        @rag_otel.stage
        def search(self) -> int:
            return 3

        @rag_otel.stage(kind="retrieval")
        @staticmethod
        def static_search() -> int:
            return 4

    assert Retriever().search() == 3
    assert Retriever.static_search() == 4
    names = sorted(s.name for s in span_exporter.get_finished_spans())
    prefix = "test_bare_decorator_names_the_stage_after_the_function.<locals>.Retriever."
    assert names == [prefix + "search", prefix + "static_search"]


def test_turn_as_decorator_and_stage_outside_a_turn(
    span_exporter: InMemorySpanExporter,
) -> None:
    @rag_otel.turn(session_id="s-9")
    def answer() -> str:
        rag_otel.current_turn().set_attribute("app.answered", True)
        return "ok"

    assert answer() == "ok"
    with rag_otel.stage("lonely", kind="fusion"):
        pass
    spans = span_exporter.get_finished_spans()
    assert one(spans, "rag.turn").attributes["app.answered"] is True  # type: ignore[index]
    assert parent_id(one(spans, "lonely")) is None


def test_nested_reuse_of_one_scope_object(span_exporter: InMemorySpanExporter) -> None:
    scope = rag_otel.stage("reused", kind="other")
    with scope as outer_handle, scope as inner_handle:
        assert rag_otel.current_stage() is inner_handle
    assert outer_handle is not inner_handle
    spans = span_exporter.get_finished_spans()
    assert len(spans) == 2
    assert all(s.end_time is not None for s in spans)
    inner_span, outer_span = spans
    assert parent_id(inner_span) == span_id(outer_span)


def test_turns_of_one_session_share_a_scope_and_keep_their_own_entries(
    span_exporter: InMemorySpanExporter,
) -> None:
    """``turn(session_id)`` is shared per (session, user, workflow): its static attributes
    are built once; each entry still has its own span, turn id and handle, nested or not."""
    assert rag_otel.turn(session_id="s-1") is rag_otel.turn(session_id="s-1")
    assert rag_otel.turn(session_id="s-1") is not rag_otel.turn(session_id="s-1", user_id="u")
    assert rag_otel.turn(session_id="s-1", turn_id="t") is not rag_otel.turn("s-1", "t")
    assert rag_otel.turn(session_id="s-1", app_k=1) is not rag_otel.turn("s-1", app_k=1)
    with rag_otel.turn(session_id="s-1") as outer, rag_otel.turn(session_id="s-1") as inner:
        assert rag_otel.current_turn() is inner
    assert rag_otel.current_turn().span is INVALID_SPAN
    with rag_otel.turn(1) as one_id, rag_otel.turn(True) as true_id:  # type: ignore[arg-type]
        pass
    assert one_id.conversation_id == "1"
    assert true_id.conversation_id == "True"
    spans = span_exporter.get_finished_spans()
    assert len(spans) == 4
    assert all(s.end_time is not None for s in spans)
    inner_span, outer_span = spans[:2]
    assert parent_id(inner_span) == span_id(outer_span)
    assert outer.turn_id != inner.turn_id
    assert [s.attributes[sc.RAG_TURN_ID] for s in spans[:2]] == [inner.turn_id, outer.turn_id]  # type: ignore[index]
    assert [s.attributes[sc.SESSION_ID] for s in spans[2:]] == ["True", "1"]  # type: ignore[index]


def test_current_stage_and_turn_are_never_none(span_exporter: InMemorySpanExporter) -> None:
    """Outside a stage or turn: a no-op handle, as get_current_span() gives INVALID_SPAN."""
    stage, turn = rag_otel.current_stage(), rag_otel.current_turn()
    assert stage.span is INVALID_SPAN
    assert turn.span is INVALID_SPAN
    assert (stage.name, stage.kind, turn.turn_id) == ("stage", "other", "0" * 32)
    stage.record_documents(["a"], [1.0])  # no-ops that never raise
    stage.set_model("m")
    turn.set_attribute("app.k", 1)
    with rag_otel.turn(session_id="s") as t:
        assert rag_otel.current_turn() is t
        assert rag_otel.current_stage() is stage  # in a turn, outside any stage
        with rag_otel.stage("x") as s:
            assert rag_otel.current_stage() is s
        with rag_otel.operation("load") as op:
            assert rag_otel.current_stage() is stage  # an operation is not a stage
            op.set_attribute("app.k", 2)
    assert rag_otel.current_turn() is turn
    assert sorted(s.name for s in span_exporter.get_finished_spans()) == ["load", "rag.turn", "x"]


def test_a_span_that_fails_to_start_never_ends_another() -> None:
    """A processor raising on start (a host bug): that entry runs untraced, and its exit ends
    nothing else, even nested in the same scope object."""
    result = run_python(
        """
        from opentelemetry import trace
        from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import rag_otel
        from rag_otel._errors import COUNTS

        class FailsSecondStart(SpanProcessor):
            starts = 0

            def on_start(self, span, parent_context=None):
                FailsSecondStart.starts += 1
                if FailsSecondStart.starts == 2:
                    raise RuntimeError("bug in a processor")

        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(FailsSecondStart())
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)

        scope = rag_otel.stage("s")
        with scope as outer:
            with scope as inner:  # fails to start
                assert not inner.span.is_recording()
                assert rag_otel.current_stage() is inner
            assert rag_otel.current_stage() is outer
            assert outer.span.is_recording()  # not ended by the inner exit
        assert not outer.span.is_recording()
        print(len(exporter.get_finished_spans()), COUNTS["span-start"])
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "1"]

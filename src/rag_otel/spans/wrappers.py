"""Decorators: one wrapper per function shape (def, async def, generator, async generator).

Usage::

    from rag_otel.spans.wrappers import decorate

    traced = decorate(func, spec)   # what @stage(...), @turn(...) and @operation(...) do

A call of a decorated sync function, top-down (the hot path)::

    wrapper (wrap_sync)      one global read: is a tracer provider installed?  no -> func()
    spec.open(provider)      span started with the prebuilt attributes, context attached
    func(*args, **kwargs)
    close(handle, exc)       duration metric (metrics on), detach, mark exc, span.end()

``open`` and ``close`` are in `rag_otel.spans.specs`; the async wrapper is the same with an
``await``. A generator's span covers its whole iteration but is current only while its
body runs (`_Stream`): between steps the caller's context is back in place.
"""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from typing import Any, ParamSpec, TypeVar, cast

from opentelemetry import trace as _api
from opentelemetry.context import Context

from rag_otel import semconv as sc
from rag_otel._errors import contained
from rag_otel._otel_private import TRACER_PROVIDER_KEY as _PROVIDER_KEY
from rag_otel._otel_private import TRACER_PROVIDER_SLOT as _PROVIDERS
from rag_otel._otel_private import attach_context as _attach
from rag_otel._otel_private import current_context as _get_current
from rag_otel.metrics import recorder as _metrics
from rag_otel.metrics.keys import MetricKey
from rag_otel.spans.handles import TURN_KEY, TurnHandle, _Handle
from rag_otel.spans.specs import _Spec, close, detach_quietly

__all__ = ["decorate"]

P = ParamSpec("P")
R = TypeVar("R")

_perf = time.perf_counter


def decorate(func: Callable[P, R], spec: _Spec[Any]) -> Callable[P, R]:
    """``func`` traced: each call opens ``spec`` (its streamed variant for generators)."""
    if isinstance(func, (staticmethod, classmethod)):
        return cast("Callable[P, R]", type(func)(decorate(func.__func__, spec)))
    wrapped: Callable[..., Any]
    if inspect.isasyncgenfunction(func):
        wrapped = _wrap_async_gen(func, spec.streamed())
    elif inspect.isgeneratorfunction(func):
        wrapped = _wrap_gen(func, spec.streamed())
    elif inspect.iscoroutinefunction(func):
        wrapped = _wrap_async(func, spec)
    else:
        wrapped = _wrap_sync(func, spec)
    return cast("Callable[P, R]", wrapped)


def _wrap_sync(func: Callable[P, R], spec: _Spec[Any]) -> Callable[P, R]:
    open_ = spec.open

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        provider = _PROVIDERS[_PROVIDER_KEY]
        if provider is None:
            return func(*args, **kwargs)
        handle = open_(provider)
        if handle is None:
            return func(*args, **kwargs)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            close(handle, exc)
            raise
        close(handle, None)
        return result

    return wrapper


def _wrap_async(func: Callable[P, Awaitable[R]], spec: _Spec[Any]) -> Callable[P, Awaitable[R]]:
    open_ = spec.open

    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        provider = _PROVIDERS[_PROVIDER_KEY]
        if provider is None:
            return await func(*args, **kwargs)
        handle = open_(provider)
        if handle is None:
            return await func(*args, **kwargs)
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            close(handle, exc)
            raise
        close(handle, None)
        return result

    return wrapper


class _Stream:
    """A traced generator's iteration: its handle, the context its body runs in between
    yields, and its chunk count. The span is current only while the body runs."""

    __slots__ = ("chunks", "ctx", "first_key", "handle", "started", "streaming")

    def __init__(self, spec: _Spec[Any], provider: _api.TracerProvider) -> None:
        self.handle: _Handle | None = spec.open(provider)
        self.ctx: Context | None = None
        if self.handle is not None:
            self.ctx = _get_current()
            detach_quietly(self.handle._token)
            self.handle._token = None  # close() has nothing to detach
        self.streaming = spec.streaming
        self.first_key = spec.first_chunk_key
        self.chunks = 0
        # Time to first chunk counts from the span's start, never from before it.
        self.started = _perf()

    def chunk(self) -> None:
        self.chunks += 1
        if self.chunks == 1 and self.streaming and self.handle is not None:
            try:
                now = _perf()
                ttfc = now - self.started
                span = self.handle.span
                span.set_attribute(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, ttfc)
                span.add_event(sc.EVENT_FIRST_CHUNK)
                if self.handle._t0:  # metrics on: the stage's, and the turn's first, first chunk
                    _record_first_chunk(now, ttfc, self.first_key, self.ctx)
            except Exception:
                contained("stream", "recording the first chunk failed")

    def finish(self, exc: BaseException | None) -> None:
        handle = self.handle
        if handle is None:
            return
        if self.streaming:
            try:
                handle.span.set_attribute(sc.RAG_STREAM_CHUNK_COUNT, self.chunks)
            except Exception:
                contained("span-error", "recording the end of a stream failed")
        close(handle, exc)


def _record_first_chunk(
    now: float, ttfc: float, key: MetricKey | None, ctx: Context | None
) -> None:
    """Time to first chunk of a streamed stage; the turn's time to first token when this is
    the turn's first chunk (its handle's start is then cleared, so it is recorded once)."""
    if key is not None:
        _metrics.record(ttfc, key)
    handle = None if ctx is None else cast("TurnHandle | None", ctx.get(TURN_KEY))
    if handle is not None:
        t0, handle._first_t0 = handle._first_t0, 0.0
        if t0:
            _metrics.record(now - t0, handle._first_key)


def _wrap_gen(
    func: Callable[P, Generator[Any, Any, Any]], spec: _Spec[Any]
) -> Callable[P, Generator[Any, Any, Any]]:
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> Generator[Any, Any, Any]:
        gen = func(*args, **kwargs)
        provider = _PROVIDERS[_PROVIDER_KEY]
        if provider is None:
            return (yield from gen)
        stream = _Stream(spec, provider)
        ctx = stream.ctx
        if ctx is None:
            return (yield from gen)
        sent: Any = None
        thrown: BaseException | None = None
        outcome: BaseException | None = None
        try:
            while True:
                token = _attach(ctx)
                try:
                    if thrown is None:
                        item = gen.send(sent)
                    else:
                        exc, thrown = thrown, None
                        item = gen.throw(exc)
                except StopIteration as stop:
                    return stop.value
                finally:
                    ctx = stream.ctx = _get_current()  # as the body left it: its next step's
                    detach_quietly(token)
                stream.chunk()
                try:
                    sent = yield item
                except GeneratorExit:
                    token = _attach(ctx)
                    try:
                        gen.close()
                    finally:
                        detach_quietly(token)
                    raise
                except BaseException as exc:
                    thrown, sent = exc, None
        except BaseException as exc:
            outcome = exc
            raise
        finally:
            stream.finish(outcome)
            outcome = thrown = None

    return wrapper


def _wrap_async_gen(
    func: Callable[P, AsyncGenerator[Any, Any]], spec: _Spec[Any]
) -> Callable[P, AsyncGenerator[Any, Any]]:
    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> AsyncGenerator[Any, Any]:
        agen = func(*args, **kwargs)
        provider = _PROVIDERS[_PROVIDER_KEY]
        stream = None if provider is None else _Stream(spec, provider)
        ctx = None if stream is None else stream.ctx
        sent: Any = None
        thrown: BaseException | None = None
        outcome: BaseException | None = None
        try:
            while True:
                token = None if ctx is None else _attach(ctx)
                try:
                    if thrown is None:
                        item = await agen.asend(sent)
                    else:
                        exc, thrown = thrown, None
                        item = await agen.athrow(exc)
                except StopAsyncIteration:
                    return
                finally:
                    if token is not None:
                        ctx = stream.ctx = _get_current()  # type: ignore[union-attr]
                        detach_quietly(token)
                if stream is not None:
                    stream.chunk()
                try:
                    sent = yield item
                except GeneratorExit:
                    token = None if ctx is None else _attach(ctx)
                    try:
                        await agen.aclose()
                    finally:
                        if token is not None:
                            detach_quietly(token)
                    raise
                except BaseException as exc:
                    thrown, sent = exc, None
        except BaseException as exc:
            outcome = exc
            raise
        finally:
            if stream is not None:
                stream.finish(outcome)
            outcome = thrown = None

    return wrapper

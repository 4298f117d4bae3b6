"""Keep parent links across threads: ``ThreadPoolExecutor.submit``, ``loop.run_in_executor``
and ``threading.Thread``.

Usage::

    import rag_otel.propagation

    rag_otel.propagation.enable()     # configure() does this unless propagate_context=False
    with rag_otel.turn(session_id="s"):
        pool.submit(retrieve, query)  # the retrieve span is a child of the turn
    rag_otel.propagation.disable()    # exactly undoes enable()

``asyncio.create_task``, ``asyncio.gather`` and ``asyncio.to_thread`` copy context
variables themselves; ``loop.run_in_executor`` does not, but it calls the executor's
``submit``, which is wrapped here.

Only the OpenTelemetry context travels (the current span, rag-otel's stage and turn);
other context variables are left alone. When the submitting code has no OpenTelemetry
context the wrappers pass the call straight through, and they never change arguments,
return values or exceptions.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final

from opentelemetry import context as _context
from opentelemetry.context import Context
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from rag_otel._errors import contained

__all__ = ["disable", "enable", "is_enabled"]

_lock: Final = threading.Lock()
_enabled = False


class _InContext:
    """Calls ``fn`` with the OpenTelemetry context that was current when it was handed over."""

    __slots__ = ("ctx", "fn")

    def __init__(self, fn: Any, ctx: Context) -> None:
        self.fn = fn
        self.ctx = ctx

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        token = _context.attach(self.ctx)
        try:
            return self.fn(*args, **kwargs)
        finally:
            _context.detach(token)


def _submit(wrapped: Any, instance: ThreadPoolExecutor, args: Any, kwargs: Any) -> Future[Any]:
    ctx = _context.get_current()
    if not ctx or not args:
        return wrapped(*args, **kwargs)  # type: ignore[no-any-return]
    fn = _InContext(args[0], ctx)
    # Worker threads started by this submit must not keep the submitter's context for life.
    token = _context.attach(Context())
    try:
        return wrapped(fn, *args[1:], **kwargs)  # type: ignore[no-any-return]
    finally:
        _context.detach(token)


def _thread_start(wrapped: Any, instance: threading.Thread, args: Any, kwargs: Any) -> Any:
    ctx = _context.get_current()
    if ctx:
        # An instance attribute, so a subclass that overrides run() is covered too.
        try:
            own_run = instance.__dict__.get("run")
            instance.run = _ThreadRun(instance, ctx, own_run)  # type: ignore[method-assign]
        except Exception:  # an exotic Thread subclass: start it as it is
            contained("propagation", "cannot carry the context into thread %r", instance.name)
    return wrapped(*args, **kwargs)


class _ThreadRun:
    __slots__ = ("ctx", "own_run", "thread")

    def __init__(self, thread: threading.Thread, ctx: Context, own_run: Any) -> None:
        self.thread = thread
        self.ctx = ctx
        self.own_run = own_run  # a run() set on the instance before start(), if any

    def __call__(self) -> None:
        thread, own_run = self.thread, self.own_run
        token = _context.attach(self.ctx)
        try:
            if own_run is not None:
                own_run()
            else:
                type(thread).run(thread)
        finally:
            _context.detach(token)
            if own_run is not None:
                thread.run = own_run  # type: ignore[method-assign]
            else:
                thread.__dict__.pop("run", None)


def enable() -> None:
    """Propagate the OpenTelemetry context into executor jobs and new threads. Idempotent."""
    global _enabled
    with _lock:
        if _enabled:
            return
        wrap_function_wrapper("concurrent.futures.thread", "ThreadPoolExecutor.submit", _submit)
        wrap_function_wrapper("threading", "Thread.start", _thread_start)
        _enabled = True


def disable() -> None:
    """Undo ``enable()``."""
    global _enabled
    with _lock:
        if not _enabled:
            return
        unwrap(ThreadPoolExecutor, "submit")
        unwrap(threading.Thread, "start")
        _enabled = False


def is_enabled() -> bool:
    return _enabled

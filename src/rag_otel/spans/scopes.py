"""Scopes: what ``stage(...)``, ``turn(...)`` and ``operation(...)`` return, a context manager
and a decorator in one object; and ``current_stage()`` / ``current_turn()``.

Usage::

    scope = StageScope(StageArgs("retrieve.bm25", "retrieval"))
    with scope as s:           # __enter__: the spec's open (spec built on first entry)
        ...                    # __exit__: close() on this entry's own handle
    traced = scope(func)       # decorate: rag_otel.spans.wrappers

A scope keeps its declaration (`StageArgs`, `TurnArgs`, `OperationArgs`), the spec built
from it on first entry with tracing on, and the no-op handle it returns with tracing off.
One scope may be entered several times at once (nested, or shared by threads or tasks):
each entry's handle, attached to the context with its span, holds that entry's state, and
``__exit__`` reads it back from its own context. A pinned scope (``instrument(
tracer_provider=...)``) sends its spans to the provider it was built with.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, ClassVar, Final, Generic, ParamSpec, TypeVar

from opentelemetry import trace as _api
from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN

from rag_otel._errors import contained
from rag_otel._otel_private import TRACER_PROVIDER_KEY as _PROVIDER_KEY
from rag_otel._otel_private import TRACER_PROVIDER_SLOT as _PROVIDERS
from rag_otel._otel_private import attach_context as _attach
from rag_otel._otel_private import current_context as _get_current
from rag_otel.spans.handles import (
    OPERATION_KEY,
    STAGE_KEY,
    TURN_KEY,
    OperationHandle,
    StageHandle,
    TurnHandle,
    _Handle,
    new_handle,
    new_turn_handle,
)
from rag_otel.spans.specs import (
    OperationArgs,
    StageArgs,
    TurnArgs,
    _OperationSpec,
    _Spec,
    _StageSpec,
    _TurnSpec,
    close,
    stage_spec,
)
from rag_otel.spans.wrappers import decorate

__all__ = [
    "OperationScope",
    "PinnedOperationScope",
    "PinnedStageScope",
    "StageScope",
    "TurnScope",
    "current_stage",
    "current_turn",
]

P = ParamSpec("P")
R = TypeVar("R")
H = TypeVar("H", bound=_Handle)


class _Scope(Generic[H]):
    """``with``/``async with`` opens one span; calling it on a function decorates it.

    It keeps no per-entry state: each entry's handle, attached to the context with its
    span, holds it, and ``__exit__`` reads it back from its own context.
    """

    __slots__ = ("_built", "_off", "_pinned")
    _KEY: ClassVar[str]
    """The context key its handles are attached under."""
    _built: _Spec[H] | None
    """The spec ``with`` opens, built on first entry with tracing on (None before)."""
    _off: H | None
    """The no-op handle ``with`` returns with tracing off, once made (if it may be shared)."""
    _pinned: _api.TracerProvider | None
    """The provider its spans go to (a pinned scope's), or None: the installed one."""

    def __init__(self) -> None:
        self._built = self._off = self._pinned = None

    def _build(self) -> _Spec[H]:
        """The spec ``with`` opens (stored in ``_built`` by the caller)."""
        raise NotImplementedError

    def _spec(self, func: Callable[..., Any]) -> _Spec[H]:
        """The spec a decorated ``func`` opens on each call."""
        return self._built or self._build()

    def _noop(self) -> H:
        """A new no-op handle."""
        raise NotImplementedError

    def _off_handle(self) -> H:
        """The no-op handle ``with`` returns with tracing off (made once, then shared)."""
        handle = self._off = self._noop()
        return handle

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        return decorate(func, self._spec(func))

    def __enter__(self) -> H:
        provider = self._pinned
        if provider is None:  # not pinned: the installed provider, None with tracing off
            provider = _PROVIDERS[_PROVIDER_KEY]
            if provider is None:
                return self._off or self._off_handle()
        spec = self._built
        if spec is None:
            try:
                spec = self._built = self._build()
            except Exception:
                contained("span-start", "building the span of %r failed", self)
                return self._off or self._off_handle()
        handle = spec.open(provider)
        return handle if handle is not None else self._stand_in(spec)

    def _stand_in(self, spec: _Spec[H]) -> H:
        """Starting the span failed: a no-op handle attached in its place, so that this
        entry's ``__exit__`` pairs with it (and never ends an enclosing entry's span)."""
        handle = self._noop()
        handle._spec = spec
        try:
            handle._token = _attach(Context({**_get_current(), self._KEY: handle}))
        except Exception:
            contained("span-start", "attaching a no-op handle failed")
        return handle

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        spec = self._built
        if spec is None:  # never entered with tracing on: nothing of its own to end
            return
        handle: _Handle | None = _get_current().get(self._KEY)  # type: ignore[assignment]
        if handle is not None and handle._spec is spec:  # this context's entry, if this scope's
            close(handle, exc)

    async def __aenter__(self) -> H:
        return self.__enter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class StageScope(_Scope[StageHandle]):
    """What ``rag_otel.stage(name, kind=...)`` returns: a context manager and a decorator.

    Scopes without extra attributes are shared per (name, kind), so ``with stage(...)``
    in a hot loop allocates nothing when tracing is off.
    """

    __slots__ = ("args",)
    _KEY = STAGE_KEY

    def __init__(self, args: StageArgs) -> None:
        super().__init__()
        self.args: Final = args

    @property
    def name(self) -> str | None:
        return self.args.name

    @property
    def kind(self) -> str:
        return self.args.kind

    def _build(self) -> _StageSpec:
        return stage_spec(self.args)

    def _spec(self, func: Callable[..., Any]) -> _StageSpec:
        """Unnamed (``@stage``), the stage is named after the function it decorates."""
        if self.args.name is not None:
            return self._build()
        target = func.__func__ if isinstance(func, (staticmethod, classmethod)) else func
        name = str(getattr(target, "__qualname__", None) or getattr(target, "__name__", "stage"))
        return stage_spec(self.args._replace(name=name))

    def _noop(self) -> StageHandle:
        return new_handle(StageHandle, INVALID_SPAN, self.args)


class TurnScope(_Scope[TurnHandle]):
    """What ``rag_otel.turn(...)`` returns: a context manager and a decorator."""

    __slots__ = ("args",)
    _KEY = TURN_KEY

    def __init__(self, args: TurnArgs) -> None:
        super().__init__()
        self.args: Final = args

    def _build(self) -> _TurnSpec:
        return _TurnSpec(self.args)

    def _noop(self) -> TurnHandle:
        session_id = self.args.session_id
        conversation_id = None if session_id is None else str(session_id)
        return new_turn_handle(INVALID_SPAN, self.args, self.args.turn_id, conversation_id)

    def _off_handle(self) -> TurnHandle:
        """A new one each time: each entry is its own turn (its own ``turn_id``)."""
        return self._noop()


class OperationScope(_Scope[OperationHandle]):
    """What ``rag_otel.operation(...)`` returns: a context manager and a decorator."""

    __slots__ = ("args",)
    _KEY = OPERATION_KEY

    def __init__(self, args: OperationArgs) -> None:
        super().__init__()
        self.args: Final = args

    def _build(self) -> _OperationSpec:
        return _OperationSpec(self.args)

    def _noop(self) -> OperationHandle:
        return new_handle(OperationHandle, INVALID_SPAN, self.args)


_NO_STAGE: Final = StageScope(StageArgs(None))._noop()
"""What ``current_stage()`` returns outside any stage: a no-op handle named ``stage``."""
_NO_TURN: Final = TurnScope(TurnArgs(turn_id="0" * 32))._noop()
"""What ``current_turn()`` returns outside any turn: a no-op handle, ``turn_id`` 32 zeros."""


def current_stage() -> StageHandle:
    """The innermost active stage's handle; outside any stage, or with tracing off, a no-op
    handle (its span is ``INVALID_SPAN``), as ``opentelemetry.trace.get_current_span()``
    returns ``INVALID_SPAN``: never None."""
    handle: StageHandle | None = _get_current().get(STAGE_KEY)  # type: ignore[assignment]
    return handle or _NO_STAGE


def current_turn() -> TurnHandle:
    """The active turn's handle; outside any turn, or with tracing off, a no-op handle (its
    span is ``INVALID_SPAN``, its ``turn_id`` 32 zeros): never None."""
    handle: TurnHandle | None = _get_current().get(TURN_KEY)  # type: ignore[assignment]
    return handle or _NO_TURN


# --- pinned scopes: spans to one tracer provider, for instrument(tracer_provider=...) -------


class _Pinned(_Scope[H]):
    """Sends its spans to the tracer provider it was built with, not the installed one
    (``_pinned``, read by ``_Scope.__enter__``), even when none is installed.

    What an instrumentor builds when ``instrument(tracer_provider=...)`` names a provider
    (OpenTelemetry's contrib convention): fixed at instrument time, so no call pays for
    the choice and ``stage(...)`` itself is unchanged. A context manager only.
    """

    __slots__ = ()

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        raise TypeError("a scope pinned to a tracer provider is a context manager only")


class PinnedStageScope(_Pinned[StageHandle], StageScope):
    """A `StageScope` whose spans go to ``tracer_provider``."""

    __slots__ = ()

    def __init__(self, args: StageArgs, *, tracer_provider: _api.TracerProvider) -> None:
        super().__init__(args)
        self._pinned = tracer_provider


class PinnedOperationScope(_Pinned[OperationHandle], OperationScope):
    """An `OperationScope` whose span goes to ``tracer_provider``."""

    __slots__ = ()

    def __init__(self, args: OperationArgs, *, tracer_provider: _api.TracerProvider) -> None:
        super().__init__(args)
        self._pinned = tracer_provider

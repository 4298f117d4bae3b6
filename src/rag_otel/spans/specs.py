"""Span specs: everything static about a span, built once; ``open`` starts it, `close` ends it.

Usage::

    from rag_otel.spans.specs import StageArgs, close, stage_spec

    spec = stage_spec(StageArgs("embed", "embedding"))   # once, when a function is decorated
    handle = spec.open(provider)                          # per call: span started, context attached
    ...
    close(handle, None)                                   # per call: metric, detach, end

A stage is declared by its `StageArgs` (a turn by `TurnArgs`, an operation by
`OperationArgs`): the scope keeps them and hands them to the spec it builds, so a stage's
parameters are spelled once. The spec holds the prebuilt attributes and metric keys; its
``open`` does one context read, one ``start_span``, one handle (`handles.new_handle`) and
one context attach, and never raises. `close` is the one way an entry ends, for sync, async
and streamed calls and ``with`` blocks alike.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from contextvars import Token
from types import MappingProxyType
from typing import ClassVar, Final, Generic, NamedTuple, TypeVar

from opentelemetry import trace as _api
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from rag_otel import semconv as sc
from rag_otel._config import SETTINGS
from rag_otel._errors import contained
from rag_otel._otel_private import attach_context as _attach
from rag_otel._otel_private import current_context as _get_current
from rag_otel._otel_private import detach_context as _detach
from rag_otel._outcome import error_type, is_error
from rag_otel._version import __version__
from rag_otel.metrics import keys as _keys
from rag_otel.metrics import recorder as _metrics
from rag_otel.metrics.keys import MetricKey
from rag_otel.spans.attributes import clean_all
from rag_otel.spans.handles import (
    OPERATION_KEY,
    SPAN_KEY,
    STAGE_KEY,
    TURN_KEY,
    OperationHandle,
    StageHandle,
    TurnHandle,
    _Handle,
    new_handle,
    new_turn_handle,
    new_turn_id,
)

__all__ = [
    "TRACER_NAME",
    "OperationArgs",
    "StageArgs",
    "TurnArgs",
    "close",
    "detach_quietly",
    "stage_spec",
]

H = TypeVar("H", bound=_Handle)

TRACER_NAME: Final = "rag_otel"
_perf = time.perf_counter
# _get_current, _attach, _detach: opentelemetry.context.get_current/attach/detach, as one C
# call each where the runtime context allows (the fence). _detach may raise, unlike
# context.detach: callers contain it.
_INTERNAL: Final = SpanKind.INTERNAL
_SERVER: Final = SpanKind.SERVER
_NONE: Final[Mapping[str, object]] = MappingProxyType({})


# --- what a span is declared with --------------------------------------------------------


class StageArgs(NamedTuple):
    """A stage as ``stage(...)`` or an instrumentor declares it (the one list of its
    parameters: scopes keep it, specs are built from it)."""

    name: str | None
    """None: named after the function it decorates (``@stage``), else ``stage``."""
    kind: sc.StageKind = "other"
    attributes: Mapping[str, object] = _NONE
    """Extra static span attributes."""
    provider: str | None = None
    """``gen_ai.provider.name``."""
    span_kind: SpanKind = _INTERNAL
    """CLIENT for instrumented calls to a server (chromadb over HTTP)."""
    stream: bool = False
    """A generator function's spec: a generation stage records ``gen_ai.request.stream``."""


class TurnArgs(NamedTuple):
    """A turn as ``turn(...)`` declares it."""

    session_id: str | None = None
    turn_id: str | None = None
    user_id: str | None = None
    workflow: str | None = None
    attributes: Mapping[str, object] = _NONE


class OperationArgs(NamedTuple):
    """An operation as ``operation(...)`` or an instrumentor declares it."""

    name: str
    kind: str = "ingest"
    data_source: str | None = None
    attributes: Mapping[str, object] = _NONE
    span_kind: SpanKind = _INTERNAL


# --- tracer lookup -------------------------------------------------------------------


class _TracerCache(dict[_api.TracerProvider, _api.Tracer]):
    """The rag_otel tracer of each provider spans are started with: ``_TRACERS[provider]``
    (a dict lookup once the provider's tracer is made)."""

    __slots__ = ()

    def __missing__(self, provider: _api.TracerProvider) -> _api.Tracer:
        if len(self) >= 8:  # providers replaced at run time (tests) must not pile up
            self.clear()
        tracer = self[provider] = provider.get_tracer(TRACER_NAME, __version__)
        return tracer


_TRACERS: Final = _TracerCache()


# --- span specs: everything static, built once ----------------------------------------


class _Spec(Generic[H]):
    """What a decorated function or a scope opens on each entry. ``open`` never raises."""

    __slots__ = ("name",)
    streaming: bool = False
    first_chunk_key: MetricKey | None = None
    with_conversation: ClassVar[bool] = False
    """A generation stage's spans carry their turn's ``gen_ai.conversation.id``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def open(self, provider: _api.TracerProvider) -> H | None:
        """Start the span, attach a context holding it and its handle; the handle (which
        holds what ending needs), or None when starting failed (contained)."""
        raise NotImplementedError

    def streamed(self) -> _Spec[H]:
        """The spec to use for a generator function (only a generation stage differs)."""
        return self


class _StageSpec(_Spec[StageHandle]):
    __slots__ = (
        "args",
        "attributes",
        "first_chunk_key",
        "kind",
        "metric_key",
        "span_kind",
        "streaming",
    )

    def __init__(self, args: StageArgs) -> None:
        name = args.name or "stage"
        super().__init__(name)
        kind = args.kind
        if kind not in sc.KIND_CONVENTIONS:
            contained("stage-kind", "unknown stage kind %r recorded as 'other'", kind)
            kind = "other"
        conv = sc.KIND_CONVENTIONS[kind]
        attrs: dict[str, AttributeValue] = {
            sc.RAG_STAGE: name,
            sc.RAG_STAGE_KIND: kind,
            sc.OPENINFERENCE_SPAN_KIND: conv.openinference,
            sc.GEN_AI_OPERATION_NAME: conv.gen_ai_operation,
        }
        provider = args.provider
        if provider is not None:
            attrs[sc.GEN_AI_PROVIDER_NAME] = provider = str(provider)
        if args.stream:
            attrs[sc.GEN_AI_REQUEST_STREAM] = True
        attrs.update(clean_all(args.attributes))
        self.args: Final = args
        self.kind: sc.StageKind = kind
        self.span_kind: Final = args.span_kind
        self.attributes: Final = attrs
        self.streaming = kind == "generation"
        self.metric_key: Final = _keys.stage_key(name, kind, provider)
        self.first_chunk_key = _keys.first_chunk_key(name, kind, attrs) if self.streaming else None

    def streamed(self) -> _StageSpec:
        """The spec of a generator function: a generation stage records
        ``gen_ai.request.stream=true`` (built once, when the function is decorated)."""
        if not self.streaming:
            return self
        return stage_spec(self.args._replace(name=self.name, stream=True))

    def _with_conversation(self, parent: Context) -> dict[str, AttributeValue]:
        return self.attributes

    def open(self, provider: _api.TracerProvider) -> StageHandle | None:
        try:
            parent = _get_current()
            attributes = self.attributes
            if self.with_conversation:  # a generation stage carries its turn's session
                attributes = self._with_conversation(parent)
            span = _TRACERS[provider].start_span(self.name, parent, self.span_kind, attributes)
            handle = new_handle(StageHandle, span, self)
            handle._token = _attach(Context({**parent, SPAN_KEY: span, STAGE_KEY: handle}))
        except Exception:
            contained("span-start", "starting stage span %r failed", self.name)
            return None
        if _metrics.ENABLED:
            handle._key = self.metric_key
            handle._t0 = _perf()
        return handle


class _GenerationSpec(_StageSpec):
    """A generation stage also carries its turn's ``gen_ai.conversation.id``."""

    __slots__ = ("_last",)
    with_conversation = True

    def __init__(self, args: StageArgs) -> None:
        super().__init__(args)
        # the attributes built for the last conversation id: the turns of one session reuse them
        self._last: tuple[str | None, dict[str, AttributeValue]] = (None, self.attributes)

    def _with_conversation(self, parent: Context) -> dict[str, AttributeValue]:
        """Its attributes plus the current turn's ``gen_ai.conversation.id``, if any."""
        turn: TurnHandle | None = parent.get(TURN_KEY)  # type: ignore[assignment]
        if turn is None or turn.conversation_id is None:
            return self.attributes
        conversation, attributes = self._last
        if conversation != turn.conversation_id:
            conversation = turn.conversation_id
            attributes = {**self.attributes, sc.GEN_AI_CONVERSATION_ID: conversation}
            self._last = (conversation, attributes)  # one atomic store
        return attributes


def stage_spec(args: StageArgs) -> _StageSpec:
    """The spec of a stage declared by ``args`` (a generation stage's knows its session)."""
    cls = _GenerationSpec if args.kind == "generation" else _StageSpec
    return cls(args)


class _OperationSpec(_Spec[OperationHandle]):
    __slots__ = ("attributes", "span_kind")

    def __init__(self, args: OperationArgs) -> None:
        super().__init__(args.name)
        self.span_kind: Final = args.span_kind
        # gen_ai.operation.name = the operation's kind (a custom value): every span passes
        # Langfuse's default export filter without a made-up workflow name
        attrs: dict[str, AttributeValue] = {
            sc.RAG_OPERATION: args.kind,
            sc.GEN_AI_OPERATION_NAME: args.kind,
        }
        if args.data_source is not None:
            attrs[sc.GEN_AI_DATA_SOURCE_ID] = str(args.data_source)
        attrs.update(clean_all(args.attributes))
        self.attributes: Final = attrs

    def open(self, provider: _api.TracerProvider) -> OperationHandle | None:
        try:
            parent = _get_current()
            span = _TRACERS[provider].start_span(self.name, parent, self.span_kind, self.attributes)
            handle = new_handle(OperationHandle, span, self)
            handle._token = _attach(Context({**parent, SPAN_KEY: span, OPERATION_KEY: handle}))
        except Exception:
            contained("span-start", "starting operation span %r failed", self.name)
            return None
        return handle


class _TurnSpec(_Spec[TurnHandle]):
    __slots__ = ("attributes", "conversation_id", "turn_id", "workflow")

    def __init__(self, args: TurnArgs) -> None:
        super().__init__(sc.TURN_SPAN_NAME)
        attrs: dict[str, AttributeValue] = {
            sc.GEN_AI_OPERATION_NAME: sc.GEN_AI_OPERATION_INVOKE_WORKFLOW,
        }
        self.conversation_id = None if args.session_id is None else str(args.session_id)
        if self.conversation_id is not None:
            attrs[sc.SESSION_ID] = attrs[sc.GEN_AI_CONVERSATION_ID] = self.conversation_id
        if args.user_id is not None:
            attrs[sc.USER_ID] = str(args.user_id)
        if args.attributes:
            attrs.update(clean_all(args.attributes))
        self.attributes: Final = attrs
        self.turn_id = None if args.turn_id is None else str(args.turn_id)
        self.workflow = None if args.workflow is None else str(args.workflow)

    def open(self, provider: _api.TracerProvider) -> TurnHandle | None:
        try:
            parent = _get_current()
            parent_span: Span | None = parent.get(SPAN_KEY)  # type: ignore[assignment]
            is_child = parent_span is not None and parent_span.get_span_context().is_valid
            turn_id = self.turn_id or new_turn_id()  # an empty turn_id gets one too
            attributes = {**self.attributes, sc.RAG_TURN_ID: turn_id}
            # named by turn(workflow=...) or configure(workflow_name=...); never made up
            workflow = self.workflow or SETTINGS.workflow_name
            if workflow is not None:
                attributes[sc.GEN_AI_WORKFLOW_NAME] = workflow
            span = _TRACERS[provider].start_span(
                sc.TURN_SPAN_NAME, parent, _INTERNAL if is_child else _SERVER, attributes
            )
            handle = new_turn_handle(span, self, turn_id, self.conversation_id)
            ctx = Context({**parent, SPAN_KEY: span, TURN_KEY: handle, STAGE_KEY: None})
            handle._token = _attach(ctx)
        except Exception:
            contained("span-start", "starting the turn span failed")
            return None
        if _metrics.ENABLED:
            if workflow is not None:
                handle._first_key = _keys.turn_first_chunk_key(workflow)
            handle._key = _keys.turn_key(workflow)
            handle._t0 = handle._first_t0 = _perf()
        return handle


# --- ending an entry: the one way -------------------------------------------------------


def close(handle: _Handle, exc: BaseException | None) -> None:
    """End one entry (a call, a ``with`` block, a stream) from the state its handle holds:
    record its duration (metrics on), restore the context it replaced (if it still holds
    one attached), mark ``exc``, end its span. The caller re-raises ``exc`` itself."""
    if handle._t0:  # stage/turn duration metrics are on (rag_otel.metrics)
        _record(handle._t0, handle._key, None if exc is None else type(exc))
    span = handle.span
    if handle._token is not None:  # None: a stream, detached between its steps
        try:
            _detach(handle._token)  # type: ignore[arg-type]  # detach_quietly, inlined
        except Exception:
            contained("context-detach", _DETACH_FAILED)
    if exc is not None:
        try:
            _mark(span, exc)
        except Exception:
            contained("span-error", "recording the end of a span failed")
    try:
        span.end()
    except Exception:
        contained("span-end", "ending span failed")


def detach_quietly(token: Token[Context]) -> None:
    """Restore the context ``token`` replaced; a failure is contained (logged once)."""
    try:
        _detach(token)
    except Exception:
        contained("context-detach", _DETACH_FAILED)


_DETACH_FAILED: Final = "restoring the context failed (left in another context?)"


def _record(t0: float, key: MetricKey | None, error: type[BaseException] | None) -> None:
    try:
        _metrics.record(_perf() - t0, key, error)  # type: ignore[arg-type]
    except Exception:
        contained("metrics-record", "recording a duration failed")


def _mark(span: Span, exc: BaseException) -> None:
    """Record how ``exc`` ended the span: an error, or cancelled/closed (not an error)."""
    if not is_error(type(exc)):
        if isinstance(exc, GeneratorExit):
            span.set_attribute(sc.RAG_STREAM_CLOSED_EARLY, True)
        else:
            span.set_attribute(sc.RAG_CANCELLED, True)
        return
    span.record_exception(exc)
    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
    span.set_attribute(sc.ERROR_TYPE, error_type(type(exc)))

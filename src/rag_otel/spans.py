"""The tracing API: one span per RAG turn, one span per stage, plus non-stage operations.

Usage::

    import rag_otel

    @rag_otel.stage("embed", kind="embedding")
    def embed(text: str) -> list[float]: ...

    with rag_otel.turn(session_id="user-42") as t:
        vec = embed(question)
        with rag_otel.stage("retrieve.bm25", kind="retrieval") as s:
            hits = bm25.get_top_n(tokens, docs, n=20)
            s.record_documents(ids, scores)

How it stays cheap: everything static about a span (its name, kind and attributes) is
built once, when a function is decorated (a ``_StageSpec``). A call then does one
global read to learn whether tracing is on (the API's global provider, None until a
provider is installed, set only once; read through ``rag_otel._otel_private``, which
fences every private OpenTelemetry name), and when it is on:
start the span with the prebuilt attributes, attach one context that holds both
the span and the stage handle, call the function, detach, end. The hot path is
``_wrap_sync``'s wrapper, ``_StageSpec.open`` and ``_close`` below.

Per-entry state (span, context token, start time, metric key) lives on the handle made for
that entry and attached to the context with its span: a ``with`` scope shared by threads
and tasks keeps none, and its ``__exit__`` reads its own entry back from its own context.

Never break the host: exceptions from the user's function are recorded and re-raised
as the same object; anything that goes wrong inside rag-otel is contained
(``rag_otel._errors``) and the user's function still runs.
"""

from __future__ import annotations

import functools
import inspect
import json
import math
import random
import time
from collections.abc import (
    AsyncGenerator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Mapping,
)
from contextvars import Token
from itertools import islice
from types import TracebackType
from typing import Any, ClassVar, Final, Generic, ParamSpec, TypeVar, cast, overload

from opentelemetry import context as _context
from opentelemetry import trace as _api
from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from rag_otel import semconv as sc
from rag_otel._config import SETTINGS, TRUNCATION_MARK
from rag_otel._errors import contained
from rag_otel._otel_private import TRACER_PROVIDER_KEY as _PROVIDER_KEY
from rag_otel._otel_private import TRACER_PROVIDER_SLOT as _PROVIDERS
from rag_otel._otel_private import attach_context as _attach_context
from rag_otel._otel_private import current_context as _current_context
from rag_otel._otel_private import detach_context as _detach_context
from rag_otel._outcome import error_type, is_error
from rag_otel._version import __version__
from rag_otel.metrics import recorder as _metrics
from rag_otel.metrics.keys import MetricKey

__all__ = [
    "OperationHandle",
    "OperationScope",
    "PinnedOperationScope",
    "PinnedStageScope",
    "StageHandle",
    "StageScope",
    "TurnHandle",
    "TurnScope",
    "content_capture_enabled",
    "current_stage",
    "current_turn",
    "operation",
    "stage",
    "turn",
]

P = ParamSpec("P")
R = TypeVar("R")
H = TypeVar("H", bound="_Handle")

TRACER_NAME: Final = "rag_otel"

# The context key OpenTelemetry keeps the current span under, learned through the
# public API rather than imported from a private module.
_SPAN_KEY: Final = next(iter(_api.set_span_in_context(INVALID_SPAN, Context())))
_STAGE_KEY: Final = _context.create_key("rag_otel.stage")
_TURN_KEY: Final = _context.create_key("rag_otel.turn")
_OPERATION_KEY: Final = _context.create_key("rag_otel.operation")

_perf = time.perf_counter
_get_current = _current_context  # opentelemetry.context.get_current/attach/detach, as one
_attach = _attach_context  # C call each where the runtime context allows (the fence)
_detach = _detach_context  # may raise, unlike context.detach: callers contain it
_INTERNAL: Final = SpanKind.INTERNAL
_SERVER: Final = SpanKind.SERVER


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


# --- attribute values ----------------------------------------------------------------

_PRIMITIVES: Final = (str, bool, int, float)


def _clean(key: str, value: object) -> AttributeValue | None:
    """``value`` as a valid OTel attribute value; odd values become ``str`` (logged once)."""
    if isinstance(value, _PRIMITIVES):
        return value
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        kinds = {type(v) for v in value}
        if len(kinds) <= 1 and kinds <= {str, bool, int, float}:
            return tuple(value)
    contained(
        "attribute-value", "attribute %r: %s value recorded as str", key, type(value).__name__
    )
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def _clean_all(attributes: Mapping[str, object]) -> dict[str, AttributeValue]:
    out: dict[str, AttributeValue] = {}
    for key, value in attributes.items():
        cleaned = _clean(key, value)
        if cleaned is not None:
            out[str(key)] = cleaned
    return out


def content_capture_enabled() -> bool:
    """Whether content (queries, documents, prompts, answers) is recorded. Cheap."""
    return SETTINGS.capture_content


def _content(value: object) -> str | None:
    """``value`` as captured content: None unless capture is on; redacted; truncated."""
    if not SETTINGS.capture_content or value is None:
        return None
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, default=str, ensure_ascii=False)
        except Exception:
            text = str(value)
    redact = SETTINGS.redact
    if redact is not None:
        text = redact(text)
    limit = SETTINGS.max_content_length
    if len(text) > limit:
        text = text[:limit] + TRUNCATION_MARK
    return text


# --- ending spans ----------------------------------------------------------------------


def _close(handle: _Handle, exc: BaseException | None) -> None:
    """End one entry (a call, or a ``with`` block) from the state its handle holds: record
    its duration (metrics on), restore the context it replaced, mark ``exc``, end its span.
    The caller re-raises ``exc`` itself, unchanged."""
    if handle._t0:  # stage/turn duration metrics are on (rag_otel.metrics)
        _record(handle._t0, handle._key, None if exc is None else type(exc))
    span = handle.span
    try:
        _detach(handle._token)  # type: ignore[arg-type]
    except Exception:
        contained("context-detach", "restoring the context failed (left in another context?)")
    try:
        if exc is not None:
            _mark(span, exc)
    except Exception:
        contained("span-error", "recording the end of a span failed")
    try:
        span.end()
    except Exception:
        contained("span-end", "ending span failed")


def _detach_quietly(token: Token[Context]) -> None:
    try:
        _detach(token)
    except Exception:
        contained("context-detach", "restoring the context failed (left in another context?)")


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


# --- handles ---------------------------------------------------------------------------


def _guarded(method: Callable[P, None]) -> Callable[P, None]:
    """Handle methods never raise into user code."""

    @functools.wraps(method)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> None:
        try:
            method(*args, **kwargs)
        except Exception:
            contained(f"handle.{method.__name__}", "%s failed", method.__qualname__)

    return guarded


class _Handle:
    """What user code records through, and the state of one entry into a span.

    A handle is made per entry (a decorated call, a ``with`` block), attached to the context
    with its span, and read back from the context by ``__exit__``: a scope shared by
    threads and tasks keeps no per-entry state of its own. A no-op handle (tracing off,
    or outside any stage/turn) holds ``INVALID_SPAN`` and is attached nowhere.
    """

    __slots__ = ("_key", "_spec", "_t0", "_token", "span")

    def __init__(self, span: Span, spec: object) -> None:
        self.span: Span = span
        """The OTel span (``INVALID_SPAN``, a no-op, when tracing is off)."""
        self._spec = spec
        """What opened it (its scope for a no-op handle): a scope's ``__exit__`` ends only
        the handles its own spec opened."""
        self._token: object = None
        """The token of the context it attached (None: attached nowhere)."""
        self._t0 = 0.0
        """Its start (perf counter) while its duration is to be recorded (metrics on)."""
        self._key: MetricKey | None = None
        """The metric key its duration is recorded under (metrics on)."""

    @_guarded
    def set_attribute(self, key: str, value: object) -> None:
        cleaned = _clean(key, value)
        if cleaned is not None:
            self.span.set_attribute(key, cleaned)

    @_guarded
    def set_attributes(self, attributes: Mapping[str, object]) -> None:
        self.span.set_attributes(_clean_all(attributes))

    @_guarded
    def set_input(self, value: object) -> None:
        """``input.value``; recorded only with content capture on."""
        text = _content(value)
        if text is not None:
            self.span.set_attribute(sc.INPUT_VALUE, text)

    @_guarded
    def set_output(self, value: object) -> None:
        """``output.value``; recorded only with content capture on."""
        text = _content(value)
        if text is not None:
            self.span.set_attribute(sc.OUTPUT_VALUE, text)


_H = TypeVar("_H", "StageHandle", "OperationHandle")
_new_object = object.__new__


def _new_handle(cls: type[_H], span: Span, spec: object) -> _H:
    """``cls(span, spec)`` without the call into ``__init__`` from C (the hot path's)."""
    handle = _new_object(cls)
    handle.span = span
    handle._spec = spec  # type: ignore[assignment]
    handle._token = None
    handle._t0 = 0.0
    handle._key = None
    return handle


class OperationHandle(_Handle):
    """An ingest/housekeeping span (``rag_otel.operation``)."""

    __slots__ = ()


class TurnHandle(_Handle):
    """The span of one question/answer turn."""

    __slots__ = ("_first_key", "_first_t0", "_turn_id", "conversation_id")

    def __init__(
        self,
        span: Span,
        spec: object,
        turn_id: str | None,
        conversation_id: str | None = None,
    ) -> None:
        self.span = span
        self._spec = spec
        self._token = None
        self._t0 = 0.0
        self._key = None
        self._turn_id = turn_id
        self.conversation_id: str | None = conversation_id
        """``gen_ai.conversation.id`` (the ``session_id``), also on generation stages."""
        self._first_t0 = 0.0
        """The turn's start (perf counter) while its time to first token is still to be
        recorded (metrics on); 0.0 once recorded, or with metrics off."""
        self._first_key: MetricKey = _metrics.TURN_FIRST_CHUNK_KEY
        """The metric key its time to first token is recorded under (its workflow's)."""

    @property
    def turn_id(self) -> str:
        """The turn's id (``rag.turn.id``): given, or a generated uuid4 hex."""
        if self._turn_id is None:
            self._turn_id = _new_turn_id()
        return self._turn_id


class StageHandle(_Handle):
    """The span of one stage; records structured results in every convention."""

    __slots__ = ()
    _spec: _StageSpec | StageScope  # a scope stands in for the spec of a no-op handle

    @property
    def name(self) -> str:
        return self._spec.name or "stage"

    @property
    def kind(self) -> sc.StageKind:
        return self._spec.kind

    def _documents(
        self,
        prefix: str,
        ids: Iterable[object],
        scores: Iterable[object] | None,
        contents: Iterable[object] | None,
        gen_ai_json: bool,
    ) -> None:
        span = self.span
        if not span.is_recording():
            return
        limit = SETTINGS.max_documents
        id_list = [str(i) for i in islice(ids, limit)]
        score_list = [float(cast(float, s)) for s in islice(scores, limit)] if scores else []
        content_list = (
            list(islice(contents, limit))
            if contents is not None and SETTINGS.capture_content
            else []
        )
        attrs: dict[str, AttributeValue] = {}
        docs: list[dict[str, object]] = []
        for i, doc_id in enumerate(id_list):
            base = f"{prefix}.{i}."
            attrs[base + sc.DOCUMENT_ID] = doc_id
            doc: dict[str, object] = {"id": doc_id}
            if i < len(score_list):
                score = score_list[i]
                attrs[base + sc.DOCUMENT_SCORE] = score
                if math.isfinite(score):
                    doc["score"] = score
            if i < len(content_list):
                text = _content(content_list[i])
                if text is not None:
                    attrs[base + sc.DOCUMENT_CONTENT] = text
            docs.append(doc)
        if gen_ai_json:
            attrs[sc.GEN_AI_RETRIEVAL_DOCUMENTS] = json.dumps(docs)
        span.set_attributes(attrs)

    @_guarded
    def record_documents(
        self,
        ids: Iterable[object],
        scores: Iterable[object] | None = None,
        *,
        contents: Iterable[object] | None = None,
    ) -> None:
        """The stage's result documents, best first, bounded to the top N (``max_documents``).

        Written as ``gen_ai.retrieval.documents`` (JSON ``[{id, score}]``) and as OpenInference
        ``retrieval.documents.{i}.document.*`` (``reranker.output_documents.{i}...`` for a
        rerank stage). ``contents`` are recorded only with content capture on.
        """
        prefix = (
            sc.RERANKER_OUTPUT_DOCUMENTS_PREFIX
            if self._spec.kind == "rerank"
            else sc.RETRIEVAL_DOCUMENTS_PREFIX
        )
        self._documents(prefix, ids, scores, contents, gen_ai_json=True)

    @_guarded
    def record_input_documents(
        self,
        ids: Iterable[object],
        scores: Iterable[object] | None = None,
        *,
        contents: Iterable[object] | None = None,
    ) -> None:
        """A rerank stage's input candidates (``reranker.input_documents.{i}.document.*``;
        their number, for a list or tuple, as ``gen_ai.rerank.candidate.count``, proposed)."""
        if isinstance(ids, (list, tuple)) and self._spec.kind == "rerank":
            self.span.set_attribute(sc.GEN_AI_RERANK_CANDIDATE_COUNT, len(ids))
        self._documents(sc.RERANKER_INPUT_DOCUMENTS_PREFIX, ids, scores, contents, False)

    @_guarded
    def set_top_k(self, k: int) -> None:
        """How many documents the stage was asked for: ``gen_ai.retrieval.top_k`` (an int);
        on a rerank stage ``reranker.top_k`` and ``gen_ai.rerank.top_n`` (proposed, #253).
        Never ``gen_ai.request.top_k``: that is the decoding top-k of a model."""
        count = int(k)
        self.span.set_attributes(dict.fromkeys(_conventions(self._spec.kind).top_k, count))

    @_guarded
    def set_data_source(self, source_id: str) -> None:
        """``gen_ai.data_source.id``: the collection, index or store searched."""
        self.span.set_attribute(sc.GEN_AI_DATA_SOURCE_ID, str(source_id))

    @_guarded
    def set_model(
        self, name: str, *, response_model: str | None = None, provider: str | None = None
    ) -> None:
        """``gen_ai.request.model`` plus the OpenInference model name of this stage kind;
        ``gen_ai.response.model``; ``gen_ai.provider.name`` (``openai``, ``cohere``, ... or your
        own value; better given to ``stage(..., provider=...)``, at span start)."""
        attrs: dict[str, AttributeValue] = {sc.GEN_AI_REQUEST_MODEL: str(name)}
        kind_key = _MODEL_KEYS.get(self._spec.kind)
        if kind_key is not None:
            attrs[kind_key] = str(name)
        if response_model is not None:
            attrs[sc.GEN_AI_RESPONSE_MODEL] = str(response_model)
        if provider is not None:
            attrs[sc.GEN_AI_PROVIDER_NAME] = str(provider)
        self.span.set_attributes(attrs)

    @_guarded
    def set_input(self, value: object) -> None:
        """``input.value``; on a generation stage also ``gen_ai.input.messages`` (the spec's
        parts JSON: a string is one user message, ``[{"role", "content"}]`` lists are
        converted). Recorded only with content capture on."""
        text = _content(value)
        if text is None:
            return
        attrs: dict[str, AttributeValue] = {sc.INPUT_VALUE: text}
        if self._spec.kind == "generation":
            attrs[sc.GEN_AI_INPUT_MESSAGES] = _input_messages(value, text)
        self.span.set_attributes(attrs)

    @_guarded
    def set_output(self, value: object, *, finish_reason: str = "stop") -> None:
        """``output.value``; on a generation stage also ``gen_ai.output.messages`` (one
        assistant message with ``finish_reason``). Recorded only with content capture on."""
        text = _content(value)
        if text is None:
            return
        attrs: dict[str, AttributeValue] = {sc.OUTPUT_VALUE: text}
        if self._spec.kind == "generation":
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = _output_messages(text, finish_reason)
        self.span.set_attributes(attrs)

    @_guarded
    def set_usage(self, input_tokens: int | None = None, output_tokens: int | None = None) -> None:
        """``gen_ai.usage.input_tokens`` / ``output_tokens`` and ``llm.token_count.*``."""
        attrs: dict[str, AttributeValue] = {}
        if input_tokens is not None:
            attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] = int(input_tokens)
            attrs[sc.LLM_TOKEN_COUNT_PROMPT] = int(input_tokens)
        if output_tokens is not None:
            attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = int(output_tokens)
            attrs[sc.LLM_TOKEN_COUNT_COMPLETION] = int(output_tokens)
        if input_tokens is not None or output_tokens is not None:
            attrs[sc.LLM_TOKEN_COUNT_TOTAL] = int(input_tokens or 0) + int(output_tokens or 0)
        self.span.set_attributes(attrs)

    @_guarded
    def set_embedding_dimension(self, n: int) -> None:
        """``gen_ai.embeddings.dimension.count``."""
        self.span.set_attribute(sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, int(n))

    @_guarded
    def set_query(self, text: object) -> None:
        """The query, content-gated: ``input.value`` plus ``gen_ai.retrieval.query.text``
        (retrieval) or ``reranker.query`` (rerank)."""
        value = _content(text)
        if value is None:
            return
        attrs: dict[str, AttributeValue] = {sc.INPUT_VALUE: value}
        kind_key = _QUERY_KEYS.get(self._spec.kind)
        if kind_key is not None:
            attrs[kind_key] = value
        self.span.set_attributes(attrs)


_MODEL_KEYS: Final[dict[str, str]] = {
    "embedding": sc.EMBEDDING_MODEL_NAME,
    "generation": sc.LLM_MODEL_NAME,
    "rerank": sc.RERANKER_MODEL_NAME,
}
_QUERY_KEYS: Final[dict[str, str]] = {
    "retrieval": sc.GEN_AI_RETRIEVAL_QUERY_TEXT,
    "rerank": sc.RERANKER_QUERY,
}


def _conventions(kind: str) -> sc.KindConventions:
    return sc.KIND_CONVENTIONS.get(kind) or sc.KIND_CONVENTIONS["other"]


def _text_part(text: str) -> dict[str, str]:
    return {"type": "text", "content": text}


def _input_messages(value: object, text: str) -> str:
    """``gen_ai.input.messages`` JSON: chat messages (``{"role", "content": str}``) keep their
    roles, each content redacted and truncated on its own; anything else is one user message
    holding ``text`` (the captured ``input.value``)."""
    messages: list[dict[str, object]] = []
    if isinstance(value, (list, tuple)):
        for message in value:
            if not isinstance(message, Mapping) or not isinstance(message.get("content"), str):
                messages = []
                break
            content = _content(message["content"]) or ""
            role = str(message.get("role") or "user")
            messages.append({"role": role, "parts": [_text_part(content)]})
    if not messages:
        messages = [{"role": "user", "parts": [_text_part(text)]}]
    return json.dumps(messages, ensure_ascii=False)


def _output_messages(text: str, finish_reason: str) -> str:
    """``gen_ai.output.messages`` JSON: one assistant message (one choice)."""
    message = {"role": "assistant", "parts": [_text_part(text)], "finish_reason": finish_reason}
    return json.dumps([message], ensure_ascii=False)


def current_stage() -> StageHandle:
    """The innermost active stage's handle; outside any stage, or with tracing off, a no-op
    handle (its span is ``INVALID_SPAN``), as ``opentelemetry.trace.get_current_span()``
    returns ``INVALID_SPAN``: never None."""
    handle: StageHandle | None = _get_current().get(_STAGE_KEY)  # type: ignore[assignment]
    return handle or _NO_STAGE


def current_turn() -> TurnHandle:
    """The active turn's handle; outside any turn, or with tracing off, a no-op handle (its
    span is ``INVALID_SPAN``, its ``turn_id`` 32 zeros): never None."""
    handle: TurnHandle | None = _get_current().get(_TURN_KEY)  # type: ignore[assignment]
    return handle or _NO_TURN


_getrandbits = random.getrandbits
_UUID4_CLEAR: Final = ~(0xF000 << 64) & ~(0xC000 << 48)
"""The version and variant bits of a uuid4, cleared ..."""
_UUID4_SET: Final = (0x4000 << 64) | (0x8000 << 48)
"""... and set (version 4, variant RFC 4122)."""


def _new_turn_id() -> str:
    """A random uuid4, as 32 hex digits (cheaper than ``uuid.uuid4().hex``)."""
    return f"{_getrandbits(128) & _UUID4_CLEAR | _UUID4_SET:032x}"


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
        "attributes",
        "extra",
        "first_chunk_key",
        "kind",
        "metric_key",
        "provider",
        "span_kind",
        "streaming",
    )

    def __init__(
        self,
        name: str,
        kind: sc.StageKind,
        extra: Mapping[str, object],
        provider: str | None = None,
        span_kind: SpanKind = _INTERNAL,
        stream: bool = False,
    ) -> None:
        super().__init__(name)
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
        if provider is not None:
            attrs[sc.GEN_AI_PROVIDER_NAME] = provider = str(provider)
        if stream:
            attrs[sc.GEN_AI_REQUEST_STREAM] = True
        attrs.update(_clean_all(extra))
        self.kind: sc.StageKind = kind
        self.extra: Final = extra
        self.provider: Final = provider
        self.span_kind: Final = span_kind
        self.attributes: Final = attrs
        self.streaming = kind == "generation"
        self.metric_key: Final = _metrics.stage_key(name, kind, provider)
        self.first_chunk_key = (
            _metrics.first_chunk_key(name, kind, attrs) if self.streaming else None
        )

    def streamed(self) -> _StageSpec:
        """The spec of a generator function: a generation stage records
        ``gen_ai.request.stream=true`` (built once, when the function is decorated)."""
        if not self.streaming:
            return self
        return _stage_spec(self.name, self.kind, self.extra, self.provider, self.span_kind, True)

    def _with_conversation(self, parent: Context) -> dict[str, AttributeValue]:
        return self.attributes

    def open(self, provider: _api.TracerProvider) -> StageHandle | None:
        try:
            parent = _get_current()
            attributes = self.attributes
            if self.with_conversation:  # a generation stage carries its turn's session
                attributes = self._with_conversation(parent)
            span = _TRACERS[provider].start_span(self.name, parent, self.span_kind, attributes)
            handle = _new_object(StageHandle)  # _new_handle, inlined (one call less per entry)
            handle.span = span
            handle._spec = self
            handle._key = None
            handle._t0 = 0.0
            handle._token = _attach(Context({**parent, _SPAN_KEY: span, _STAGE_KEY: handle}))
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

    def __init__(
        self,
        name: str,
        kind: sc.StageKind,
        extra: Mapping[str, object],
        provider: str | None = None,
        span_kind: SpanKind = _INTERNAL,
        stream: bool = False,
    ) -> None:
        super().__init__(name, kind, extra, provider, span_kind, stream)
        # the attributes built for the last conversation id: the turns of one session reuse them
        self._last: tuple[str | None, dict[str, AttributeValue]] = (None, self.attributes)

    def _with_conversation(self, parent: Context) -> dict[str, AttributeValue]:
        """Its attributes plus the current turn's ``gen_ai.conversation.id``, if any."""
        turn: TurnHandle | None = parent.get(_TURN_KEY)  # type: ignore[assignment]
        if turn is None or turn.conversation_id is None:
            return self.attributes
        conversation, attributes = self._last
        if conversation != turn.conversation_id:
            conversation = turn.conversation_id
            attributes = {**self.attributes, sc.GEN_AI_CONVERSATION_ID: conversation}
            self._last = (conversation, attributes)  # one atomic store
        return attributes


def _stage_spec(
    name: str,
    kind: sc.StageKind,
    extra: Mapping[str, object],
    provider: str | None = None,
    span_kind: SpanKind = _INTERNAL,
    stream: bool = False,
) -> _StageSpec:
    cls = _GenerationSpec if kind == "generation" else _StageSpec
    return cls(name, kind, extra, provider, span_kind, stream)


class _OperationSpec(_Spec[OperationHandle]):
    __slots__ = ("attributes", "span_kind")

    def __init__(
        self,
        name: str,
        kind: str,
        data_source: str | None,
        extra: Mapping[str, object],
        span_kind: SpanKind = _INTERNAL,
    ) -> None:
        super().__init__(name)
        self.span_kind: Final = span_kind
        # gen_ai.operation.name = the operation's kind (a custom value): every span passes
        # Langfuse's default export filter without a made-up workflow name
        attrs: dict[str, AttributeValue] = {sc.RAG_OPERATION: kind, sc.GEN_AI_OPERATION_NAME: kind}
        if data_source is not None:
            attrs[sc.GEN_AI_DATA_SOURCE_ID] = str(data_source)
        attrs.update(_clean_all(extra))
        self.attributes: Final = attrs

    def open(self, provider: _api.TracerProvider) -> OperationHandle | None:
        try:
            parent = _get_current()
            span = _TRACERS[provider].start_span(self.name, parent, self.span_kind, self.attributes)
            handle = _new_handle(OperationHandle, span, self)
            ctx = Context({**parent, _SPAN_KEY: span, _OPERATION_KEY: handle})
            handle._token = _attach(ctx)
        except Exception:
            contained("span-start", "starting operation span %r failed", self.name)
            return None
        return handle


class _TurnSpec(_Spec[TurnHandle]):
    __slots__ = ("attributes", "conversation_id", "turn_id", "workflow")

    def __init__(
        self,
        session_id: str | None,
        turn_id: str | None,
        user_id: str | None,
        workflow: str | None,
        extra: Mapping[str, object],
    ) -> None:
        self.name = sc.TURN_SPAN_NAME
        attrs: dict[str, AttributeValue] = {
            sc.GEN_AI_OPERATION_NAME: sc.GEN_AI_OPERATION_INVOKE_WORKFLOW,
        }
        self.conversation_id = None if session_id is None else str(session_id)
        if self.conversation_id is not None:
            attrs[sc.SESSION_ID] = attrs[sc.GEN_AI_CONVERSATION_ID] = self.conversation_id
        if user_id is not None:
            attrs[sc.USER_ID] = str(user_id)
        if extra:
            attrs.update(_clean_all(extra))
        self.attributes: Final = attrs
        self.turn_id = None if turn_id is None else str(turn_id)
        self.workflow = None if workflow is None else str(workflow)

    def open(self, provider: _api.TracerProvider) -> TurnHandle | None:
        try:
            parent = _get_current()
            parent_span: Span | None = parent.get(_SPAN_KEY)  # type: ignore[assignment]
            is_child = parent_span is not None and parent_span.get_span_context().is_valid
            turn_id = self.turn_id
            if not turn_id:  # _new_turn_id, inlined (one call less per turn)
                turn_id = f"{_getrandbits(128) & _UUID4_CLEAR | _UUID4_SET:032x}"
            attributes = {**self.attributes, sc.RAG_TURN_ID: turn_id}
            # named by turn(workflow=...) or configure(workflow_name=...); never made up
            workflow = self.workflow or SETTINGS.workflow_name
            if workflow is not None:
                attributes[sc.GEN_AI_WORKFLOW_NAME] = workflow
            span = _TRACERS[provider].start_span(
                sc.TURN_SPAN_NAME, parent, _INTERNAL if is_child else _SERVER, attributes
            )
            handle = _new_object(TurnHandle)  # TurnHandle(...) without its __init__ call
            handle.span = span
            handle._spec = self
            handle._key = None
            handle._t0 = handle._first_t0 = 0.0
            handle._turn_id = turn_id
            handle.conversation_id = self.conversation_id
            handle._first_key = _metrics.TURN_FIRST_CHUNK_KEY
            ctx = Context({**parent, _SPAN_KEY: span, _TURN_KEY: handle, _STAGE_KEY: None})
            handle._token = _attach(ctx)
        except Exception:
            contained("span-start", "starting the turn span failed")
            return None
        if _metrics.ENABLED:
            if workflow is not None:
                handle._first_key = _metrics.turn_first_chunk_key(workflow)
            handle._key = _metrics.turn_key(workflow)
            handle._t0 = handle._first_t0 = _perf()
        return handle


# --- decorators: one wrapper per function shape ------------------------------------------


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
            _close(handle, exc)
            raise
        # _close(handle, None), inlined: the hot path's one call less per call
        if handle._t0:
            _record(handle._t0, handle._key, None)
        try:
            _detach(handle._token)
        except Exception:
            contained("context-detach", "restoring the context failed (left in another context?)")
        try:
            handle.span.end()
        except Exception:
            contained("span-end", "ending span failed")
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
            _close(handle, exc)
            raise
        _close(handle, None)
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
            _detach_quietly(self.handle._token)
            self.handle._token = None
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
        if handle._t0:
            _record(handle._t0, handle._key, None if exc is None else type(exc))
        span = handle.span
        try:
            if self.streaming:
                span.set_attribute(sc.RAG_STREAM_CHUNK_COUNT, self.chunks)
            if exc is not None:
                _mark(span, exc)
        except Exception:
            contained("span-error", "recording the end of a stream failed")
        try:
            span.end()
        except Exception:
            contained("span-end", "ending span failed")


def _record_first_chunk(
    now: float, ttfc: float, key: MetricKey | None, ctx: Context | None
) -> None:
    """Time to first chunk of a streamed stage; the turn's time to first token when this is
    the turn's first chunk (its handle's start is then cleared, so it is recorded once)."""
    if key is not None:
        _metrics.record(ttfc, key)
    handle = None if ctx is None else cast("TurnHandle | None", ctx.get(_TURN_KEY))
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
                    _detach_quietly(token)
                stream.chunk()
                try:
                    sent = yield item
                except GeneratorExit:
                    token = _attach(ctx)
                    try:
                        gen.close()
                    finally:
                        _detach_quietly(token)
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
                        _detach_quietly(token)
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
                            _detach_quietly(token)
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


def _decorate(func: Callable[P, R], spec: _Spec[Any]) -> Callable[P, R]:
    if isinstance(func, (staticmethod, classmethod)):
        return cast("Callable[P, R]", type(func)(_decorate(func.__func__, spec)))
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


# --- scopes: context manager and decorator in one object --------------------------------


class _Scope(Generic[H]):
    """``with``/``async with`` opens one span; calling it on a function decorates it.

    One scope object may be entered several times at once (nested, or shared by threads
    or tasks). It keeps no per-entry state: each entry's handle, attached to the context
    with its span, holds it, and ``__exit__`` reads it back from its own context.
    """

    __slots__ = ("_built", "_off")
    _KEY: ClassVar[str]
    """The context key its handles are attached under."""
    _built: _Spec[H] | None
    """The spec ``with`` opens, built on first entry with tracing on (None before)."""
    _off: H | None
    """The no-op handle ``with`` returns with tracing off, once made (if it may be shared)."""

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
        return _decorate(func, self._spec(func))

    def __enter__(self) -> H:
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
            _close(handle, exc)

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

    __slots__ = ("_attributes", "_provider", "_span_kind", "kind", "name")
    _KEY = _STAGE_KEY

    def __init__(
        self,
        name: str | None,
        kind: sc.StageKind,
        attributes: Mapping[str, object],
        provider: str | None = None,
        span_kind: SpanKind = _INTERNAL,
    ) -> None:
        self._built = self._off = None
        self.name = name
        self.kind = kind
        self._attributes = attributes
        self._provider = provider
        self._span_kind = span_kind  # CLIENT for instrumented calls to a server (chromadb HTTP)

    def _build(self) -> _StageSpec:
        return _stage_spec(
            self.name or "stage", self.kind, self._attributes, self._provider, self._span_kind
        )

    def _spec(self, func: Callable[..., Any]) -> _StageSpec:
        """Unnamed (``@stage``), the stage is named after the function it decorates."""
        if self.name is not None:
            return self._build()
        target = func.__func__ if isinstance(func, (staticmethod, classmethod)) else func
        name = str(getattr(target, "__qualname__", None) or getattr(target, "__name__", "stage"))
        return _stage_spec(name, self.kind, self._attributes, self._provider, self._span_kind)

    def _noop(self) -> StageHandle:
        return StageHandle(INVALID_SPAN, self)


_SCOPE_CACHE: Final[dict[tuple[str, str], StageScope]] = {}


def _shared_scope(name: str, kind: sc.StageKind) -> StageScope:
    scope = _SCOPE_CACHE.get((name, kind))
    if scope is None:
        if len(_SCOPE_CACHE) >= 4096:  # names built at run time must not grow it forever
            _SCOPE_CACHE.clear()
        scope = _SCOPE_CACHE[(name, kind)] = StageScope(name, kind, {})
    return scope


class TurnScope(_Scope[TurnHandle]):
    """What ``rag_otel.turn(...)`` returns: a context manager and a decorator."""

    __slots__ = ("_attributes", "_session_id", "_turn_id", "_user_id", "_workflow")
    _KEY = _TURN_KEY

    def __init__(
        self,
        session_id: str | None,
        turn_id: str | None,
        user_id: str | None,
        workflow: str | None,
        attributes: Mapping[str, object],
    ) -> None:
        self._built = self._off = None
        self._session_id = session_id
        self._turn_id = turn_id
        self._user_id = user_id
        self._workflow = workflow
        self._attributes = attributes

    def _build(self) -> _TurnSpec:
        return _TurnSpec(
            session_id=self._session_id,
            turn_id=self._turn_id,
            user_id=self._user_id,
            workflow=self._workflow,
            extra=self._attributes,
        )

    def _noop(self) -> TurnHandle:
        session_id = self._session_id
        conversation_id = None if session_id is None else str(session_id)
        return TurnHandle(INVALID_SPAN, self, self._turn_id, conversation_id)

    def _off_handle(self) -> TurnHandle:
        """A new one each time: each entry is its own turn (its own ``turn_id``)."""
        return self._noop()


_TURN_CACHE: Final[dict[tuple[str | None, str | None, str | None], TurnScope]] = {}
_ID_TYPES: Final = frozenset({str, type(None)})


def _shared_turn_scope(
    session_id: str | None, user_id: str | None, workflow: str | None
) -> TurnScope:
    """The scope ``turn(session_id, user_id=..., workflow=...)`` returns without a ``turn_id``
    or attributes, shared per arguments: the turns of one session build their span's static
    attributes once (a scope keeps no per-entry state; each entry's handle holds it)."""
    if len(_TURN_CACHE) >= 4096:  # sessions come and go: the cache must not grow forever
        _TURN_CACHE.clear()
    scope = _TURN_CACHE[(session_id, user_id, workflow)] = TurnScope(
        session_id, None, user_id, workflow, {}
    )
    return scope


class OperationScope(_Scope[OperationHandle]):
    """What ``rag_otel.operation(...)`` returns: a context manager and a decorator."""

    __slots__ = ("_attributes", "_data_source", "_kind", "_name", "_span_kind")
    _KEY = _OPERATION_KEY

    def __init__(
        self,
        name: str,
        kind: str,
        data_source: str | None,
        attributes: Mapping[str, object],
        span_kind: SpanKind = _INTERNAL,
    ) -> None:
        self._built = self._off = None
        self._name = name
        self._kind = kind
        self._data_source = data_source
        self._attributes = attributes
        self._span_kind = span_kind

    def _build(self) -> _OperationSpec:
        return _OperationSpec(
            name=self._name,
            kind=self._kind,
            data_source=self._data_source,
            extra=self._attributes,
            span_kind=self._span_kind,
        )

    def _noop(self) -> OperationHandle:
        return OperationHandle(INVALID_SPAN, self)


_NO_STAGE: Final = StageScope(None, "other", {})._noop()
"""What ``current_stage()`` returns outside any stage: a no-op handle named ``stage``."""
_NO_TURN: Final = TurnScope(None, "0" * 32, None, None, {})._noop()
"""What ``current_turn()`` returns outside any turn: a no-op handle, ``turn_id`` 32 zeros."""


# --- pinned scopes: spans to one tracer provider, for instrument(tracer_provider=...) -------


class _Pinned(_Scope[H]):
    """Sends its spans to the tracer provider it was built with, not the installed one.

    What an instrumentor builds when ``instrument(tracer_provider=...)`` names a provider
    (OpenTelemetry's contrib convention): fixed at instrument time, so no call pays for
    the choice and ``stage(...)`` itself is unchanged. A context manager only.
    """

    __slots__ = ()
    _tracer_provider: _api.TracerProvider

    def __call__(self, func: Callable[P, R]) -> Callable[P, R]:
        raise TypeError("a scope pinned to a tracer provider is a context manager only")

    def __enter__(
        self,
    ) -> H:  # _Scope.__enter__ with the pinned provider (on even if tracing is off)
        spec = self._built
        if spec is None:
            try:
                spec = self._built = self._build()
            except Exception:
                contained("span-start", "building the span of %r failed", self)
                return self._off or self._off_handle()
        handle = spec.open(self._tracer_provider)
        return handle if handle is not None else self._stand_in(spec)


class PinnedStageScope(_Pinned[StageHandle], StageScope):
    """A `StageScope` whose spans go to ``tracer_provider``."""

    __slots__ = ("_tracer_provider",)

    def __init__(
        self,
        name: str,
        kind: sc.StageKind,
        *,
        tracer_provider: _api.TracerProvider,
        span_kind: SpanKind = _INTERNAL,
    ) -> None:
        super().__init__(name, kind, {}, span_kind=span_kind)
        self._tracer_provider = tracer_provider


class PinnedOperationScope(_Pinned[OperationHandle], OperationScope):
    """An `OperationScope` whose span goes to ``tracer_provider``."""

    __slots__ = ("_tracer_provider",)

    def __init__(
        self,
        name: str,
        kind: str,
        data_source: str | None,
        attributes: Mapping[str, object],
        *,
        tracer_provider: _api.TracerProvider,
        span_kind: SpanKind = _INTERNAL,
    ) -> None:
        super().__init__(name, kind, data_source, attributes, span_kind)
        self._tracer_provider = tracer_provider


# --- the public constructors -----------------------------------------------------------


@overload
def stage(func: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def stage(
    name: str | None = None,
    /,
    *,
    kind: sc.StageKind = "other",
    provider: str | None = None,
    **attributes: object,
) -> StageScope: ...
def stage(
    name: str | Callable[P, R] | None = None,
    /,
    *,
    kind: sc.StageKind = "other",
    provider: str | None = None,
    **attributes: object,
) -> StageScope | Callable[P, R]:
    """One span per stage: ``@stage``, ``@stage("embed", kind="embedding")``, ``with stage(...)``.

    Kinds: embedding, retrieval, fusion, rerank, generation, other. ``provider`` is the
    ``gen_ai.provider.name`` of the model or service the stage calls (``openai``, ``cohere``,
    ...; required by the GenAI conventions on embedding and generation spans when known).
    Extra keyword arguments become static span attributes. Works on functions, coroutine
    functions, generator and async generator functions (the span covers the whole iteration;
    a streamed generation records ``gen_ai.request.stream=true``).
    """
    if callable(name):
        return StageScope(None, kind, attributes, provider)(name)
    if attributes or name is None or provider is not None:
        return StageScope(name, kind, attributes, provider)
    scope = _SCOPE_CACHE.get((name, kind))
    return scope if scope is not None else _shared_scope(name, kind)


@overload
def turn(session_id: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def turn(
    session_id: str | None = None,
    turn_id: str | None = None,
    user_id: str | None = None,
    *,
    workflow: str | None = None,
    **attributes: object,
) -> TurnScope: ...
def turn(
    session_id: str | Callable[P, R] | None = None,
    turn_id: str | None = None,
    user_id: str | None = None,
    *,
    workflow: str | None = None,
    **attributes: object,
) -> TurnScope | Callable[P, R]:
    """One parent span (``rag.turn``) per question/answer turn; a context manager or decorator.

    A turn is one invocation of your RAG workflow (``gen_ai.operation.name=invoke_workflow``);
    ``workflow`` names it (``gen_ai.workflow.name``, low cardinality: ``"faq-bot"``, not a
    question), else ``configure(workflow_name=...)`` does; unnamed, none is recorded.
    ``session_id`` is ``session.id`` and ``gen_ai.conversation.id``, on the turn and its
    generation stages. SERVER when it is the root of its trace, INTERNAL under a parent span.
    """
    if callable(session_id):
        return TurnScope(None, turn_id, user_id, workflow, attributes)(session_id)
    if (
        attributes  # per-turn arguments: a scope of its own
        or turn_id is not None
        or session_id.__class__ not in _ID_TYPES  # ids that are not str (1 == True == 1.0)
        or user_id.__class__ not in _ID_TYPES
        or workflow.__class__ not in _ID_TYPES
    ):
        return TurnScope(session_id, turn_id, user_id, workflow, attributes)
    scope = _TURN_CACHE.get((session_id, user_id, workflow))
    return scope if scope is not None else _shared_turn_scope(session_id, user_id, workflow)


def operation(
    name: str, *, data_source: str | None = None, kind: str = "ingest", **attributes: object
) -> OperationScope:
    """A span that is not a stage (ingest, housekeeping): ``rag.operation`` = ``kind``.

    Carries ``gen_ai.operation.name`` = ``kind`` (a custom value, so it survives Langfuse's
    default export filter) and ``gen_ai.data_source.id`` when ``data_source`` is given.
    """
    return OperationScope(name, kind, data_source, attributes)

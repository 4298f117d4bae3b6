"""Handles: what user code records through, and the state of one entry into a span.

Usage::

    with rag_otel.stage("retrieve.bm25", kind="retrieval") as s:   # s: a StageHandle
        s.set_top_k(20)
        s.record_documents(ids, scores)
    rag_otel.current_turn().turn_id

A handle is made per entry (a decorated call, a ``with`` block) by `new_handle` (a turn's by
`new_turn_handle`, which adds the turn's own slots): the one place every slot is set, so
no path can leave one unset (``tests/core/test_handles.py`` builds each). It is attached to
the context with its span (under `STAGE_KEY`, `TURN_KEY` or `OPERATION_KEY`) and read
back from there when the entry ends: a scope shared by threads and tasks keeps no per-entry
state of its own. A no-op handle (tracing off, or outside any stage/turn) holds
``INVALID_SPAN`` and is attached nowhere. Every recording method is guarded: it never
raises into user code.
"""

from __future__ import annotations

import functools
import json
import math
import random
from collections.abc import Callable, Iterable, Mapping
from itertools import islice
from typing import TYPE_CHECKING, Final, ParamSpec, TypeVar, cast

from opentelemetry import context as _context
from opentelemetry import trace as _api
from opentelemetry.context import Context
from opentelemetry.trace import INVALID_SPAN, Span
from opentelemetry.util.types import AttributeValue

from rag_otel import semconv as sc
from rag_otel._config import SETTINGS
from rag_otel._errors import contained
from rag_otel.metrics.keys import TURN_FIRST_CHUNK_KEY, MetricKey
from rag_otel.spans.attributes import (
    MODEL_KEYS,
    QUERY_KEYS,
    clean,
    clean_all,
    content,
    conventions,
    input_messages,
    output_messages,
)

if TYPE_CHECKING:
    from rag_otel.spans.specs import StageArgs, _StageSpec

__all__ = [
    "OPERATION_KEY",
    "SPAN_KEY",
    "STAGE_KEY",
    "TURN_KEY",
    "OperationHandle",
    "StageHandle",
    "TurnHandle",
    "new_handle",
    "new_turn_handle",
    "new_turn_id",
]

P = ParamSpec("P")

# The context key OpenTelemetry keeps the current span under, learned through the
# public API rather than imported from a private module.
SPAN_KEY: Final = next(iter(_api.set_span_in_context(INVALID_SPAN, Context())))
STAGE_KEY: Final = _context.create_key("rag_otel.stage")
TURN_KEY: Final = _context.create_key("rag_otel.turn")
OPERATION_KEY: Final = _context.create_key("rag_otel.operation")


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

    Made by `new_handle` only (never ``_Handle(...)``): see the module docstring.
    """

    __slots__ = ("_key", "_spec", "_t0", "_token", "span")

    span: Span
    """The OTel span (``INVALID_SPAN``, a no-op, when tracing is off)."""
    _spec: object
    """What opened it (its scope's arguments for a no-op handle): a scope's ``__exit__`` ends
    only the handles its own spec opened."""
    _token: object
    """The token of the context it attached (None: attached nowhere)."""
    _t0: float
    """Its start (perf counter) while its duration is to be recorded (metrics on)."""
    _key: MetricKey | None
    """The metric key its duration is recorded under (metrics on)."""

    @_guarded
    def set_attribute(self, key: str, value: object) -> None:
        cleaned = clean(key, value)
        if cleaned is not None:
            self.span.set_attribute(key, cleaned)

    @_guarded
    def set_attributes(self, attributes: Mapping[str, object]) -> None:
        self.span.set_attributes(clean_all(attributes))

    @_guarded
    def set_input(self, value: object) -> None:
        """``input.value``; recorded only with content capture on."""
        text = content(value)
        if text is not None:
            self.span.set_attribute(sc.INPUT_VALUE, text)

    @_guarded
    def set_output(self, value: object) -> None:
        """``output.value``; recorded only with content capture on."""
        text = content(value)
        if text is not None:
            self.span.set_attribute(sc.OUTPUT_VALUE, text)


H = TypeVar("H", bound=_Handle)
_new_object = object.__new__


def new_handle(cls: type[H], span: Span, spec: object) -> H:
    """A handle of ``cls`` for ``span``, opened by ``spec``, attached nowhere yet, with
    every slot of `_Handle` set (without a call into ``__init__`` from C: the hot path's)."""
    handle = _new_object(cls)
    handle.span = span
    handle._spec = spec
    handle._token = None
    handle._t0 = 0.0
    handle._key = None
    return handle


def new_turn_handle(
    span: Span, spec: object, turn_id: str | None, conversation_id: str | None
) -> TurnHandle:
    """`new_handle` for a turn, with the turn's own slots set too."""
    handle = new_handle(TurnHandle, span, spec)
    handle._turn_id = turn_id
    handle.conversation_id = conversation_id
    handle._first_t0 = 0.0
    handle._first_key = TURN_FIRST_CHUNK_KEY
    return handle


class OperationHandle(_Handle):
    """An ingest/housekeeping span (``rag_otel.operation``)."""

    __slots__ = ()


class TurnHandle(_Handle):
    """The span of one question/answer turn."""

    __slots__ = ("_first_key", "_first_t0", "_turn_id", "conversation_id")

    _turn_id: str | None
    conversation_id: str | None
    """``gen_ai.conversation.id`` (the ``session_id``), also on generation stages."""
    _first_t0: float
    """The turn's start (perf counter) while its time to first token is still to be
    recorded (metrics on); 0.0 once recorded, or with metrics off."""
    _first_key: MetricKey
    """The metric key its time to first token is recorded under (its workflow's)."""

    @property
    def turn_id(self) -> str:
        """The turn's id (``rag.turn.id``): given, or a generated uuid4 hex."""
        if self._turn_id is None:
            self._turn_id = new_turn_id()
        return self._turn_id


_getrandbits = random.getrandbits
_UUID4_CLEAR: Final = ~(0xF000 << 64) & ~(0xC000 << 48)
"""The version and variant bits of a uuid4, cleared ..."""
_UUID4_SET: Final = (0x4000 << 64) | (0x8000 << 48)
"""... and set (version 4, variant RFC 4122)."""


def new_turn_id() -> str:
    """A random uuid4, as 32 hex digits (cheaper than ``uuid.uuid4().hex``)."""
    return f"{_getrandbits(128) & _UUID4_CLEAR | _UUID4_SET:032x}"


class StageHandle(_Handle):
    """The span of one stage; records structured results in every convention."""

    __slots__ = ()
    _spec: _StageSpec | StageArgs  # a no-op handle holds its scope's arguments

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
                text = content(content_list[i])
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
        self.span.set_attributes(dict.fromkeys(conventions(self._spec.kind).top_k, count))

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
        kind_key = MODEL_KEYS.get(self._spec.kind)
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
        text = content(value)
        if text is None:
            return
        attrs: dict[str, AttributeValue] = {sc.INPUT_VALUE: text}
        if self._spec.kind == "generation":
            attrs[sc.GEN_AI_INPUT_MESSAGES] = input_messages(value, text)
        self.span.set_attributes(attrs)

    @_guarded
    def set_output(self, value: object, *, finish_reason: str = "stop") -> None:
        """``output.value``; on a generation stage also ``gen_ai.output.messages`` (one
        assistant message with ``finish_reason``). Recorded only with content capture on."""
        text = content(value)
        if text is None:
            return
        attrs: dict[str, AttributeValue] = {sc.OUTPUT_VALUE: text}
        if self._spec.kind == "generation":
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = output_messages(text, finish_reason)
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
        value = content(text)
        if value is None:
            return
        attrs: dict[str, AttributeValue] = {sc.INPUT_VALUE: value}
        kind_key = QUERY_KEYS.get(self._spec.kind)
        if kind_key is not None:
            attrs[kind_key] = value
        self.span.set_attributes(attrs)

"""Trace chromadb: queries as ``retrieval`` stages, writes as ingest operations.

Usage
-----

.. code:: python

    import chromadb
    import rag_otel
    from rag_otel.instrumentation.chromadb import ChromaInstrumentor

    rag_otel.configure(service_name="faq-bot")
    ChromaInstrumentor().instrument()  # or rag_otel.instrument() for every library at once
    # ChromaInstrumentor().instrument(tracer_provider=provider): spans to that provider

    client = chromadb.EphemeralClient()
    docs = client.get_or_create_collection("docs", embedding_function=None)
    docs.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]])  # span "chroma.add"
    with rag_otel.turn(session_id="user-42"):
        docs.query(query_embeddings=[[1.0, 0.1]], n_results=2)  # stage "chroma.query"

``opentelemetry-instrument python app.py`` loads it too (entry point ``chromadb_rag_otel``);
``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=chromadb_rag_otel`` turns it off there.

Spans go to the global tracer provider, read on each call, unless ``instrument()`` was given
a ``tracer_provider`` (fixed until ``uninstrument()``). Durations go through the meter
``rag_otel.configure()`` set up (a ``meter_provider`` is not taken).

What is wrapped
---------------
``Collection`` (embedded, persistent and HTTP clients) and ``AsyncCollection`` (the async
HTTP client), the same six methods on each:

- ``query`` -> stage ``chroma.query`` (kind ``retrieval``), ``get`` -> stage ``chroma.get``:
  collection name (``gen_ai.data_source.id``, ``db.collection.name``), ``db.namespace``
  (``{tenant}|{database}``), ``n_results`` / ``limit`` as ``gen_ai.retrieval.top_k`` (an
  int), how many queries and of which type, whether a ``where`` / ``where_document`` filter
  or an ``ids`` restriction was given, how many hits came back (``db.response.returned_rows``
  and ``rag.retrieval.result_count``), and the hits themselves as documents (ids and
  distances, bounded to the top N by the stage API; distances are "lower is better",
  ``rag.retrieval.score_type=distance``).
  A batch query (several query embeddings or texts) records the **first** query's hits as
  documents and the hit count of all queries in ``rag.retrieval.result_count``.
- ``add`` / ``upsert`` / ``update`` / ``delete`` -> operations ``chroma.add`` ... (ingest
  spans, not stages): collection name and record count (``delete``: records removed).

Span kind: CLIENT when the collection's client talks to a Chroma server (``HttpClient``,
``AsyncHttpClient``), with ``server.address`` / ``server.port``; INTERNAL for the embedded
clients (``EphemeralClient``, ``PersistentClient``), which run in this process.

Document text and query text are recorded only with content capture on
(``rag_otel.content_capture_enabled()``). Embedding vectors are never recorded.

The wrappers never change what chromadb does: arguments, return values and exceptions pass
through untouched; an exception is recorded on the span and re-raised as it was; a failure
in the recording code is logged once and never raised. Instrumenting does not import
chromadb: methods are wrapped when chromadb is imported, or at once if it already is.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Final, NamedTuple
from urllib.parse import urlsplit

from opentelemetry.instrumentation.utils import is_instrumentation_enabled
from opentelemetry.trace import SpanKind

import rag_otel
from rag_otel import semconv
from rag_otel.instrumentation._patching import (
    Arguments,
    Patch,
    Patcher,
    PatchingInstrumentor,
    Scopes,
    Wrapper,
    contained,
)
from rag_otel.spans import OperationScope, StageScope

from .package import _instruments

__all__ = ["ChromaInstrumentor"]

_SYNC_MODULE: Final = "chromadb.api.models.Collection"
_ASYNC_MODULE: Final = "chromadb.api.models.AsyncCollection"

Args = tuple[Any, ...]
Kwargs = dict[str, Any]
Describe = Callable[[rag_otel.StageHandle, Any, Arguments, Args, Kwargs, dict[str, Any]], None]
"""Adds what a retrieval call asks for to a dict of attributes:
``(handle, collection, arguments, args, kwargs, into)``."""
Outcome = Callable[[rag_otel.StageHandle, Any], None]
"""Records what a retrieval call returned: ``(handle, result)``."""


# --- counting chromadb's "one or many" arguments without reading their contents ------------


def _count_vectors(value: Any) -> int:
    """Number of embeddings in one embedding, a list of them or a 2-D array."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        return 1 if len(shape) <= 1 else int(shape[0])
    if len(value) == 0:
        return 0
    first = value[0]
    return (
        1 if isinstance(first, (int, float)) or getattr(first, "shape", None) == () else len(value)
    )


def _count_items(value: Any) -> int:
    """Number of ids, texts or URIs in one string or a list of them."""
    return 1 if isinstance(value, str) else len(value)


def _count_images(value: Any) -> int:
    """Number of images in one image array or a list of them."""
    shape = getattr(value, "shape", None)
    if shape is not None:
        return 1 if len(shape) <= 3 else int(shape[0])
    return len(value)


_QUERY_INPUTS: Final = (
    ("query_embeddings", "embeddings", _count_vectors),
    ("query_texts", "texts", _count_items),
    ("query_images", "images", _count_images),
    ("query_uris", "uris", _count_items),
)


def _filters(argv: Arguments, args: Args, kwargs: Kwargs, into: dict[str, Any]) -> None:
    """Whether the call was narrowed by ``where``, ``where_document`` or ``ids``."""
    into[semconv.RAG_RETRIEVAL_FILTER_WHERE] = bool(argv.get(args, kwargs, "where"))
    into[semconv.RAG_RETRIEVAL_FILTER_WHERE_DOCUMENT] = bool(
        argv.get(args, kwargs, "where_document")
    )
    ids = argv.get(args, kwargs, "ids")
    if ids is not None:
        into[semconv.RAG_RETRIEVAL_FILTER_IDS] = _count_items(ids)


# --- where the collection lives: in this process, or behind a server ------------------------

Server = tuple[str, int] | None
"""``(server.address, server.port)`` of an HTTP client; None for an embedded one."""


@lru_cache(maxsize=64)
def _parse_server(url: str) -> Server:
    parts = urlsplit(url)
    if not parts.hostname:
        return None
    default = 443 if parts.scheme == "https" else 80
    return parts.hostname, parts.port or default


def _server(collection: Any) -> Server:
    """Where an HTTP client sends its requests (its ``get_api_url()``); None when embedded."""
    get_url = getattr(getattr(collection, "_client", None), "get_api_url", None)
    if get_url is None:
        return None
    url = get_url()
    return _parse_server(url) if isinstance(url, str) else None


def _location(collection: Any, server: Server, into: dict[str, Any]) -> None:
    """``db.namespace`` (``{tenant}|{database}``) and, for a server, its address and port."""
    into[semconv.DB_NAMESPACE] = f"{collection.tenant}|{collection.database}"
    if server is not None:
        into[semconv.SERVER_ADDRESS], into[semconv.SERVER_PORT] = server


def _span_kind(server: Server) -> SpanKind:
    return SpanKind.INTERNAL if server is None else SpanKind.CLIENT


# --- retrieval: query / get ---------------------------------------------------------------
# The request is described in one ``span.set_attributes`` call (one lock, one pass): the
# data source and top_k are spelled as ``StageHandle.set_data_source`` / ``set_top_k`` spell
# them for a retrieval stage (``gen_ai.retrieval.top_k``, an int).


def _describe_query(
    handle: rag_otel.StageHandle,
    collection: Any,
    argv: Arguments,
    args: Args,
    kwargs: Kwargs,
    into: dict[str, Any],
) -> None:
    name = str(collection.name)
    into[semconv.DB_COLLECTION_NAME] = into[semconv.GEN_AI_DATA_SOURCE_ID] = name
    n_results = argv.get(args, kwargs, "n_results")
    if isinstance(n_results, int):
        into[semconv.GEN_AI_RETRIEVAL_TOP_K] = n_results
    for parameter, query_type, count in _QUERY_INPUTS:
        value = argv.get(args, kwargs, parameter)
        if value is not None:
            into[semconv.RAG_RETRIEVAL_QUERY_TYPE] = query_type
            into[semconv.RAG_RETRIEVAL_QUERY_COUNT] = count(value)
            if query_type == "texts" and rag_otel.content_capture_enabled():
                handle.set_query(value if isinstance(value, str) else value[0])
            break
    _filters(argv, args, kwargs, into)


def _describe_get(
    handle: rag_otel.StageHandle,
    collection: Any,
    argv: Arguments,
    args: Args,
    kwargs: Kwargs,
    into: dict[str, Any],
) -> None:
    name = str(collection.name)
    into[semconv.DB_COLLECTION_NAME] = into[semconv.GEN_AI_DATA_SOURCE_ID] = name
    limit = argv.get(args, kwargs, "limit")
    if isinstance(limit, int):
        into[semconv.GEN_AI_RETRIEVAL_TOP_K] = limit
    _filters(argv, args, kwargs, into)


def _record_hits(
    handle: rag_otel.StageHandle, ids: Any, distances: Any, documents: Any, total: int
) -> None:
    """The hits as documents: the stage API keeps the first N (``record_documents``)."""
    handle.span.set_attributes(
        {semconv.RAG_RETRIEVAL_RESULT_COUNT: total, semconv.DB_RESPONSE_RETURNED_ROWS: total}
    )
    if not ids:
        return
    contents = None
    if documents is not None and rag_otel.content_capture_enabled():
        contents = ("" if d is None else d for d in documents)
    scores = None if distances is None else (float(d) for d in distances)
    handle.record_documents(ids, scores, contents=contents)


def _record_query(handle: rag_otel.StageHandle, result: Any) -> None:
    # one list per query in the batch: the first query's hits become the documents
    ids = result.get("ids") or []
    distances = result.get("distances")
    documents = result.get("documents")
    _record_hits(
        handle,
        ids[0] if ids else None,
        distances[0] if distances else None,
        documents[0] if documents else None,
        sum(len(per_query) for per_query in ids),
    )


def _record_get(handle: rag_otel.StageHandle, result: Any) -> None:
    ids = result.get("ids") or []
    _record_hits(handle, ids, None, result.get("documents"), len(ids))


_RETRIEVAL: Final[dict[str, tuple[Describe, Outcome]]] = {
    "query": (_describe_query, _record_query),
    "get": (_describe_get, _record_get),
}


# --- one wrapper factory for the sync and async twins -----------------------------------


class _Target(NamedTuple):
    """What one call enters: its scope, and the server its collection talks to."""

    scope: StageScope | OperationScope
    server: Server


Open = Callable[[Any, Args, Kwargs], _Target]
"""Picks the scope of a call: ``(collection, args, kwargs) -> target``."""
Begin = Callable[[Any, Any, Server, Args, Kwargs], bool]
"""Records the request: ``(handle, collection, server, args, kwargs)``; False when the span
is not recording (the result is then not read)."""
End = Callable[[Any, Any], None]
"""Records the result: ``(handle, result)``."""


def _wrapper(open_: Open, begin: Begin, end: End, *, is_async: bool) -> Wrapper:
    """The wrapper of one ``[Async]Collection`` method: the twins differ only by ``await``.

    The async one returns the coroutine of ``traced`` (or chromadb's own, untouched, when
    instrumentation is off), so the span covers the awaited call, not its creation.
    """
    if is_async:

        async def traced(
            wrapped: Callable[..., Any], instance: Any, args: Args, kwargs: Kwargs
        ) -> Any:
            target = open_(instance, args, kwargs)
            async with target.scope as handle:
                recording = begin(handle, instance, target.server, args, kwargs)
                result = await wrapped(*args, **kwargs)
                if recording:
                    end(handle, result)
                return result

        def async_wrapper(
            wrapped: Callable[..., Any], instance: Any, args: Args, kwargs: Kwargs
        ) -> Any:
            if not _PATCHER.active or not is_instrumentation_enabled():
                return wrapped(*args, **kwargs)
            return traced(wrapped, instance, args, kwargs)

        return async_wrapper

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Args, kwargs: Kwargs) -> Any:
        if not _PATCHER.active or not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        target = open_(instance, args, kwargs)
        with target.scope as handle:
            recording = begin(handle, instance, target.server, args, kwargs)
            result = wrapped(*args, **kwargs)
            if recording:
                end(handle, result)
            return result

    return wrapper


def _static(method: str) -> dict[str, Any]:
    return {semconv.DB_SYSTEM_NAME: semconv.DB_SYSTEM_CHROMA, semconv.DB_OPERATION_NAME: method}


def _retrieval(method: str, *, is_async: bool) -> Patch:
    """A ``retrieval`` stage named ``chroma.<method>`` around ``[Async]Collection.<method>``."""
    name = f"chroma.{method}"
    describe, outcome = _RETRIEVAL[method]
    static = _static(method)
    if method == "query":
        static[semconv.RAG_RETRIEVAL_SCORE_TYPE] = "distance"
    where_in, where_out = f"{name} arguments", f"{name} results"

    def make(original: Callable[..., Any], scopes: Scopes) -> Wrapper:
        argv = Arguments(original)
        # one scope per span kind, built once: INTERNAL (embedded client), CLIENT (HTTP client)
        by_kind = {
            span_kind: scopes.stage(name, "retrieval", span_kind=span_kind)
            for span_kind in (SpanKind.INTERNAL, SpanKind.CLIENT)
        }

        def open_(instance: Any, args: Args, kwargs: Kwargs) -> _Target:
            try:
                server = _server(instance)
            except Exception:
                contained(where_in)
                server = None
            return _Target(by_kind[_span_kind(server)], server)

        def begin(
            handle: rag_otel.StageHandle, instance: Any, server: Server, args: Args, kwargs: Kwargs
        ) -> bool:
            try:
                span = handle.span
                if not span.is_recording():
                    return False
                attributes = dict(static)
                _location(instance, server, attributes)
                describe(handle, instance, argv, args, kwargs, attributes)
                span.set_attributes(attributes)
            except Exception:
                contained(where_in)
            return True

        def end(handle: rag_otel.StageHandle, result: Any) -> None:
            try:
                outcome(handle, result)
            except Exception:
                contained(where_out)

        return _wrapper(open_, begin, end, is_async=is_async)

    return Patch(_ASYNC_MODULE if is_async else _SYNC_MODULE, _owner(is_async), method, make)


# --- ingest: add / upsert / update / delete -------------------------------------------------


def _ingest(method: str, *, is_async: bool) -> Patch:
    """An ingest operation named ``chroma.<method>`` around ``[Async]Collection.<method>``;
    its attributes are known before the call, so they are given at span start."""
    name = f"chroma.{method}"
    static = _static(method)
    where_in, where_out = f"{name} arguments", f"{name} results"

    def make(original: Callable[..., Any], scopes: Scopes) -> Wrapper:
        argv = Arguments(original)

        def open_(instance: Any, args: Args, kwargs: Kwargs) -> _Target:
            attributes = dict(static)
            source = None
            server: Server = None
            try:
                source = instance.name
                attributes[semconv.DB_COLLECTION_NAME] = source
                server = _server(instance)
                _location(instance, server, attributes)
                if method == "delete":
                    _filters(argv, args, kwargs, attributes)
                else:
                    ids = argv.get(args, kwargs, "ids")
                    if ids is not None:
                        attributes[semconv.RAG_INGEST_RECORD_COUNT] = _count_items(ids)
            except Exception:
                contained(where_in)
            scope = scopes.operation(
                name, data_source=source, attributes=attributes, span_kind=_span_kind(server)
            )
            return _Target(scope, server)

        def end(handle: rag_otel.OperationHandle, result: Any) -> None:
            try:
                # chromadb >= 1.1 returns {"deleted": n}; older versions return None
                if isinstance(result, Mapping) and isinstance(result.get("deleted"), int):
                    handle.span.set_attribute(semconv.RAG_INGEST_DELETED_COUNT, result["deleted"])
            except Exception:
                contained(where_out)

        return _wrapper(open_, _given_at_start, end, is_async=is_async)

    return Patch(_ASYNC_MODULE if is_async else _SYNC_MODULE, _owner(is_async), method, make)


def _given_at_start(
    handle: rag_otel.OperationHandle, instance: Any, server: Server, args: Args, kwargs: Kwargs
) -> bool:
    """An ingest call's request: already on the span (its attributes were given at start)."""
    return True


def _owner(is_async: bool) -> str:
    return "AsyncCollection" if is_async else "Collection"


def _patches() -> list[Patch]:
    patches = []
    for is_async in (False, True):
        patches += [_retrieval(m, is_async=is_async) for m in ("query", "get")]
        patches += [_ingest(m, is_async=is_async) for m in ("add", "upsert", "update", "delete")]
    return patches


_PATCHER: Final = Patcher(_patches())


class ChromaInstrumentor(PatchingInstrumentor):
    """Wraps chromadb's ``Collection`` and ``AsyncCollection`` (see the module docstring)."""

    library = "chromadb"
    requirements = _instruments
    patcher = _PATCHER

"""ChromaInstrumentor on the async HTTP client (``AsyncCollection``) against a real server."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import chromadb
import pytest
from chromadb.api.models.AsyncCollection import AsyncCollection
from chromadb.config import Settings
from chromadb.errors import InvalidArgumentError
from opentelemetry.trace import SpanKind, StatusCode

import rag_otel
from rag_otel import semconv as sc
from rag_otel.instrumentation import instrument, uninstrument

IDS = ["doc-a", "doc-b", "doc-c"]
EMBEDDINGS = [[0.111111111, 0.0], [0.0, 0.222222222], [0.333333333, 0.333333333]]
QUERY = [0.1212121, 0.0001]  # nearest: doc-a, doc-b, doc-c


@pytest.fixture
async def collection(chroma_server: Any, instrumented: list[str]) -> AsyncIterator[AsyncCollection]:
    client = await chromadb.AsyncHttpClient(
        host=chroma_server.host,
        port=chroma_server.port,
        settings=Settings(anonymized_telemetry=False),
    )
    name = f"async-{uuid.uuid4().hex[:12]}"
    col = await client.create_collection(name, embedding_function=None)
    yield col
    await client.delete_collection(name)


def _attrs(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_async_methods_make_the_same_spans(
    collection: AsyncCollection, chroma_server: Any, spans: Any
) -> None:
    assert asyncio.iscoroutinefunction(AsyncCollection.query)  # wrapt keeps the marker
    async with rag_otel.turn(session_id="s"):
        await collection.add(ids=IDS, embeddings=EMBEDDINGS, documents=["a", "b", "c"])
        async with rag_otel.stage("retrieve.vector", kind="retrieval"):
            result = await collection.query(query_embeddings=[QUERY], n_results=2)
        got = await collection.get(ids=["doc-b"])
        await collection.upsert(ids=["doc-d"], embeddings=[[1.0, 1.0]])
        await collection.update(ids=["doc-d"], embeddings=[[1.0, 0.5]])
        deleted = await collection.delete(ids=["doc-d"])
    assert spans.names() == [
        "chroma.add",
        "chroma.query",
        "retrieve.vector",
        "chroma.get",
        "chroma.upsert",
        "chroma.update",
        "chroma.delete",
        "rag.turn",
    ]
    assert result["ids"] == [["doc-a", "doc-b"]]
    assert got["ids"] == ["doc-b"]
    turn, user_stage = spans.one("rag.turn"), spans.one("retrieve.vector")
    query = spans.one("chroma.query")
    assert query.parent is not None
    assert query.parent.span_id == user_stage.context.span_id
    for name in ("chroma.add", "chroma.get", "chroma.upsert", "chroma.update", "chroma.delete"):
        span = spans.one(name)
        assert span.parent is not None
        assert span.parent.span_id == turn.context.span_id

    attrs = _attrs(query)
    distances = result["distances"]
    assert distances is not None
    assert attrs[sc.RAG_STAGE_KIND] == "retrieval"
    assert attrs[sc.GEN_AI_DATA_SOURCE_ID] == collection.name
    assert attrs[sc.DB_SYSTEM_NAME] == "chroma"
    assert attrs[sc.GEN_AI_RETRIEVAL_TOP_K] == 2
    assert attrs[sc.DB_RESPONSE_RETURNED_ROWS] == 2
    assert attrs[sc.DB_NAMESPACE] == "default_tenant|default_database"
    assert attrs[sc.RAG_RETRIEVAL_QUERY_COUNT] == 1
    assert attrs[sc.RAG_RETRIEVAL_RESULT_COUNT] == 2
    assert json.loads(attrs[sc.GEN_AI_RETRIEVAL_DOCUMENTS]) == [
        {"id": i, "score": d} for i, d in zip(result["ids"][0], distances[0], strict=True)
    ]
    assert _attrs(spans.one("chroma.get"))[sc.RAG_RETRIEVAL_FILTER_IDS] == 1
    assert _attrs(spans.one("chroma.add"))[sc.RAG_INGEST_RECORD_COUNT] == 3
    assert _attrs(spans.one("chroma.delete"))[sc.RAG_INGEST_DELETED_COUNT] == deleted["deleted"]
    for name in ("chroma.add", "chroma.query", "chroma.get", "chroma.delete"):
        span = spans.one(name)  # the async client talks to a server: CLIENT spans
        assert span.kind is SpanKind.CLIENT, name
        assert _attrs(span)[sc.SERVER_ADDRESS] == "127.0.0.1"
        assert _attrs(span)[sc.SERVER_PORT] == chroma_server.port
    assert user_stage.kind is SpanKind.INTERNAL
    for span in spans.all():
        for value in _attrs(span).values():
            assert "0.111111111" not in str(value)
            assert "0.1212121" not in str(value)


async def test_async_error_is_recorded_and_reraised(
    collection: AsyncCollection, spans: Any
) -> None:
    await collection.add(ids=IDS, embeddings=EMBEDDINGS)
    uninstrument()
    try:
        with pytest.raises(InvalidArgumentError) as plain:
            await collection.query(query_embeddings=[[1.0, 0.0, 0.0]], n_results=1)
    finally:
        instrument()
    spans.clear()
    with pytest.raises(InvalidArgumentError) as traced:
        await collection.query(query_embeddings=[[1.0, 0.0, 0.0]], n_results=1)
    assert type(traced.value) is type(plain.value)
    assert str(traced.value) == str(plain.value)
    span = spans.one("chroma.query")
    assert span.status.status_code is StatusCode.ERROR
    assert _attrs(span)[sc.ERROR_TYPE].endswith(type(traced.value).__qualname__)


async def test_async_return_values_are_unchanged(collection: AsyncCollection, spans: Any) -> None:
    await collection.add(ids=IDS, embeddings=EMBEDDINGS)

    async def calls() -> list[Any]:
        return [
            await collection.query(query_embeddings=[QUERY, [0.0, 1.0]], n_results=3),
            await collection.get(where={"missing": 1}),
            await collection.get(ids=IDS, include=["embeddings"]),
            await collection.count(),
        ]

    uninstrument()
    try:
        plain = await calls()
    finally:
        instrument()
    traced = await calls()
    assert repr(traced) == repr(plain)  # numpy embeddings: compare the printed form
    assert spans.names().count("chroma.query") == 1
    assert spans.names().count("chroma.get") == 2


async def test_concurrent_queries_each_get_their_own_parent(
    collection: AsyncCollection, spans: Any
) -> None:
    await collection.add(ids=IDS, embeddings=EMBEDDINGS)
    spans.clear()

    async def one_turn(i: int) -> None:
        async with rag_otel.turn(session_id=f"user-{i}"):
            await collection.query(query_embeddings=[QUERY], n_results=1)

    await asyncio.gather(*(one_turn(i) for i in range(8)))
    turns = {s.context.span_id: s for s in spans.named("rag.turn")}
    queries = spans.named("chroma.query")
    assert len(turns) == len(queries) == 8
    parents = {q.parent.span_id for q in queries if q.parent is not None}
    assert parents == set(turns)


async def test_cancelled_call_ends_its_span_as_cancelled(
    collection: AsyncCollection, spans: Any
) -> None:
    await collection.add(ids=IDS, embeddings=EMBEDDINGS)
    spans.clear()
    task = asyncio.ensure_future(collection.query(query_embeddings=[QUERY], n_results=2))
    await asyncio.sleep(0)  # the query starts and waits on the server
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    span = spans.one("chroma.query")
    attrs = _attrs(span)
    assert attrs[sc.RAG_CANCELLED] is True
    assert span.status.status_code is StatusCode.UNSET
    assert sc.ERROR_TYPE not in attrs

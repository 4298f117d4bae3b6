"""ChromaInstrumentor against the real chromadb: embedded (ephemeral and persistent) clients."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
import pytest
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings
from chromadb.errors import InvalidArgumentError
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind, StatusCode

import rag_otel
from rag_otel import semconv as sc
from rag_otel.instrumentation import instrument, uninstrument
from rag_otel.instrumentation.chromadb import ChromaInstrumentor

# distinctive values: if any of them shows up in a span, a vector leaked
IDS = ["doc-a", "doc-b", "doc-c", "doc-d"]
EMBEDDINGS = [
    [0.111111111, 0.0, 0.0],
    [0.0, 0.222222222, 0.0],
    [0.0, 0.0, 0.333333333],
    [0.444444444, 0.444444444, 0.0],
]
DOCUMENTS = ["alpha text", "beta text", "gamma text", "delta text"]
METADATAS: list[dict[str, str | int | float | bool | None]] = [
    {"lang": "en"},
    {"lang": "sv"},
    {"lang": "en"},
    {"lang": "sv"},
]
QUERY = [0.1212121, 0.0001, 0.0]  # nearest: doc-a, doc-b, doc-c, doc-d
VECTOR_MARKS = ("0.111111111", "0.222222222", "0.333333333", "0.444444444", "0.1212121")

NO_TELEMETRY = Settings(anonymized_telemetry=False, allow_reset=True)


@pytest.fixture(params=["ephemeral", "persistent"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "ephemeral":
        return chromadb.EphemeralClient(settings=NO_TELEMETRY)
    return chromadb.PersistentClient(path=str(tmp_path / "chroma"), settings=NO_TELEMETRY)


@pytest.fixture
def collection(client: Any, instrumented: list[str]) -> Iterator[Collection]:
    name = f"test-{uuid.uuid4().hex[:12]}"
    col = client.create_collection(name, embedding_function=None)
    with suppress_instrumentation():
        col.add(ids=IDS, embeddings=EMBEDDINGS, documents=DOCUMENTS, metadatas=METADATAS)
    yield col
    client.delete_collection(name)


def _attrs(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


def _assert_no_vectors(all_spans: list[Any]) -> None:
    for span in all_spans:
        for key, value in _attrs(span).items():
            assert "embedding" not in key, key
            text = json.dumps(value) if not isinstance(value, str) else value
            for mark in VECTOR_MARKS:
                assert mark not in text, (span.name, key, value)


# --- retrieval stages ------------------------------------------------------------------


def test_query_is_a_retrieval_stage_with_its_attributes(collection: Collection, spans: Any) -> None:
    result = collection.query(query_embeddings=[QUERY], n_results=3)

    span = spans.one("chroma.query")
    assert span.kind is SpanKind.INTERNAL
    assert span.status.status_code is StatusCode.UNSET
    attrs = _attrs(span)
    expected_ids = result["ids"][0]
    assert expected_ids[0] == "doc-a"
    distances = result["distances"]
    assert distances is not None
    assert attrs == {
        sc.RAG_STAGE: "chroma.query",
        sc.RAG_STAGE_KIND: "retrieval",
        sc.OPENINFERENCE_SPAN_KIND: "RETRIEVER",
        sc.GEN_AI_OPERATION_NAME: "retrieval",
        sc.DB_SYSTEM_NAME: "chroma",
        sc.DB_OPERATION_NAME: "query",
        sc.DB_COLLECTION_NAME: collection.name,
        sc.GEN_AI_DATA_SOURCE_ID: collection.name,
        sc.DB_NAMESPACE: "default_tenant|default_database",
        sc.GEN_AI_RETRIEVAL_TOP_K: 3,
        sc.RAG_RETRIEVAL_SCORE_TYPE: "distance",
        sc.RAG_RETRIEVAL_QUERY_TYPE: "embeddings",
        sc.RAG_RETRIEVAL_QUERY_COUNT: 1,
        sc.RAG_RETRIEVAL_FILTER_WHERE: False,
        sc.RAG_RETRIEVAL_FILTER_WHERE_DOCUMENT: False,
        sc.RAG_RETRIEVAL_RESULT_COUNT: 3,
        sc.DB_RESPONSE_RETURNED_ROWS: 3,
        **{f"retrieval.documents.{i}.document.id": doc_id for i, doc_id in enumerate(expected_ids)},
        **{
            f"retrieval.documents.{i}.document.score": distances[0][i]
            for i in range(len(expected_ids))
        },
        sc.GEN_AI_RETRIEVAL_DOCUMENTS: json.dumps(
            [{"id": d, "score": s} for d, s in zip(expected_ids, distances[0], strict=True)]
        ),
    }


def test_query_filters_and_batch_record_the_first_query(collection: Collection, spans: Any) -> None:
    result = collection.query(
        query_embeddings=[QUERY, EMBEDDINGS[1]],
        n_results=2,
        where={"lang": "en"},
        where_document={"$contains": "text"},
        ids=["doc-a", "doc-b", "doc-c"],
    )
    attrs = _attrs(spans.one("chroma.query"))
    assert attrs[sc.RAG_RETRIEVAL_QUERY_COUNT] == 2
    assert attrs[sc.RAG_RETRIEVAL_FILTER_WHERE] is True
    assert attrs[sc.RAG_RETRIEVAL_FILTER_WHERE_DOCUMENT] is True
    assert attrs[sc.RAG_RETRIEVAL_FILTER_IDS] == 3
    assert attrs[sc.RAG_RETRIEVAL_RESULT_COUNT] == sum(len(x) for x in result["ids"]) == 4
    first = json.loads(attrs[sc.GEN_AI_RETRIEVAL_DOCUMENTS])
    assert [d["id"] for d in first] == result["ids"][0] == ["doc-a", "doc-c"]


def test_query_with_one_bare_embedding_counts_one_query(collection: Collection, spans: Any) -> None:
    collection.query(query_embeddings=QUERY, n_results=1)
    assert _attrs(spans.one("chroma.query"))[sc.RAG_RETRIEVAL_QUERY_COUNT] == 1


def test_query_arguments_are_read_by_position_and_from_arrays(
    collection: Collection, spans: Any
) -> None:
    import numpy as np

    # query(query_embeddings, query_texts, query_images, query_uris, ids, n_results, where)
    collection.query(np.array([QUERY, QUERY]), None, None, None, None, 3, {"lang": "sv"})
    attrs = _attrs(spans.one("chroma.query"))
    assert attrs[sc.RAG_RETRIEVAL_QUERY_COUNT] == 2
    assert attrs[sc.GEN_AI_RETRIEVAL_TOP_K] == 3
    assert type(attrs[sc.GEN_AI_RETRIEVAL_TOP_K]) is int
    assert attrs[sc.RAG_RETRIEVAL_FILTER_WHERE] is True
    assert attrs[sc.RAG_RETRIEVAL_RESULT_COUNT] == 4  # only two "sv" documents per query


def test_query_without_distances_records_ids_only(collection: Collection, spans: Any) -> None:
    collection.query(query_embeddings=[QUERY], n_results=2, include=["documents"])
    attrs = _attrs(spans.one("chroma.query"))
    assert json.loads(attrs[sc.GEN_AI_RETRIEVAL_DOCUMENTS]) == [{"id": "doc-a"}, {"id": "doc-b"}]
    assert "retrieval.documents.0.document.score" not in attrs


def test_get_is_a_retrieval_stage(collection: Collection, spans: Any) -> None:
    result = collection.get(where={"lang": "sv"}, limit=5)

    span = spans.one("chroma.get")
    attrs = _attrs(span)
    assert attrs[sc.RAG_STAGE] == "chroma.get"
    assert attrs[sc.RAG_STAGE_KIND] == "retrieval"
    assert attrs[sc.DB_OPERATION_NAME] == "get"
    assert attrs[sc.GEN_AI_DATA_SOURCE_ID] == collection.name
    assert attrs[sc.GEN_AI_RETRIEVAL_TOP_K] == 5
    assert "gen_ai.request.top_k" not in attrs  # decoding top-k only, never on retrieval
    assert attrs[sc.DB_RESPONSE_RETURNED_ROWS] == 2
    assert attrs[sc.RAG_RETRIEVAL_FILTER_WHERE] is True
    assert attrs[sc.RAG_RETRIEVAL_RESULT_COUNT] == 2
    assert sc.RAG_RETRIEVAL_SCORE_TYPE not in attrs
    assert json.loads(attrs[sc.GEN_AI_RETRIEVAL_DOCUMENTS]) == [{"id": i} for i in result["ids"]]


def test_documents_are_bounded(client: Any, spans: Any) -> None:
    col = client.create_collection(f"big-{uuid.uuid4().hex[:8]}", embedding_function=None)
    ids = [f"id-{i:03d}" for i in range(40)]
    col.add(ids=ids, embeddings=[[float(i), 1.0, 0.0] for i in range(40)])
    spans.clear()
    col.query(query_embeddings=[[0.0, 1.0, 0.0]], n_results=30)
    attrs = _attrs(spans.one("chroma.query"))
    assert attrs[sc.RAG_RETRIEVAL_RESULT_COUNT] == 30
    assert len(json.loads(attrs[sc.GEN_AI_RETRIEVAL_DOCUMENTS])) == 10  # the default bound
    assert "retrieval.documents.9.document.id" in attrs
    assert "retrieval.documents.10.document.id" not in attrs


def test_no_text_and_no_vectors_by_default(collection: Collection, spans: Any) -> None:
    collection.query(
        query_embeddings=[QUERY], n_results=4, include=["documents", "embeddings", "distances"]
    )
    collection.get(ids=IDS, include=["documents", "embeddings", "metadatas"])
    collection.upsert(ids=["doc-e"], embeddings=[[0.1212121, 0.0, 0.0]], documents=["epsilon text"])
    all_spans = spans.all()
    assert [s.name for s in all_spans] == ["chroma.query", "chroma.get", "chroma.upsert"]
    for span in all_spans:
        for key, value in _attrs(span).items():
            assert "text" not in str(value), (key, value)
            assert not key.endswith("document.content")
            assert key not in (sc.INPUT_VALUE, sc.GEN_AI_RETRIEVAL_QUERY_TEXT)
    _assert_no_vectors(all_spans)


# --- parentage -------------------------------------------------------------------------


def test_nests_under_a_user_stage_inside_a_turn(collection: Collection, spans: Any) -> None:
    with (
        rag_otel.turn(session_id="user-42"),
        rag_otel.stage("retrieve.vector", kind="retrieval"),
    ):
        collection.query(query_embeddings=[QUERY], n_results=2)
    turn, user_stage, auto = spans.one("rag.turn"), spans.one("retrieve.vector"), None
    auto = spans.one("chroma.query")
    assert auto.parent is not None
    assert user_stage.parent is not None
    assert auto.parent.span_id == user_stage.context.span_id
    assert user_stage.parent.span_id == turn.context.span_id
    assert auto.context.trace_id == turn.context.trace_id


def test_stage_outside_any_turn_is_a_root(collection: Collection, spans: Any) -> None:
    collection.get(ids=["doc-a"])
    assert spans.one("chroma.get").parent is None


# --- ingest operations -----------------------------------------------------------------


def test_writes_are_ingest_operations(client: Any, spans: Any) -> None:
    col = client.create_collection(f"ingest-{uuid.uuid4().hex[:8]}", embedding_function=None)
    with rag_otel.turn(session_id="s"):
        col.add(ids=IDS[:3], embeddings=EMBEDDINGS[:3], documents=DOCUMENTS[:3])
        col.upsert(ids="doc-d", embeddings=EMBEDDINGS[3])
        col.update(ids=["doc-a", "doc-b"], embeddings=EMBEDDINGS[:2], documents=["a2", "b2"])
        deleted = col.delete(where={"lang": "none"})
        col.delete(ids=["doc-a", "doc-b"])
    assert spans.names() == [
        "chroma.add",
        "chroma.upsert",
        "chroma.update",
        "chroma.delete",
        "chroma.delete",
        "rag.turn",
    ]
    turn = spans.one("rag.turn")
    expected_counts = {"chroma.add": 3, "chroma.upsert": 1, "chroma.update": 2}
    for span in spans.all()[:3]:
        attrs = _attrs(span)
        assert span.parent is not None
        assert span.parent.span_id == turn.context.span_id
        assert span.kind is SpanKind.INTERNAL  # embedded client: in this process
        assert sc.RAG_STAGE not in attrs  # not a stage: the analysis does not count it
        assert attrs == {
            sc.RAG_OPERATION: "ingest",
            sc.GEN_AI_OPERATION_NAME: "ingest",
            sc.GEN_AI_DATA_SOURCE_ID: col.name,
            sc.DB_NAMESPACE: "default_tenant|default_database",
            sc.DB_SYSTEM_NAME: "chroma",
            sc.DB_OPERATION_NAME: span.name.removeprefix("chroma."),
            sc.DB_COLLECTION_NAME: col.name,
            sc.RAG_INGEST_RECORD_COUNT: expected_counts[span.name],
        }
    by_filter, by_ids = spans.named("chroma.delete")
    assert _attrs(by_filter)[sc.RAG_RETRIEVAL_FILTER_WHERE] is True
    assert _attrs(by_filter)[sc.RAG_INGEST_DELETED_COUNT] == deleted["deleted"] == 0
    assert _attrs(by_ids)[sc.RAG_RETRIEVAL_FILTER_IDS] == 2
    assert _attrs(by_ids)[sc.RAG_INGEST_DELETED_COUNT] == 2
    _assert_no_vectors(spans.all())


# --- never change behaviour ------------------------------------------------------------


def _run_calls(col: Collection) -> list[Any]:
    out: list[Any] = [
        col.query(query_embeddings=[QUERY, EMBEDDINGS[3]], n_results=3),
        col.query(query_embeddings=[QUERY], n_results=2, where={"lang": "en"}),
        col.get(ids=["doc-b", "doc-c"]),
        col.get(where={"lang": "sv"}, include=["metadatas"]),
        col.upsert(ids=["doc-z"], embeddings=[[1.0, 1.0, 1.0]], documents=["z"]),
        col.update(ids=["doc-z"], embeddings=[[1.0, 0.5, 1.0]], documents=["zz"]),
        col.delete(ids=["doc-z"]),
        col.count(),
    ]
    return out


def _errors(col: Collection) -> list[tuple[type[BaseException], str]]:
    out = []
    calls = [
        lambda: col.query(query_embeddings=[[1.0, 0.0]], n_results=2),  # wrong dimension
        lambda: col.get(where={"$bogus": 1}),
        lambda: col.add(ids=["x"], embeddings=[[1.0, 2.0, 3.0, 4.0]]),
        lambda: col.delete(),
    ]
    for call in calls:
        error = _raised(call)
        out.append((type(error), str(error)))
    return out


def _raised(call: Any) -> Exception:
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("the call did not raise")


def test_return_values_and_errors_are_identical_to_uninstrumented(
    collection: Collection, spans: Any
) -> None:
    uninstrument()
    try:
        plain_results, plain_errors = _run_calls(collection), _errors(collection)
        assert spans.all() == []
    finally:
        instrument()
    traced_results, traced_errors = _run_calls(collection), _errors(collection)
    assert traced_results == plain_results
    assert traced_errors == plain_errors
    assert len(spans.all()) == 11


def test_an_error_is_recorded_and_reraised_unchanged(collection: Collection, spans: Any) -> None:
    with pytest.raises(InvalidArgumentError, match="dimension") as info:
        collection.query(query_embeddings=[[1.0, 0.0]], n_results=2)
    error = info.value
    assert "chromadb" in str(info.traceback[-1].path)  # raised where chromadb raised it
    span = spans.one("chroma.query")
    assert span.status.status_code is StatusCode.ERROR
    attrs = _attrs(span)
    assert attrs[sc.ERROR_TYPE] == f"{type(error).__module__}.{type(error).__qualname__}"
    assert [e.name for e in span.events] == ["exception"]
    assert sc.GEN_AI_RETRIEVAL_DOCUMENTS not in attrs


def test_an_ingest_error_is_recorded_and_reraised(collection: Collection, spans: Any) -> None:
    with pytest.raises(Exception, match="dimension"):
        collection.add(ids=["x"], embeddings=[[1.0, 2.0, 3.0, 4.0]])
    assert spans.one("chroma.add").status.status_code is StatusCode.ERROR


def test_suppress_instrumentation_makes_no_span(collection: Collection, spans: Any) -> None:
    with suppress_instrumentation():
        collection.query(query_embeddings=[QUERY], n_results=1)
    assert spans.all() == []


# --- instrument / uninstrument ---------------------------------------------------------


_METHODS = ("query", "get", "add", "upsert", "update", "delete")


def test_uninstrument_restores_the_original_methods(instrumented: list[str]) -> None:
    from chromadb.api.models.AsyncCollection import AsyncCollection

    wrapped = {(cls, m): cls.__dict__[m] for cls in (Collection, AsyncCollection) for m in _METHODS}
    originals = {key: fn.__wrapped__ for key, fn in wrapped.items()}
    assert sorted(ChromaInstrumentor().wrapped_methods) == sorted(
        f"{cls.__qualname__}.{m}" for cls, m in wrapped
    )
    ChromaInstrumentor().uninstrument()
    try:
        for (cls, method), original in originals.items():
            assert cls.__dict__[method] is original
        assert ChromaInstrumentor().wrapped_methods == []
    finally:
        ChromaInstrumentor().instrument()
    for (cls, method), original in originals.items():
        assert cls.__dict__[method].__wrapped__ is original


def test_instrumenting_twice_makes_one_span(collection: Collection, spans: Any) -> None:
    assert instrument() == ["chromadb_rag_otel", "rank_bm25"]
    ChromaInstrumentor().instrument()  # BaseInstrumentor logs a warning and does nothing
    ChromaInstrumentor()._instrument()  # even the raw hook is idempotent
    collection.query(query_embeddings=[QUERY], n_results=1)
    assert spans.names() == ["chroma.query"]


def test_a_wrapper_someone_wrapped_again_becomes_a_pass_through(
    collection: Collection, spans: Any
) -> None:
    import wrapt

    ours = Collection.__dict__["get"]
    calls: list[str] = []

    def theirs(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        calls.append("theirs")
        return wrapped(*args, **kwargs)

    wrapt.wrap_function_wrapper(Collection, "get", theirs)
    ChromaInstrumentor().uninstrument()
    try:
        assert Collection.__dict__["get"].__wrapped__ is ours  # we could not take ours out
        assert collection.get(ids=["doc-a"])["ids"] == ["doc-a"]
        assert calls == ["theirs"]
        assert spans.all() == []  # ours is still inside theirs, but passes through
    finally:
        setattr(Collection, "get", ours.__wrapped__)  # noqa: B010 - drop both wrappers
        ChromaInstrumentor().instrument()
    assert Collection.__dict__["get"].__wrapped__ is ours.__wrapped__


def test_every_auto_span_survives_langfuses_default_export_filter(client: Any, spans: Any) -> None:
    from langfuse.span_filter import is_default_export_span

    col = client.create_collection(f"lf-{uuid.uuid4().hex[:8]}", embedding_function=None)
    col.add(ids=IDS, embeddings=EMBEDDINGS)
    col.upsert(ids=IDS[:1], embeddings=EMBEDDINGS[:1])
    col.update(ids=IDS[:1], embeddings=EMBEDDINGS[:1])
    col.query(query_embeddings=[QUERY], n_results=1)
    col.get(ids=IDS[:1])
    col.delete(ids=IDS[:1])
    assert len(spans.all()) == 6
    for span in spans.all():
        assert is_default_export_span(span), span.name


# --- span kind: CLIENT for a client that talks to a server ----------------------------------


def test_http_client_spans_are_client_spans_with_the_server(
    chroma_server: Any, instrumented: list[str], spans: Any
) -> None:
    client = chromadb.HttpClient(  # its own Settings: HttpClient writes the server into them
        host=chroma_server.host,
        port=chroma_server.port,
        settings=Settings(anonymized_telemetry=False),
    )
    col = client.create_collection(f"http-{uuid.uuid4().hex[:8]}", embedding_function=None)
    try:
        col.add(ids=IDS, embeddings=EMBEDDINGS)
        col.query(query_embeddings=[QUERY], n_results=2)
        col.get(ids=IDS[:1])
    finally:
        client.delete_collection(col.name)
    assert spans.names() == ["chroma.add", "chroma.query", "chroma.get"]
    for span in spans.all():
        attrs = _attrs(span)
        assert span.kind is SpanKind.CLIENT, span.name
        assert attrs[sc.SERVER_ADDRESS] == chroma_server.host
        assert attrs[sc.SERVER_PORT] == chroma_server.port
        assert attrs[sc.DB_NAMESPACE] == "default_tenant|default_database"
    query = _attrs(spans.one("chroma.query"))
    assert query[sc.GEN_AI_RETRIEVAL_TOP_K] == 2
    assert query[sc.DB_RESPONSE_RETURNED_ROWS] == 2


def test_embedded_client_spans_are_internal_without_a_server(
    collection: Collection, spans: Any
) -> None:
    collection.query(query_embeddings=[QUERY], n_results=1)
    collection.add(ids=["doc-x"], embeddings=[[0.5, 0.5, 0.5]])
    for span in spans.all():
        assert span.kind is SpanKind.INTERNAL, span.name
        assert sc.SERVER_ADDRESS not in _attrs(span)
        assert sc.SERVER_PORT not in _attrs(span)

"""BM25Instrumentor against the real rank-bm25."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import rank_bm25
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.trace import SpanKind, StatusCode

import rag_otel
from rag_otel import semconv as sc
from rag_otel.instrumentation import instrument, uninstrument
from rag_otel.instrumentation.rank_bm25 import BM25Instrumentor

DOCUMENTS = [
    "a fence may be built without a permit",
    "a building permit is needed for an extension",
    "the fence height limit is one metre",
    "garden sheds need no permit",
    "permit fees depend on the building area",
    "a fence next to a road needs a permit",
    "the municipality decides on building permits",
    "an attefall house needs a notification",
    "height of a fence near the neighbour",
    "rules for a carport",
    "solar panels on the roof",
    "a fence or a wall",
    "the permit process takes ten weeks",
    "fence permit fence permit",
    "extension of a house",
    "windows and doors",
    "a tall fence",
    "demolition needs a permit",
    "a pool in the garden",
    "fence",
]
CORPUS = [d.split() for d in DOCUMENTS]
QUERY = ["fence", "permit"]
ALGORITHMS = [rank_bm25.BM25Okapi, rank_bm25.BM25L, rank_bm25.BM25Plus]


def _attrs(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})


def _documents(span: Any) -> list[dict[str, Any]]:
    return list(json.loads(_attrs(span)[sc.GEN_AI_RETRIEVAL_DOCUMENTS]))


@pytest.fixture(params=ALGORITHMS, ids=lambda c: c.__name__)
def algorithm(request: pytest.FixtureRequest) -> Any:
    return request.param


def test_index_construction_is_an_ingest_operation(algorithm: Any, spans: Any) -> None:
    bm25 = algorithm(CORPUS)
    span = spans.one("bm25.index")  # one span, though the subclass __init__ calls BM25's
    assert span.kind is SpanKind.INTERNAL
    assert _attrs(span) == {
        sc.RAG_OPERATION: "ingest",
        sc.GEN_AI_OPERATION_NAME: "ingest",
        sc.RAG_BM25_ALGORITHM: algorithm.__name__,
        sc.RAG_BM25_CORPUS_SIZE: 20,
        sc.RAG_BM25_VOCABULARY_SIZE: len(bm25.idf),
        sc.RAG_BM25_AVERAGE_DOCUMENT_LENGTH: bm25.avgdl,
    }


def test_get_scores_records_the_top_documents(algorithm: Any, spans: Any) -> None:
    bm25 = algorithm(CORPUS)
    spans.clear()
    scores = bm25.get_scores(QUERY)

    span = spans.one("bm25.get_scores")
    attrs = _attrs(span)
    assert attrs[sc.RAG_STAGE] == "bm25.get_scores"
    assert attrs[sc.RAG_STAGE_KIND] == "retrieval"
    assert attrs[sc.OPENINFERENCE_SPAN_KIND] == "RETRIEVER"
    assert attrs[sc.GEN_AI_OPERATION_NAME] == "retrieval"
    assert attrs[sc.RAG_BM25_ALGORITHM] == algorithm.__name__
    assert attrs[sc.RAG_BM25_CORPUS_SIZE] == 20
    assert attrs[sc.RAG_RETRIEVAL_QUERY_TOKEN_COUNT] == 2
    assert attrs[sc.RAG_RETRIEVAL_SCORE_TYPE] == "bm25"
    docs = _documents(span)
    assert len(docs) == 10  # bounded to the default top N
    recorded = [float(d["score"]) for d in docs]
    assert recorded == sorted(scores.tolist(), reverse=True)[:10]
    for d in docs:
        assert scores[int(d["id"])] == d["score"]
    assert attrs["retrieval.documents.0.document.id"] == docs[0]["id"]
    assert "retrieval.documents.10.document.id" not in attrs


def test_get_top_n_is_one_span_with_the_returned_documents(algorithm: Any, spans: Any) -> None:
    bm25 = algorithm(CORPUS)
    spans.clear()
    top = bm25.get_top_n(QUERY, DOCUMENTS, n=4)

    assert spans.names() == ["bm25.get_top_n"]  # the inner get_scores makes no span
    attrs = _attrs(spans.one("bm25.get_top_n"))
    assert attrs[sc.GEN_AI_RETRIEVAL_TOP_K] == 4
    assert type(attrs[sc.GEN_AI_RETRIEVAL_TOP_K]) is int
    assert attrs[sc.RAG_RETRIEVAL_RESULT_COUNT] == 4
    docs = _documents(spans.one("bm25.get_top_n"))
    assert [DOCUMENTS[int(d["id"])] for d in docs] == top
    scores = bm25.get_scores(QUERY)
    assert [d["score"] for d in docs] == [scores[int(d["id"])] for d in docs]


@pytest.mark.parametrize("n", [3, 10, 25])
def test_get_top_n_records_rank_bm25s_own_order_even_with_ties(n: int, spans: Any) -> None:
    bm25 = rank_bm25.BM25Okapi(CORPUS)
    for query in (["nothing"], ["fence"], QUERY):  # all tied, many tied, few tied
        spans.clear()
        top = bm25.get_top_n(query, DOCUMENTS, n=n)
        docs = _documents(spans.one("bm25.get_top_n"))
        assert [DOCUMENTS[int(d["id"])] for d in docs] == top[:10], query


def test_get_scores_after_get_top_n_is_traced_again(spans: Any) -> None:
    bm25 = rank_bm25.BM25Okapi(CORPUS)
    bm25.get_top_n(QUERY, DOCUMENTS, n=2)
    bm25.get_scores(QUERY)
    assert spans.names() == ["bm25.index", "bm25.get_top_n", "bm25.get_scores"]


def test_get_batch_scores_ranks_the_given_doc_ids(algorithm: Any, spans: Any) -> None:
    bm25 = algorithm(CORPUS)
    spans.clear()
    doc_ids = [19, 0, 5, 13, 9]
    scores = bm25.get_batch_scores(QUERY, doc_ids)

    attrs = _attrs(spans.one("bm25.get_batch_scores"))
    assert attrs[sc.RAG_RETRIEVAL_CANDIDATE_COUNT] == 5
    assert attrs[sc.RAG_RETRIEVAL_QUERY_TOKEN_COUNT] == 2
    docs = _documents(spans.one("bm25.get_batch_scores"))
    by_score = sorted(zip(scores, doc_ids, strict=True), key=lambda p: -p[0])
    assert [d["score"] for d in docs] == [s for s, _ in by_score]
    assert {d["id"] for d in docs} == {str(i) for i in doc_ids}
    for d in docs:
        assert scores[doc_ids.index(int(d["id"]))] == d["score"]


def test_larger_bound_uses_the_full_ranking(spans: Any) -> None:
    # more documents than argpartition's first cut (16): the ranking continues by a full sort
    corpus = [["fence"] * (i % 7 + 1) + ["x"] * (i % 5) for i in range(200)]
    bm25 = rank_bm25.BM25Okapi(corpus)
    scores = bm25.get_scores(["fence"])
    from rag_otel.instrumentation.rank_bm25 import _Ranking

    ranking = _Ranking(scores)
    positions = list(ranking.positions())
    assert sorted(positions) == list(range(200))  # each once, none lost at the seam
    assert [scores[j] for j in positions] == sorted(scores.tolist(), reverse=True)
    assert list(ranking.ids()) == [str(j) for j in positions]
    assert list(_Ranking(scores).scores()) == sorted(scores.tolist(), reverse=True)
    names = [f"doc-{j}" for j in range(200)]
    assert list(_Ranking(scores).ids(names))[:20] == [names[j] for j in positions[:20]]


def test_nests_under_a_user_stage_inside_a_turn(spans: Any) -> None:
    bm25 = rank_bm25.BM25Plus(CORPUS)
    with rag_otel.turn(session_id="u"), rag_otel.stage("retrieve.bm25", kind="retrieval"):
        bm25.get_top_n(QUERY, DOCUMENTS, n=3)
        bm25.get_scores(QUERY)  # a user's own stage does not suppress our spans
    turn, user = spans.one("rag.turn"), spans.one("retrieve.bm25")
    for name in ("bm25.get_top_n", "bm25.get_scores"):
        span = spans.one(name)
        assert span.parent is not None
        assert span.parent.span_id == user.context.span_id
    assert user.parent is not None
    assert user.parent.span_id == turn.context.span_id


def test_no_query_or_document_text_by_default(spans: Any) -> None:
    bm25 = rank_bm25.BM25Okapi(CORPUS)
    bm25.get_top_n(QUERY, DOCUMENTS, n=5)
    bm25.get_scores(QUERY)
    for span in spans.all():
        for key, value in _attrs(span).items():
            assert not key.endswith("document.content")
            assert key not in (sc.INPUT_VALUE, sc.GEN_AI_RETRIEVAL_QUERY_TEXT)
            assert "fence" not in str(value), key
            assert "permit" not in str(value), key


# --- never change behaviour ------------------------------------------------------------


def _calls() -> tuple[list[Any], list[tuple[type[BaseException], str]]]:
    results: list[Any] = []
    for cls in ALGORITHMS:
        bm25 = cls(CORPUS, k1=1.2)
        results += [
            bm25.get_scores(QUERY),
            bm25.get_scores([]),
            bm25.get_batch_scores(QUERY, [3, 1, 2]),
            bm25.get_top_n(QUERY, DOCUMENTS, n=3),
            bm25.get_top_n(QUERY, DOCUMENTS),
            bm25.get_top_n(["nothing"], DOCUMENTS, n=50),
            vars(bm25).copy(),
        ]
    errors = []
    for call in (
        lambda: rank_bm25.BM25Okapi([]),  # ZeroDivisionError in rank-bm25
        lambda: rank_bm25.BM25L(CORPUS).get_top_n(QUERY, DOCUMENTS[:3]),  # AssertionError
        lambda: rank_bm25.BM25Plus(CORPUS).get_batch_scores(QUERY, [99]),
        lambda: rank_bm25.BM25Okapi(CORPUS).get_scores(None),
    ):
        error = _raised(call)
        errors.append((type(error), str(error)))
    return results, errors


def _raised(call: Any) -> Exception:
    try:
        call()
    except Exception as exc:
        return exc
    raise AssertionError("the call did not raise")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and a and isinstance(a[0], (dict, np.ndarray)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(type(a) is type(b) and a == b)


def test_return_values_and_errors_are_identical_to_uninstrumented(spans: Any) -> None:
    uninstrument()
    try:
        plain_results, plain_errors = _calls()
        assert spans.all() == []
    finally:
        instrument()
    traced_results, traced_errors = _calls()
    assert len(traced_results) == len(plain_results)
    for traced, plain in zip(traced_results, plain_results, strict=True):
        assert _same(traced, plain), (traced, plain)
    assert traced_errors == plain_errors
    assert [e for e, _ in traced_errors] == [
        ZeroDivisionError,
        AssertionError,
        AssertionError,
        TypeError,
    ]
    assert spans.names().count("bm25.get_top_n") == 10


def test_errors_are_recorded_on_the_span(spans: Any) -> None:
    with pytest.raises(ZeroDivisionError) as info:
        rank_bm25.BM25Okapi([])
    assert "rank_bm25" in str(info.traceback[-1].path)
    index = spans.one("bm25.index")
    assert index.status.status_code is StatusCode.ERROR
    assert _attrs(index)[sc.ERROR_TYPE] == "ZeroDivisionError"
    bm25 = rank_bm25.BM25Okapi(CORPUS)
    with pytest.raises(AssertionError, match="don't match"):
        bm25.get_top_n(QUERY, DOCUMENTS[:2])
    top_n = spans.one("bm25.get_top_n")
    assert top_n.status.status_code is StatusCode.ERROR
    assert _attrs(top_n)[sc.ERROR_TYPE] == "AssertionError"
    assert sc.GEN_AI_RETRIEVAL_DOCUMENTS not in _attrs(top_n)


def test_a_failure_in_our_recording_code_is_contained(spans: Any, caplog: Any) -> None:
    import logging

    from rag_otel._errors import COUNTS

    key = "bm25.get_batch_scores arguments"
    before = COUNTS[f"instrumentation: {key}"]
    # an object whose corpus_size is unreadable: only our attribute code fails
    plain = rank_bm25.BM25Okapi(CORPUS)
    del plain.corpus_size
    expected = rank_bm25.BM25Okapi(CORPUS).get_batch_scores(QUERY, [0, 1])
    spans.clear()
    with caplog.at_level(logging.WARNING, logger="rag_otel"):
        assert plain.get_batch_scores(QUERY, [0, 1]) == expected
        assert plain.get_batch_scores(QUERY, [0, 1]) == expected
    assert COUNTS[f"instrumentation: {key}"] == before + 2  # counted every time
    logged = [r for r in caplog.records if key in r.getMessage()]
    assert len(logged) == (1 if before == 0 else 0)  # logged the first time only
    assert all(r.exc_info for r in logged)
    for span in spans.named("bm25.get_batch_scores"):
        assert span.status.status_code is StatusCode.UNSET
        assert sc.GEN_AI_RETRIEVAL_DOCUMENTS in _attrs(span)  # the rest is still recorded


def test_suppress_instrumentation_makes_no_span(spans: Any) -> None:
    with suppress_instrumentation():
        rank_bm25.BM25Okapi(CORPUS).get_top_n(QUERY, DOCUMENTS)
    assert spans.all() == []


# --- instrument / uninstrument ---------------------------------------------------------

_WRAPPED = [(rank_bm25.BM25, "__init__"), (rank_bm25.BM25, "get_top_n")] + [
    (cls, m) for cls in ALGORITHMS for m in ("get_scores", "get_batch_scores")
]


def test_methods_are_wrapped_where_they_are_defined(instrumented: list[str]) -> None:
    assert sorted(BM25Instrumentor().wrapped_methods) == sorted(
        f"{cls.__name__}.{m}" for cls, m in _WRAPPED
    )
    for cls in ALGORITHMS:  # inherited, not wrapped a second time
        assert "get_top_n" not in vars(cls)
        assert "__init__" in vars(cls)
        assert not hasattr(vars(cls)["__init__"], "__wrapped__")
    assert not hasattr(vars(rank_bm25.BM25)["get_scores"], "__wrapped__")  # abstract


def test_uninstrument_restores_the_original_methods(instrumented: list[str]) -> None:
    originals = {(cls, m): vars(cls)[m].__wrapped__ for cls, m in _WRAPPED}
    BM25Instrumentor().uninstrument()
    try:
        for (cls, m), original in originals.items():
            assert vars(cls)[m] is original
    finally:
        BM25Instrumentor().instrument()
    for (cls, m), original in originals.items():
        assert vars(cls)[m].__wrapped__ is original


def test_instrumenting_twice_makes_one_span(spans: Any) -> None:
    instrument()
    BM25Instrumentor()._instrument()
    rank_bm25.BM25Okapi(CORPUS).get_scores(QUERY)
    assert spans.names() == ["bm25.index", "bm25.get_scores"]


def test_every_auto_span_survives_langfuses_default_export_filter(spans: Any) -> None:
    from langfuse.span_filter import is_default_export_span

    bm25 = rank_bm25.BM25L(CORPUS)
    bm25.get_scores(QUERY)
    bm25.get_batch_scores(QUERY, [1, 2])
    bm25.get_top_n(QUERY, DOCUMENTS, n=2)
    assert len(spans.all()) == 4
    for span in spans.all():
        assert is_default_export_span(span), span.name

"""``instrument(tracer_provider=P)``: spans go to P, not to the global provider (contrib's
convention), against the real chromadb (embedded, persistent in a temporary folder) and
rank-bm25."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
import pytest
from chromadb.api.models.AsyncCollection import AsyncCollection
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from rank_bm25 import BM25L, BM25Okapi, BM25Plus

import rag_otel
from rag_otel import semconv as sc
from rag_otel.instrumentation.chromadb import ChromaInstrumentor
from rag_otel.instrumentation.rank_bm25 import BM25Instrumentor
from rag_otel.spans import PinnedStageScope, StageArgs

CORPUS = [d.split() for d in ("a fence permit", "a garden shed", "fence height", "a carport")]
CHROMA_METHODS = ("query", "get", "add", "upsert", "update", "delete")
BM25_METHODS = [(BM25Okapi.__mro__[1], "__init__"), (BM25Okapi.__mro__[1], "get_top_n")] + [
    (cls, m) for cls in (BM25Okapi, BM25L, BM25Plus) for m in ("get_scores", "get_batch_scores")
]


class Own:
    """A tracer provider of the test's own, with an in-memory exporter behind it."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def names(self) -> list[str]:
        return [s.name for s in self.exporter.get_finished_spans()]


@pytest.fixture
def off() -> Iterator[tuple[ChromaInstrumentor, BM25Instrumentor]]:
    """Both instrumentors off for the test; afterwards as they were (default provider)."""
    chroma, bm25 = ChromaInstrumentor(), BM25Instrumentor()
    were_on = [i.is_instrumented_by_opentelemetry for i in (chroma, bm25)]
    for instrumentor in (chroma, bm25):
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
    yield chroma, bm25
    for instrumentor, was_on in zip((chroma, bm25), were_on, strict=True):
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
        if was_on:
            instrumentor.instrument()


@pytest.fixture
def collection(tmp_path: Path) -> Iterator[Collection]:
    """An embedded collection of its own (a persistent client in ``tmp_path``: the ephemeral
    client is one per process, bound to the settings the first test gave it)."""
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=Settings(anonymized_telemetry=False)
    )
    name = f"provider-{uuid.uuid4().hex[:12]}"
    yield client.create_collection(name, embedding_function=None)
    client.delete_collection(name)


def _use_both(collection: Collection) -> None:
    """One call of each kind: chroma ingest and retrieval, bm25 index and search."""
    collection.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]])
    collection.query(query_embeddings=[[1.0, 0.1]], n_results=2)
    bm25 = BM25Okapi(CORPUS)
    bm25.get_top_n(["fence"], [" ".join(d) for d in CORPUS], n=2)


EXPECTED = ["chroma.add", "chroma.query", "bm25.index", "bm25.get_top_n"]


def test_spans_go_to_the_given_provider_not_the_global_one(
    off: Any, collection: Collection, span_exporter: InMemorySpanExporter
) -> None:
    chroma, bm25 = off
    own = Own()
    chroma.instrument(tracer_provider=own.provider)
    bm25.instrument(tracer_provider=own.provider)

    _use_both(collection)

    assert own.names() == EXPECTED
    assert span_exporter.get_finished_spans() == ()
    query = next(s for s in own.exporter.get_finished_spans() if s.name == "chroma.query")
    assert query.kind is SpanKind.INTERNAL
    assert (query.attributes or {})[sc.RAG_RETRIEVAL_RESULT_COUNT] == 2
    assert query.instrumentation_scope is not None
    assert query.instrumentation_scope.name == "rag_otel"


def test_the_default_is_the_global_provider(
    off: Any, collection: Collection, span_exporter: InMemorySpanExporter
) -> None:
    chroma, bm25 = off
    own = Own()
    chroma.instrument()
    bm25.instrument()

    _use_both(collection)

    assert [s.name for s in span_exporter.get_finished_spans()] == EXPECTED
    assert own.names() == []


def test_a_pinned_span_nests_under_the_current_span_of_another_provider(
    off: Any, collection: Collection, span_exporter: InMemorySpanExporter
) -> None:
    chroma, _ = off
    own = Own()
    chroma.instrument(tracer_provider=own.provider)
    collection.add(ids=["a"], embeddings=[[1.0, 0.0]])
    own.exporter.clear()

    with rag_otel.turn(session_id="s-1"), rag_otel.stage("inner", kind="other") as inner:
        collection.query(query_embeddings=[[1.0, 0.0]], n_results=1)
        assert rag_otel.current_stage() is inner  # the pinned stage has ended

    (query,) = own.exporter.get_finished_spans()
    outer = {s.name: s for s in span_exporter.get_finished_spans()}
    assert query.parent is not None
    assert outer["inner"].context is not None
    assert query.parent.span_id == outer["inner"].context.span_id
    assert query.context is not None
    assert query.context.trace_id == outer["rag.turn"].context.trace_id  # type: ignore[union-attr]


def test_uninstrument_then_instrument_with_another_provider(
    off: Any, collection: Collection, span_exporter: InMemorySpanExporter
) -> None:
    chroma, bm25 = off
    first, second = Own(), Own()
    originals = {(Collection, m): Collection.__dict__[m] for m in CHROMA_METHODS}
    originals |= {(cls, m): cls.__dict__[m] for cls, m in BM25_METHODS}

    chroma.instrument(tracer_provider=first.provider)
    bm25.instrument(tracer_provider=first.provider)
    _use_both(collection)
    chroma.uninstrument()
    bm25.uninstrument()

    for (owner, method), original in originals.items():
        assert owner.__dict__[method] is original, f"{owner.__name__}.{method} not restored"
    collection.get(ids=["a"])  # no instrumentation: no span anywhere
    BM25Okapi(CORPUS)
    assert first.names() == EXPECTED

    chroma.instrument(tracer_provider=second.provider)
    bm25.instrument(tracer_provider=second.provider)
    collection.delete(ids=["a", "b"])
    BM25Okapi(CORPUS).get_scores(["fence"])

    assert first.names() == EXPECTED
    assert second.names() == ["chroma.delete", "bm25.index", "bm25.get_scores"]
    assert span_exporter.get_finished_spans() == ()
    assert AsyncCollection.__dict__["query"].__wrapped__ is not None  # async twins wrapped too


def test_pinned_and_global_instrumented_calls_interleave(
    off: Any, collection: Collection, span_exporter: InMemorySpanExporter
) -> None:
    """A pinned provider's tracer never replaces the global one's (each call to its own)."""
    chroma, _ = off
    own = Own()
    chroma.instrument(tracer_provider=own.provider)
    for _ in range(3):
        collection.add(ids=["x"], embeddings=[[0.5, 0.5]])
        with rag_otel.stage("mine", kind="other"):
            pass
    assert own.names() == ["chroma.add"] * 3
    assert [s.name for s in span_exporter.get_finished_spans()] == ["mine"] * 3


def test_meter_provider_is_not_taken_and_says_so(
    off: Any, caplog: pytest.LogCaptureFixture
) -> None:
    chroma, _ = off
    with caplog.at_level(logging.INFO, logger="rag_otel.instrumentation"):
        chroma.instrument(meter_provider=MeterProvider())
    assert "ignores meter_provider" in caplog.text
    assert chroma.is_instrumented_by_opentelemetry


def test_a_pinned_scope_is_a_context_manager_only() -> None:
    scope = PinnedStageScope(StageArgs("s"), tracer_provider=Own().provider)
    with pytest.raises(TypeError, match="context manager only"):
        scope(lambda: None)


def test_instrument_all_at_once_passes_the_provider_on(
    off: Any, collection: Collection, span_exporter: InMemorySpanExporter
) -> None:
    own = Own()
    assert rag_otel.instrument(tracer_provider=own.provider) == ["chromadb_rag_otel", "rank_bm25"]
    _use_both(collection)
    assert own.names() == EXPECTED
    assert span_exporter.get_finished_spans() == ()

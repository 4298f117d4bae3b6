"""The pipeline end to end on a slice of the corpus: real Chroma, BM25, models, SDK spans."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from rag_otel import semconv as sc
from rag_otel.demo.corpus import Corpus
from rag_otel.demo.index import Index
from rag_otel.demo.models import CrossEncoder, Embedder
from rag_otel.demo.pipeline import (
    LOCAL_PROVIDER,
    TOP_K,
    WORKFLOW_NAME,
    Pipeline,
    Rerank,
    Retrieval,
)
from rag_otel.demo.quality import pipeline_quality
from rag_otel.instrumentation import instrument, uninstrument

STAGES = ("embed", "retrieve.vector", "retrieve.bm25", "fuse", "rerank", "generate")


@pytest.fixture
def instrumented() -> Iterator[None]:
    instrument()
    try:
        yield
    finally:
        uninstrument()


def _by_name(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


async def _ask(pipeline: Pipeline, corpus: Corpus, n: int) -> list[Any]:
    return [await pipeline.answer(q.text) for q in corpus.questions[:n]]


@pytest.mark.parametrize(
    ("retrieval", "rerank"), [("parallel", "cross-encoder"), ("sequential", "cosine")]
)
async def test_one_turn_per_question_with_every_stage_parented(
    span_exporter: InMemorySpanExporter,
    instrumented: None,
    corpus: Corpus,
    index: Index,
    embedder: Embedder,
    cross_encoder: CrossEncoder,
    retrieval: Retrieval,
    rerank: Rerank,
) -> None:
    pipeline = Pipeline(
        index, embedder, retrieval=retrieval, rerank=rerank, cross_encoder=cross_encoder
    )
    questions = corpus.questions[:4]
    answers = await _ask(pipeline, corpus, len(questions))

    spans = tuple(span_exporter.get_finished_spans())
    turns = _by_name(spans, sc.TURN_SPAN_NAME)
    assert len(turns) == len(questions)
    for name in STAGES:
        stage_spans = _by_name(spans, name)
        assert len(stage_spans) == len(questions), name
        for span in stage_spans:
            assert span.attributes is not None
            assert span.attributes[sc.RAG_STAGE] == name
            parent = next(t for t in turns if t.context.span_id == span.parent.span_id)  # type: ignore[union-attr]
            assert parent.context.trace_id == span.context.trace_id
    assert len({t.context.trace_id for t in turns}) == len(questions)

    # the auto-instrumentation's spans nest under the demo's own retrieval stages
    stage_ids = {s.context.span_id: s.name for s in spans}
    chroma = [s for s in spans if s.name.startswith("chroma.")]
    bm25 = [s for s in spans if s.name.startswith("bm25.")]
    assert chroma
    assert bm25
    assert {stage_ids[s.parent.span_id] for s in chroma} == {"retrieve.vector"}  # type: ignore[union-attr]
    assert {stage_ids[s.parent.span_id] for s in bm25} == {"retrieve.bm25"}  # type: ignore[union-attr]

    rerank_span = _by_name(spans, "rerank")[0]
    assert rerank_span.attributes is not None
    assert rerank_span.attributes[sc.RAG_RERANK_METHOD] == rerank
    fuse = _by_name(spans, "fuse")[0]
    assert fuse.attributes is not None
    assert fuse.attributes[sc.GEN_AI_RETRIEVAL_TOP_K] == TOP_K
    documents = json.loads(str(fuse.attributes[sc.GEN_AI_RETRIEVAL_DOCUMENTS]))
    assert documents
    assert documents[0]["id"] == answers[0].fused[0][0]
    generate = _by_name(spans, "generate")[0]
    assert generate.attributes is not None
    assert generate.attributes[sc.RAG_GENERATION_METHOD] == "extractive"
    assert sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK in generate.attributes
    # streamed sentence by sentence: a first chunk before the last, on every turn
    chunks = [s.attributes[sc.RAG_STREAM_CHUNK_COUNT] for s in _by_name(spans, "generate")]  # type: ignore[index]
    assert all(1 <= n <= 2 for n in chunks)
    assert 2 in chunks
    first = [
        e for s in _by_name(spans, "generate") for e in s.events if e.name == "rag.first_chunk"
    ]
    assert len(first) == len(questions)
    assert generate.attributes[sc.GEN_AI_REQUEST_STREAM] is True  # an async generator
    # the demo's session is the conversation, on the generation stage too
    assert generate.attributes[sc.GEN_AI_CONVERSATION_ID] == turns[0].attributes[sc.SESSION_ID]  # type: ignore[index]
    assert sc.GEN_AI_PROVIDER_NAME not in generate.attributes  # extractive: no GenAI provider
    embed = _by_name(spans, "embed")[0]
    assert embed.attributes is not None
    assert embed.attributes[sc.GEN_AI_PROVIDER_NAME] == LOCAL_PROVIDER
    if rerank == "cross-encoder":
        assert rerank_span.attributes[sc.GEN_AI_PROVIDER_NAME] == LOCAL_PROVIDER
    for turn in turns:
        assert turn.attributes is not None
        assert turn.attributes[sc.GEN_AI_WORKFLOW_NAME] == WORKFLOW_NAME

    rows = {row.stage: row for row in pipeline_quality(answers, questions, reranked=True)}
    assert set(rows) == {"retrieve.vector", "retrieve.bm25", "fuse", "rerank"}
    assert rows["retrieve.vector"].recall[20] >= 0.75
    assert all(0.0 <= row.mrr <= 1.0 for row in rows.values())
    assert all(a.text for a in answers)


async def test_without_rerank_there_is_no_rerank_stage(
    span_exporter: InMemorySpanExporter, corpus: Corpus, index: Index, embedder: Embedder
) -> None:
    pipeline = Pipeline(index, embedder, rerank="none")
    [answer] = await _ask(pipeline, corpus, 1)
    names = {s.name for s in span_exporter.get_finished_spans()}
    assert "rerank" not in names
    assert {"embed", "fuse", "generate"} <= names
    assert answer.ranked == answer.fused


async def test_rerank_reorders_the_fused_candidates_by_cross_encoder_score(
    corpus: Corpus, index: Index, embedder: Embedder, cross_encoder: CrossEncoder
) -> None:
    pipeline = Pipeline(index, embedder, cross_encoder=cross_encoder)
    question = corpus.questions[0].text
    [answer] = await _ask(pipeline, corpus, 1)
    assert sorted(i for i, _ in answer.ranked) == sorted(i for i, _ in answer.fused)
    expected = cross_encoder.score(question, [index.texts[i] for i, _ in answer.ranked])
    assert [s for _, s in answer.ranked] == pytest.approx(expected, abs=1e-4)
    assert expected == sorted(expected, reverse=True)

"""A hybrid RAG pipeline, decorated with rag-otel: the example to read.

Take an existing pipeline, wrap each question in ``rag_otel.turn(...)`` and mark
each stage with ``@rag_otel.stage(name, kind=...)``; record what a stage found
through ``rag_otel.current_stage()``. Nothing else changes::

    embed --+-- retrieve.vector (Chroma) --+-- fuse (RRF) -- rerank -- generate (streamed)
            +-- retrieve.bm25 (rank-bm25) -+

``generate`` is an async generator stage of kind ``generation``: rag-otel records its first
chunk (``rag.first_chunk``, ``gen_ai.response.time_to_first_chunk``), so the analysis shows
each turn's time to first token and what it waited on.

The Chroma and rank-bm25 calls inside the retrieval stages get their own spans
from the auto-instrumentation (``configure(instrument=True)``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

import numpy as np

import rag_otel
from rag_otel.demo.index import Index, tokenize
from rag_otel.demo.llm import EXTRACTIVE_MODEL, ChatEndpoint, extractive_stream
from rag_otel.demo.models import CrossEncoder, Embedder, Vectors
from rag_otel.semconv import RAG_GENERATION_METHOD, RAG_RERANK_METHOD

TOP_K = 20
"""Candidates from each retriever, after fusion, and out of rerank."""
CONTEXT_K = 3
"""Passages handed to the generator."""
RRF_K = 60
WORKFLOW_NAME = "faq-answer"
"""``gen_ai.workflow.name`` of every turn (a workflow name is low cardinality)."""
LOCAL_PROVIDER = "onnxruntime"
"""``gen_ai.provider.name`` of the models that run in this process (a custom value)."""
LLM_PROVIDER = "openai"
"""``gen_ai.provider.name`` of an OpenAI-compatible chat completions endpoint."""

Hits = list[tuple[str, float]]
"""(passage id, score), best first."""
Retrieval = Literal["parallel", "sequential"]
Rerank = Literal["cross-encoder", "cosine", "none"]


@dataclass(frozen=True, slots=True)
class Answer:
    text: str
    vector: Hits
    bm25: Hits
    fused: Hits
    ranked: Hits
    """Final order: reranked (or the fused order with ``rerank="none"``)."""


class Pipeline:
    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        *,
        retrieval: Retrieval = "parallel",
        rerank: Rerank = "cross-encoder",
        cross_encoder: CrossEncoder | None = None,
        llm: ChatEndpoint | None = None,
    ) -> None:
        if rerank == "cross-encoder" and cross_encoder is None:
            raise ValueError("rerank='cross-encoder' needs a cross_encoder")
        self.index, self.embedder, self.llm = index, embedder, llm
        self.retrieval, self.rerank_method, self.cross_encoder = retrieval, rerank, cross_encoder

    async def answer(self, question: str, session_id: str = "demo") -> Answer:
        async with rag_otel.turn(session_id=session_id, workflow=WORKFLOW_NAME) as turn:
            turn.set_input(question)
            query = self.embed(question)
            if self.retrieval == "parallel":
                vector, bm25 = await asyncio.gather(
                    asyncio.to_thread(self.search_vector, query),
                    asyncio.to_thread(self.search_bm25, question),
                )
            else:
                vector, bm25 = self.search_vector(query), self.search_bm25(question)
            fused = self.fuse(vector, bm25)
            ranked = fused if self.rerank_method == "none" else self.rerank(question, query, fused)
            context = [self.index.texts[doc_id] for doc_id, _ in ranked[:CONTEXT_K]]
            text = "".join([chunk async for chunk in self.generate(question, context)])
            turn.set_output(text)
        return Answer(text, vector, bm25, fused, ranked)

    @rag_otel.stage("embed", kind="embedding", provider=LOCAL_PROVIDER)
    def embed(self, question: str) -> Vectors:
        vector: Vectors = self.embedder.embed([question])[0]
        stage = rag_otel.current_stage()
        stage.set_model(self.embedder.name)
        stage.set_embedding_dimension(self.embedder.dimension)
        stage.set_usage(input_tokens=self.embedder.last_token_count)
        return vector

    @rag_otel.stage("retrieve.vector", kind="retrieval")
    def search_vector(self, query: Vectors) -> Hits:
        result = self.index.collection.query(
            query_embeddings=[query], n_results=TOP_K, include=["distances"]
        )
        hits = [(i, 1.0 - d) for i, d in zip(result["ids"][0], result["distances"][0], strict=True)]
        return _record(hits, source="chroma")

    @rag_otel.stage("retrieve.bm25", kind="retrieval")
    def search_bm25(self, question: str) -> Hits:
        scores = self.index.bm25.get_scores(tokenize(question))
        top = np.argsort(-scores)[:TOP_K]
        hits = [(self.index.ids[i], float(scores[i])) for i in top]
        return _record(hits, source="bm25")

    @rag_otel.stage("fuse", kind="fusion")
    def fuse(self, *rankings: Hits) -> Hits:
        """Reciprocal rank fusion: score = sum over rankings of 1 / (RRF_K + rank)."""
        scores: dict[str, float] = {}
        for ranking in rankings:
            for rank, (doc_id, _) in enumerate(ranking, 1):
                scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (RRF_K + rank)
        fused = sorted(scores.items(), key=lambda hit: hit[1], reverse=True)[:TOP_K]
        return _record(fused)

    @rag_otel.stage("rerank", kind="rerank")
    def rerank(self, question: str, query: Vectors, candidates: Hits) -> Hits:
        ids = [doc_id for doc_id, _ in candidates]
        if self.cross_encoder is not None and self.rerank_method == "cross-encoder":
            model, provider = self.cross_encoder.name, LOCAL_PROVIDER
            scores = self.cross_encoder.score(question, [self.index.texts[i] for i in ids])
        else:  # honest fallback: cosine between the query and passage embeddings
            model, provider = f"cosine: {self.embedder.name}", None
            scores = [float(self.index.vectors[i] @ query) for i in ids]
        ranked = sorted(zip(ids, scores, strict=True), key=lambda hit: hit[1], reverse=True)
        stage = rag_otel.current_stage()
        stage.set_attribute(RAG_RERANK_METHOD, self.rerank_method)
        stage.set_model(model, provider=provider)
        stage.record_input_documents(ids, [score for _, score in candidates])
        return _record(ranked)

    @rag_otel.stage("generate", kind="generation")
    async def generate(self, question: str, passages: list[str]) -> AsyncIterator[str]:
        stage = rag_otel.current_stage()
        stage.set_attribute(RAG_GENERATION_METHOD, "extractive" if self.llm is None else "llm")
        if self.llm is None:  # no GenAI provider: sentences picked in this process
            stage.set_model(EXTRACTIVE_MODEL)
        else:
            stage.set_model(self.llm.model, provider=LLM_PROVIDER)
        if self.llm is None:  # no LLM configured: the best sentences of the top passages,
            for sentence in extractive_stream(question, passages):  # streamed one by one
                yield sentence
            return
        async for chunk in self.llm.stream(question, passages):
            yield chunk
        stage.set_model(
            self.llm.model, response_model=self.llm.response_model, provider=LLM_PROVIDER
        )
        stage.set_usage(
            input_tokens=self.llm.usage.get("prompt_tokens"),
            output_tokens=self.llm.usage.get("completion_tokens"),
        )


def _record(hits: Hits, source: str | None = None) -> Hits:
    """Record a stage's result on its span: top_k, the ids and scores, where they came from."""
    stage = rag_otel.current_stage()
    stage.set_top_k(TOP_K)
    stage.record_documents([i for i, _ in hits], [s for _, s in hits])
    if source is not None:
        stage.set_data_source(source)
    return hits

"""The one table of attribute names and stage-kind mappings.

Follows the OpenTelemetry GenAI semantic conventions of the repository
open-telemetry/semantic-conventions-genai at commit
024a4f944a1291fcb627c9c47da69e79868dd15e (``model/gen-ai/spans.yaml``,
``model/gen-ai/metrics.yaml``, ``docs/gen-ai/client-inference.md``; no tagged release yet,
status: Development), read in December 2026, plus ``docs/gen-ai/client-embeddings.md``
(88eccb155ca7) and the retrieval section of ``docs/gen-ai/gen-ai-spans.md`` (9430220eb6f3).
The ``gen_ai.*`` names of open-telemetry/semantic-conventions v1.44.0 are deprecated there
("moved"). Also OpenInference (what Phoenix and Arize render) and the stable OpenTelemetry
database and server conventions. Every deliberate deviation is listed, with its reason, in
docs/span-model.md.

Everything that names an attribute imports it from here: the tracing API, the
instrumentations and the analysis (which shares nothing else with the tracing side).
"""

from __future__ import annotations

from typing import Final, Literal, NamedTuple

GEN_AI_SPEC_REPOSITORY: Final = "open-telemetry/semantic-conventions-genai"
GEN_AI_SPEC_COMMIT: Final = "024a4f944a1291fcb627c9c47da69e79868dd15e"

# --- rag-otel's own --------------------------------------------------------------------
TURN_SPAN_NAME: Final = "rag.turn"
RAG_TURN_ID: Final = "rag.turn.id"
RAG_STAGE: Final = "rag.stage"
RAG_STAGE_KIND: Final = "rag.stage.kind"
RAG_OPERATION: Final = "rag.operation"  # ingest/housekeeping spans that are not stages
RAG_CANCELLED: Final = "rag.cancelled"  # ended by cancellation (not an error)
RAG_STREAM_CHUNK_COUNT: Final = "rag.stream.chunk_count"  # chunks a streaming stage yielded
RAG_STREAM_CLOSED_EARLY: Final = "rag.stream.closed_early"  # consumer stopped iterating first
EVENT_FIRST_CHUNK: Final = "rag.first_chunk"  # span event at a stream's first chunk

StageKind = Literal["embedding", "retrieval", "fusion", "rerank", "generation", "other"]
STAGE_KINDS: Final[tuple[StageKind, ...]] = (
    "embedding",
    "retrieval",
    "fusion",
    "rerank",
    "generation",
    "other",
)

# --- sessions and conversations ----------------------------------------------------------
SESSION_ID: Final = "session.id"  # OpenInference
USER_ID: Final = "user.id"  # OpenInference
GEN_AI_CONVERSATION_ID: Final = "gen_ai.conversation.id"

# --- OpenTelemetry GenAI ----------------------------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_DATA_SOURCE_ID: Final = "gen_ai.data_source.id"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"  # true on a streamed generation
GEN_AI_RETRIEVAL_TOP_K: Final = "gen_ai.retrieval.top_k"  # int; gen_ai.request.top_k = decoding
GEN_AI_RETRIEVAL_DOCUMENTS: Final = "gen_ai.retrieval.documents"
GEN_AI_RETRIEVAL_QUERY_TEXT: Final = "gen_ai.retrieval.query.text"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_EMBEDDINGS_DIMENSION_COUNT: Final = "gen_ai.embeddings.dimension.count"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
GEN_AI_WORKFLOW_NAME: Final = "gen_ai.workflow.name"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_OPERATION_INVOKE_WORKFLOW: Final = "invoke_workflow"  # a turn (GenAiOperationNameValues)
# proposed in semantic-conventions-genai #253 (operation ``rerank``), not yet in the spec
GEN_AI_RERANK_TOP_N: Final = "gen_ai.rerank.top_n"
GEN_AI_RERANK_CANDIDATE_COUNT: Final = "gen_ai.rerank.candidate.count"

# --- OpenInference -----------------------------------------------------------------------
OPENINFERENCE_SPAN_KIND: Final = "openinference.span.kind"
OPENINFERENCE_PROJECT_NAME: Final = "openinference.project.name"  # resource attribute
INPUT_VALUE: Final = "input.value"
OUTPUT_VALUE: Final = "output.value"
RETRIEVAL_DOCUMENTS_PREFIX: Final = "retrieval.documents"  # .{i}.document.id|score|content
RERANKER_INPUT_DOCUMENTS_PREFIX: Final = "reranker.input_documents"
RERANKER_OUTPUT_DOCUMENTS_PREFIX: Final = "reranker.output_documents"
RERANKER_MODEL_NAME: Final = "reranker.model_name"
RERANKER_TOP_K: Final = "reranker.top_k"
RERANKER_QUERY: Final = "reranker.query"
DOCUMENT_ID: Final = "document.id"  # suffixes under {prefix}.{i}.
DOCUMENT_SCORE: Final = "document.score"
DOCUMENT_CONTENT: Final = "document.content"
EMBEDDING_MODEL_NAME: Final = "embedding.model_name"
LLM_MODEL_NAME: Final = "llm.model_name"
LLM_TOKEN_COUNT_PROMPT: Final = "llm.token_count.prompt"
LLM_TOKEN_COUNT_COMPLETION: Final = "llm.token_count.completion"
LLM_TOKEN_COUNT_TOTAL: Final = "llm.token_count.total"

# --- general OpenTelemetry -----------------------------------------------------------------
ERROR_TYPE: Final = "error.type"


class KindConventions(NamedTuple):
    """How one rag-otel stage kind is spelled in the conventions other tools read."""

    openinference: str
    """``openinference.span.kind`` value."""
    gen_ai_operation: str
    """``gen_ai.operation.name`` value: the defined one where the GenAI conventions have it
    (``rerank``: the open proposal semantic-conventions-genai #253), else a custom value (the
    spec allows them): every stage has a ``gen_ai.*`` attribute (Langfuse's export filter)."""
    top_k: tuple[str, ...]
    """Where ``StageHandle.set_top_k`` writes (ints): ``gen_ai.retrieval.top_k``, or on a rerank
    stage OpenInference's ``reranker.top_k`` and the proposed ``gen_ai.rerank.top_n``."""


OPERATION_FUSION: Final = "fusion"  # custom gen_ai.operation.name: GenAI has no fusion operation
OPERATION_TASK: Final = "task"  # custom gen_ai.operation.name of an ``other`` stage

_RETRIEVAL_TOP_K: Final = (GEN_AI_RETRIEVAL_TOP_K,)
KIND_CONVENTIONS: Final[dict[str, KindConventions]] = {
    "embedding": KindConventions("EMBEDDING", "embeddings", _RETRIEVAL_TOP_K),
    "retrieval": KindConventions("RETRIEVER", "retrieval", _RETRIEVAL_TOP_K),
    "fusion": KindConventions("CHAIN", OPERATION_FUSION, _RETRIEVAL_TOP_K),
    # proposed: semantic-conventions-genai #253
    "rerank": KindConventions("RERANKER", "rerank", (RERANKER_TOP_K, GEN_AI_RERANK_TOP_N)),
    "generation": KindConventions("LLM", "chat", _RETRIEVAL_TOP_K),
    "other": KindConventions("CHAIN", OPERATION_TASK, _RETRIEVAL_TOP_K),
}

# --- auto-instrumentation (rag_otel.instrumentation) -------------------------------------
# OpenTelemetry database conventions (stable names), on chromadb spans
DB_SYSTEM_NAME: Final = "db.system.name"
DB_COLLECTION_NAME: Final = "db.collection.name"
DB_OPERATION_NAME: Final = "db.operation.name"
DB_NAMESPACE: Final = "db.namespace"  # chroma: "{tenant}|{database}"
DB_RESPONSE_RETURNED_ROWS: Final = "db.response.returned_rows"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
DB_SYSTEM_CHROMA: Final = "chroma"
# rag-otel's own, on retrieval stages and ingest operations of the instrumented libraries
RAG_RETRIEVAL_QUERY_COUNT: Final = "rag.retrieval.query_count"  # queries in one batch call
RAG_RETRIEVAL_QUERY_TYPE: Final = "rag.retrieval.query_type"  # embeddings|texts|images|uris
RAG_RETRIEVAL_QUERY_TOKEN_COUNT: Final = "rag.retrieval.query_token_count"  # BM25 query tokens
RAG_RETRIEVAL_RESULT_COUNT: Final = "rag.retrieval.result_count"  # hits returned, all queries
RAG_RETRIEVAL_SCORE_TYPE: Final = "rag.retrieval.score_type"  # "distance" (lower is better)|"bm25"
RAG_RETRIEVAL_FILTER_WHERE: Final = "rag.retrieval.filter.where"  # bool: metadata filter given
RAG_RETRIEVAL_FILTER_WHERE_DOCUMENT: Final = "rag.retrieval.filter.where_document"  # bool
RAG_RETRIEVAL_FILTER_IDS: Final = "rag.retrieval.filter.ids"  # int: ids the call was limited to
RAG_RETRIEVAL_CANDIDATE_COUNT: Final = "rag.retrieval.candidate_count"  # docs scored
RAG_INGEST_RECORD_COUNT: Final = "rag.ingest.record_count"  # records added/upserted/updated
RAG_INGEST_DELETED_COUNT: Final = "rag.ingest.deleted_count"  # records a delete removed
RAG_BM25_ALGORITHM: Final = "rag.bm25.algorithm"  # BM25Okapi|BM25L|BM25Plus|subclass name
RAG_BM25_CORPUS_SIZE: Final = "rag.bm25.corpus_size"
RAG_BM25_VOCABULARY_SIZE: Final = "rag.bm25.vocabulary_size"
RAG_BM25_AVERAGE_DOCUMENT_LENGTH: Final = "rag.bm25.average_document_length"  # tokens

# --- the demo pipeline (rag_otel.demo), on its own stages --------------------------------
RAG_RERANK_METHOD: Final = "rag.rerank.method"  # "cross-encoder"|"cosine": what really reranked
RAG_GENERATION_METHOD: Final = (
    "rag.generation.method"  # "llm"|"extractive": no LLM, sentences picked
)

# --- metrics (rag_otel.metrics): histograms in seconds, per the OTel metric conventions ------
# stage durations: rag.stage, rag.stage.kind, gen_ai.operation.name (+ gen_ai.provider.name when
# given to stage()); turns: gen_ai.workflow.name when named; error.type on failed calls
METRIC_STAGE_DURATION: Final = "rag.stage.duration"  # Prometheus: rag_stage_duration_seconds_*
# a turn is one workflow invocation: the GenAI metric (Prometheus:
# gen_ai_invoke_workflow_duration_seconds_*)
METRIC_TURN_DURATION: Final = "gen_ai.invoke_workflow.duration"
# time to first chunk, streamed generation stages only (GenAI conventions; attributes as
# rag.stage.duration: rag.stage, rag.stage.kind, gen_ai.operation.name, gen_ai.provider.name
# and gen_ai.request.model when set). Prometheus:
# gen_ai_client_operation_time_to_first_chunk_seconds_*
METRIC_GEN_AI_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.operation.time_to_first_chunk"
# time to first token: from a turn's start to its first streamed chunk (turns that stream).
# Prometheus: rag_turn_time_to_first_chunk_seconds_*
METRIC_TURN_TIME_TO_FIRST_CHUNK: Final = "rag.turn.time_to_first_chunk"
METRIC_COLLECT_HOOK: Final = "rag.metrics.collect_hook"  # observes nothing: drains at collection

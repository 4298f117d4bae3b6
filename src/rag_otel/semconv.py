"""The one table of attribute names and stage-kind mappings.

Everything that names an attribute imports it from here: the tracing API, the
instrumentations and the analysis (which shares nothing else with the tracing side).

Sources: OpenTelemetry GenAI semantic conventions (``gen_ai.*``, status: Development)
and OpenInference semantic conventions (what Phoenix and Arize render).
"""

from __future__ import annotations

from typing import Final, Literal, NamedTuple

# --- rag-otel's own --------------------------------------------------------------------
TURN_SPAN_NAME: Final = "rag.turn"
RAG_TURN_ID: Final = "rag.turn.id"
RAG_STAGE: Final = "rag.stage"
RAG_STAGE_KIND: Final = "rag.stage.kind"

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
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_RETRIEVAL_DOCUMENTS: Final = "gen_ai.retrieval.documents"
GEN_AI_RETRIEVAL_QUERY_TEXT: Final = "gen_ai.retrieval.query.text"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_EMBEDDINGS_DIMENSION_COUNT: Final = "gen_ai.embeddings.dimension.count"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
GEN_AI_WORKFLOW_NAME: Final = "gen_ai.workflow.name"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"

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
    gen_ai_operation: str | None
    """``gen_ai.operation.name`` value, where the GenAI conventions define one."""


KIND_CONVENTIONS: Final[dict[str, KindConventions]] = {
    "embedding": KindConventions("EMBEDDING", "embeddings"),
    "retrieval": KindConventions("RETRIEVER", "retrieval"),
    "fusion": KindConventions("CHAIN", None),
    "rerank": KindConventions("RERANKER", None),
    "generation": KindConventions("LLM", "chat"),
    "other": KindConventions("CHAIN", None),
}

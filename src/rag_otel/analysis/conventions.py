"""Which spans are stages and turns, whichever convention traced them: one precedence table.

    from rag_otel.analysis.conventions import classify_span

    classify_span(span, {"openinference.span.kind": "RETRIEVER"})
    span.stage, span.stage_kind, span.stage_source  # ("retrieve", "retrieval", "openinference")

A span is read by the first row of `CONVENTIONS` whose attribute it carries (rag-otel's
own attributes come before all of them); later rows are not consulted, so a span traced
by two conventions at once is named, kinded and sourced by the first. Each row maps the
attribute's value to a `Rule`: the stage kind, whether the span may be a turn, and where
the stage name comes from.

Stage names, in order: ``rag.stage``; else the convention's entity name
(``traceloop.entity.name``; GenAI's ``gen_ai.tool.name``, ``gen_ai.agent.name``,
``gen_ai.workflow.name``); else, for GenAI spans, the operation name (``chat``, never the
model or the data source the span name carries, so that a model change keeps the stage);
else the span name. A tool traced by OpenInference, OpenLLMetry or GenAI is so named the
same: ``lookup_warranty``.

Turn markers are candidates: `traces.build_trace` makes a ``rag.turn`` span the turn;
in a trace without one, the outermost `TURN_ANYWHERE` span on each path from a root
(OpenLLMetry ``workflow``, GenAI ``invoke_workflow`` / ``invoke_agent``), or a root that
is `TURN_AT_ROOT` (OpenInference ``CHAIN`` / ``AGENT``, OpenLLMetry ``agent``, Langfuse
``agent`` / ``chain`` / ``span``); else each trace root (one that is a stage is then both).
A candidate that is not its trace's turn is a stage like any other.

Tracers that write no attributes (LlamaIndex's own integration) are read from their span
events and names: `EVENT_CONVENTIONS`, applied by `classify_events` to a span no attribute
recognised (`readers.common.finish_span` calls it with the span's event names).

Sources of the attribute names and values (checked against the conventions' own code):
OpenInference ``openinference-semantic-conventions`` (``SpanAttributes.OPENINFERENCE_SPAN_KIND``,
``OpenInferenceSpanKindValues``); OpenLLMetry ``opentelemetry-semantic-conventions-ai``
(``SpanAttributes.TRACELOOP_SPAN_KIND``, ``TRACELOOP_ENTITY_NAME``, ``LLM_REQUEST_TYPE``,
``TraceloopSpanKindValues``, ``LLMRequestTypeValues``); OpenTelemetry GenAI
(open-telemetry/semantic-conventions-genai ``model/gen-ai/registry.yaml``,
``gen_ai.operation.name``; ``rerank`` is proposal #253); Langfuse Python SDK v3+
(``LangfuseOtelSpanAttributes.OBSERVATION_TYPE``, ``ObservationTypeLiteral``);
OpenTelemetry database client spans (``db.system.name``, formerly ``db.system``);
Haystack (``haystack-ai`` ``core/pipeline/base.py`` / ``pipeline.py``, ``components/agents``;
the spans ``opentelemetry-haystack``'s ``OpenTelemetryTracer`` writes); MLflow Tracing
(``mlflow-tracing`` ``SpanAttributeKey.SPAN_TYPE``, ``SpanType``; every MLflow attribute
value is JSON-encoded: ``"\\"RETRIEVER\\""``).

The table is data, so that another engine can be made to recognise the same spans (a
store's SQL): a row's ``keys`` are attribute names, or `SPAN_NAME` for the span's own
name; ``rules`` match the lower-cased value exactly (a span name as it is), then
``patterns`` (globs: ``*`` any run of characters, ``?`` one) in order, then ``default``;
a ``json_values`` row decodes a JSON-encoded string value first.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from rag_otel import semconv
from rag_otel.analysis.model import (
    SPAN_KIND_SERVER,
    TURN_ANYWHERE,
    TURN_AT_ROOT,
    TURN_NONE,
    Span,
)

# --- stage kinds the analysis knows (rag-otel's, plus tool) --------------------------------
EMBEDDING: Final = "embedding"
RETRIEVAL: Final = "retrieval"
FUSION: Final = "fusion"
RERANK: Final = "rerank"
GENERATION: Final = "generation"
TOOL: Final = "tool"
OTHER: Final = "other"
STAGE_KINDS: Final[tuple[str, ...]] = (*semconv.STAGE_KINDS, TOOL)

# --- sources: the convention a stage or turn was recognised from ---------------------------
SOURCE_RAG_OTEL: Final = "rag-otel"
SOURCE_OPENINFERENCE: Final = "openinference"
SOURCE_OPENLLMETRY: Final = "openllmetry"
SOURCE_GEN_AI: Final = "gen-ai"
SOURCE_LANGFUSE: Final = "langfuse"
SOURCE_DB: Final = "db"
SOURCE_HAYSTACK: Final = "haystack"
SOURCE_MLFLOW: Final = "mlflow"
SOURCE_ALL_SPANS: Final = "all-spans"
"""Stages that only ``--all-spans`` made stages (no convention recognised them)."""
SOURCE_STAGE_KEY: Final = "stage-key"
"""Stages that only ``--stage-key`` made stages (`rag_otel.analysis.overrides`)."""
SOURCE_TRACE_ROOT: Final = "trace-root"
"""Turns that are trace roots because the trace marks no turn."""

# --- attribute names not in `rag_otel.semconv` (other projects' conventions) -----------------
TRACELOOP_SPAN_KIND: Final = "traceloop.span.kind"
TRACELOOP_ENTITY_NAME: Final = "traceloop.entity.name"
LLM_REQUEST_TYPE: Final = "llm.request.type"  # OpenLLMetry's LLM client spans
GEN_AI_TOOL_NAME: Final = "gen_ai.tool.name"
GEN_AI_AGENT_NAME: Final = "gen_ai.agent.name"
LANGFUSE_OBSERVATION_TYPE: Final = "langfuse.observation.type"
DB_SYSTEM: Final = "db.system"  # before db.system.name (semantic conventions < 1.30)
HAYSTACK_COMPONENT_TYPE: Final = "haystack.component.type"
HAYSTACK_COMPONENT_NAME: Final = "haystack.component.name"
HAYSTACK_TOOL_NAME: Final = "haystack.tool.name"
MLFLOW_SPAN_TYPE: Final = "mlflow.spanType"

SPAN_NAME: Final = ":span.name"
"""Not an attribute: a row keyed on it reads the span's own name (Haystack's pipeline and
agent spans carry no attribute that tells them apart)."""


@dataclass(frozen=True, slots=True)
class Rule:
    """What one attribute value makes of a span."""

    kind: str | None
    """Stage kind; None: the span is not a stage (a Langfuse ``event``)."""
    turn: int = TURN_NONE
    """`TURN_AT_ROOT`, `TURN_ANYWHERE` or `TURN_NONE`: see the module docstring."""
    name_keys: tuple[str, ...] = ()
    """Attributes naming the stage, the first present wins; else the span name."""
    value_names: bool = False
    """Without an entity name, the attribute's value names the stage, not the span name
    (GenAI: ``chat``, where the span is ``chat gpt-4o``)."""


@dataclass(frozen=True, slots=True)
class Convention:
    """One row of the precedence table: an attribute and what its values mean."""

    source: str
    keys: tuple[str, ...]
    """The attribute, and older spellings of it, first present wins."""
    rules: Mapping[str, Rule]
    """By lower-cased value."""
    default: Rule | None
    """For values not in `rules` nor `patterns`; None: such a span is not recognised by this row."""
    skip_server_spans: bool = False
    patterns: tuple[tuple[str, Rule], ...] = ()
    """(glob, rule) for values not in `rules`, the first match wins: Haystack's
    ``*retriever`` for ``InMemoryBM25Retriever``. Lower-case, like the value they match."""
    json_values: bool = False
    """The value is a JSON-encoded string (MLflow's ``"\\"LLM\\""``): decoded first."""
    _memo: dict[str, Rule | None] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    """Pattern matches by value (bounded): values repeat, globs cost a regex each."""

    def rule(self, value: str) -> Rule | None:
        """The rule for one lower-cased value: `rules`, else the first of `patterns`, else
        `default`."""
        found = self.rules.get(value)
        if found is not None or not self.patterns:
            return found if found is not None else self.default
        memo = self._memo
        if value in memo:
            return memo[value]
        found = self.default
        for pattern, rule in self.patterns:
            if glob(pattern).match(value):
                found = rule
                break
        if len(memo) < _MEMO_LIMIT:
            memo[value] = found
        return found


_MEMO_LIMIT = 4096


def glob(pattern: str) -> re.Pattern[str]:
    """A glob (``*``, ``?``, ``[...]``) as a compiled, case-insensitive regular expression."""
    compiled = _GLOBS.get(pattern)
    if compiled is None:
        compiled = _GLOBS[pattern] = re.compile(fnmatch.translate(pattern), re.IGNORECASE)
    return compiled


_GLOBS: dict[str, re.Pattern[str]] = {}


_OI_ROOT = Rule(OTHER, turn=TURN_AT_ROOT)
_TRACELOOP_NAME = (TRACELOOP_ENTITY_NAME,)
_GEN_AI_OP = Rule(GENERATION, value_names=True)
_LF_ROOT = Rule(OTHER, turn=TURN_AT_ROOT)
_HAYSTACK_NAME = (HAYSTACK_COMPONENT_NAME,)
_HAYSTACK_TURN = Rule(OTHER, turn=TURN_ANYWHERE)
_MLFLOW_GENERATION = Rule(GENERATION)

CONVENTIONS: Final[tuple[Convention, ...]] = (
    Convention(
        SOURCE_OPENINFERENCE,
        (semconv.OPENINFERENCE_SPAN_KIND,),
        {
            "llm": Rule(GENERATION),
            "embedding": Rule(EMBEDDING),
            "retriever": Rule(RETRIEVAL),
            "reranker": Rule(RERANK),
            "tool": Rule(TOOL),
            "chain": _OI_ROOT,
            "agent": _OI_ROOT,
            # guardrail, evaluator, prompt, unknown, and kinds added later
        },
        default=Rule(OTHER),
    ),
    Convention(
        SOURCE_OPENLLMETRY,
        (TRACELOOP_SPAN_KIND,),
        {
            "workflow": Rule(OTHER, turn=TURN_ANYWHERE, name_keys=_TRACELOOP_NAME),
            "agent": Rule(OTHER, turn=TURN_AT_ROOT, name_keys=_TRACELOOP_NAME),
            "tool": Rule(TOOL, name_keys=_TRACELOOP_NAME),
            # task, unknown
        },
        default=Rule(OTHER, name_keys=_TRACELOOP_NAME),
    ),
    Convention(
        SOURCE_GEN_AI,
        (semconv.GEN_AI_OPERATION_NAME,),
        {
            "chat": _GEN_AI_OP,
            "text_completion": _GEN_AI_OP,
            "generate_content": _GEN_AI_OP,
            "embeddings": Rule(EMBEDDING, value_names=True),
            "retrieval": Rule(RETRIEVAL, value_names=True),
            "search_memory": Rule(RETRIEVAL, value_names=True),
            "rerank": Rule(RERANK, value_names=True),
            "execute_tool": Rule(TOOL, name_keys=(GEN_AI_TOOL_NAME,), value_names=True),
            "invoke_agent": Rule(
                OTHER, turn=TURN_ANYWHERE, name_keys=(GEN_AI_AGENT_NAME,), value_names=True
            ),
            semconv.GEN_AI_OPERATION_INVOKE_WORKFLOW: Rule(
                OTHER,
                turn=TURN_ANYWHERE,
                name_keys=(semconv.GEN_AI_WORKFLOW_NAME,),
                value_names=True,
            ),
            "create_agent": Rule(OTHER, value_names=True),
            # plan, memory writes, and operations added later
        },
        default=Rule(OTHER, value_names=True),
    ),
    Convention(
        SOURCE_OPENLLMETRY,
        (LLM_REQUEST_TYPE,),
        {
            "chat": Rule(GENERATION),
            "completion": Rule(GENERATION),
            "embedding": Rule(EMBEDDING),
            "rerank": Rule(RERANK),
        },
        default=Rule(OTHER),
    ),
    Convention(
        SOURCE_LANGFUSE,
        (LANGFUSE_OBSERVATION_TYPE,),
        {
            "generation": Rule(GENERATION),
            "embedding": Rule(EMBEDDING),
            "retriever": Rule(RETRIEVAL),
            "tool": Rule(TOOL),
            "agent": _LF_ROOT,
            "chain": _LF_ROOT,
            "span": _LF_ROOT,  # @observe's default: at the root, Langfuse's trace itself
            "event": Rule(None),  # a point in time, not work
            # evaluator, guardrail
        },
        default=Rule(OTHER),
    ),
    Convention(  # a pipeline component's run: named by the component, kinded by its class
        SOURCE_HAYSTACK,
        (HAYSTACK_COMPONENT_TYPE,),
        {"toolinvoker": Rule(TOOL, name_keys=_HAYSTACK_NAME)},
        default=Rule(OTHER, name_keys=_HAYSTACK_NAME),  # prompt builders, converters, ...
        patterns=(
            ("*embedder", Rule(EMBEDDING, name_keys=_HAYSTACK_NAME)),
            ("*retriever", Rule(RETRIEVAL, name_keys=_HAYSTACK_NAME)),
            ("*joiner", Rule(FUSION, name_keys=_HAYSTACK_NAME)),
            ("*ranker", Rule(RERANK, name_keys=_HAYSTACK_NAME)),
            ("*generator", Rule(GENERATION, name_keys=_HAYSTACK_NAME)),  # and *ChatGenerator
        ),
    ),
    Convention(  # Haystack's pipeline and agent spans, known by their names only
        SOURCE_HAYSTACK,
        (SPAN_NAME,),
        {
            "haystack.pipeline.run": _HAYSTACK_TURN,
            "haystack.async_pipeline.run": _HAYSTACK_TURN,
            "haystack.agent.run": _HAYSTACK_TURN,
            "haystack.agent.step": Rule(OTHER),
            "haystack.agent.step.llm": Rule(GENERATION),
            "haystack.agent.step.tool": Rule(TOOL, name_keys=(HAYSTACK_TOOL_NAME,)),
        },
        default=None,
    ),
    Convention(
        SOURCE_MLFLOW,
        (MLFLOW_SPAN_TYPE,),
        {
            "embedding": Rule(EMBEDDING),
            "retriever": Rule(RETRIEVAL),
            "reranker": Rule(RERANK),
            "llm": _MLFLOW_GENERATION,
            "chat_model": _MLFLOW_GENERATION,
            "tool": Rule(TOOL),
            # chain, agent, parser, memory, unknown, ...: the root one is the turn
        },
        default=Rule(OTHER, turn=TURN_AT_ROOT),
        json_values=True,
    ),
    Convention(
        SOURCE_DB,
        (semconv.DB_SYSTEM_NAME, DB_SYSTEM),
        {},
        default=Rule(RETRIEVAL),
        skip_server_spans=True,  # the database's own span of a call a client span already times
    ),
)
"""The precedence table, after rag-otel's own attributes (`classify_span`)."""

_RAG_KEYS: Final = (
    semconv.RAG_STAGE,
    semconv.RAG_STAGE_KIND,
    semconv.RAG_TURN_ID,
    semconv.RAG_OPERATION,
)


def _recognition_keys() -> frozenset[str]:
    keys = set(_RAG_KEYS)
    for convention in CONVENTIONS:
        keys.update(convention.keys)
        rules = (*convention.rules.values(), *(r for _, r in convention.patterns))
        for rule in (*rules, convention.default):
            if rule is not None:
                keys.update(rule.name_keys)
    keys.discard(SPAN_NAME)
    return frozenset(keys)


RECOGNITION_KEYS: Final[frozenset[str]] = _recognition_keys()
"""Every attribute `classify_span` reads: readers need to extract only these."""
RECOGNITION_NAMES: Final[frozenset[str]] = frozenset(
    name for c in CONVENTIONS if SPAN_NAME in c.keys for name in c.rules
)
"""Span names a `SPAN_NAME` row recognises: a reader classifies a span so named even when
it carries none of `RECOGNITION_KEYS`."""

STAGE_KIND_OF: Final[dict[str, str]] = {kind: kind for kind in STAGE_KINDS}
"""``rag.stage.kind`` values as written by rag-otel -> the kind (a lookup for hot loops;
`stage_kind` for any other value)."""


def classify_span(span: Span, attributes: Mapping[str, Any]) -> None:
    """Set `span`'s stage (name, kind, source) and turn markers from its attributes.

    ``attributes`` holds the span's attributes by flattened dotted key (values str, int,
    float, bool or lists of them); only the keys in `RECOGNITION_KEYS` matter. The span's
    name and `Span.kind` are read too. A span named ``rag.turn`` is a turn; a span with
    ``rag.operation`` (rag-otel's ingest and housekeeping) is not a stage whatever else it
    carries; ``rag.stage`` makes a stage (set to None: no stage, and no other row is
    consulted); otherwise the first row of `CONVENTIONS` whose
    attribute the span carries decides. Pure: reads nothing but its arguments.
    """
    span.stage = span.stage_kind = span.stage_source = span.turn_id = None
    span.turn_candidate = TURN_NONE
    get = attributes.get
    span.is_turn = span.name == semconv.TURN_SPAN_NAME
    if span.is_turn:
        turn_id = get(semconv.RAG_TURN_ID)
        span.turn_id = None if turn_id is None else str(turn_id)
        return
    if get(semconv.RAG_OPERATION) is not None:
        return
    if semconv.RAG_STAGE in attributes:
        stage = get(semconv.RAG_STAGE)
        if stage is None:  # set to nothing: rag-otel's, and no stage
            return
        span.stage = str(stage)
        span.stage_kind = stage_kind(get(semconv.RAG_STAGE_KIND))
        span.stage_source = SOURCE_RAG_OTEL
        return
    for convention in CONVENTIONS:
        for key in convention.keys:
            value = span.name if key == SPAN_NAME else get(key)
            if value is not None:
                break
        else:
            continue
        if convention.skip_server_spans and span.kind == SPAN_KIND_SERVER:
            continue
        text = json_text(value) if convention.json_values else str(value)
        if key != SPAN_NAME:
            text = text.lower()
        rule = convention.rule(text)
        if rule is None:
            continue
        if rule.kind is None:
            return
        span.stage = _stage_name(span.name, text, rule, attributes)
        span.stage_kind = rule.kind
        span.stage_source = convention.source
        span.turn_candidate = rule.turn
        return


def stage_type(attributes: Mapping[str, Any]) -> str | None:
    """The value of the first `CONVENTIONS` attribute a span carries (decoded), as its
    convention wrote it: Haystack's ``InMemoryBM25Retriever``, MLflow's ``RETRIEVER``.
    What ``--kind-map`` matches besides the stage name."""
    for convention in CONVENTIONS:
        for key in convention.keys:
            value = attributes.get(key)
            if value is not None and key != SPAN_NAME:
                return json_text(value) if convention.json_values else str(value)
    return None


def stage_kind(value: Any) -> str:
    """A ``rag.stage.kind`` value as one of `STAGE_KINDS` (``other`` when missing or unknown)."""
    if value is None:
        return OTHER
    return STAGE_KIND_OF.get(str(value).lower(), OTHER)


def json_text(value: Any) -> str:
    """A JSON-encoded string's text (``"\\"LLM\\""`` -> ``LLM``); anything else as it is."""
    text = str(value)
    if text.startswith('"'):
        try:
            decoded = json.loads(text)
        except ValueError:
            return text
        if isinstance(decoded, str):
            return decoded
    return text


def _stage_name(span_name: str, value: str, rule: Rule, attributes: Mapping[str, Any]) -> str:
    entity: str | None = None
    for key in rule.name_keys:
        found = attributes.get(key)
        if found is not None and found != "":
            entity = str(found)
            break
    if entity:
        return entity
    return value if rule.value_names else span_name


# --- LlamaIndex (llama-index-observability-otel): recognised from span events ---------------
# Its spans carry no attributes: one span per instrumented method, named ``Class.method``
# (``Class.method-<uuid>`` before release 0.2), and LlamaIndex's events as span events. A
# stage is the span of the public method that dispatches the stage's start event (the
# inner ``_retrieve``, ``_get_query_embedding`` and the like dispatch none: they are that
# stage's own time); the event gives the kind, the class refines it. A span dispatching
# ``QueryStartEvent`` is the turn when it is a trace root. Wrappers (``_query``,
# ``synthesize``, ``predict``, the outer of two nested ``chat`` spans) are no stages.
# Sources: llama-index-instrumentation's event classes (``class_name()``) and
# llama-index-observability-otel's ``OTelCompatibleSpanHandler`` (the names, the events).

SOURCE_LLAMA_INDEX: Final = "llamaindex"


@dataclass(frozen=True, slots=True)
class EventConvention:
    """A dialect recognised from span events and span names, for tracers that write no
    attributes: a row of the same precedence, consulted after `CONVENTIONS` found nothing."""

    source: str
    events: Mapping[str, Rule]
    """By event name: what a span dispatching it is."""
    methods: Mapping[str, Rule]
    """By the method part of a ``Class.method`` span name, for spans with no event of
    `events`."""
    class_kinds: tuple[tuple[str, str, str], ...]
    """``(kind, lower-case text in the class name, refined kind)``: the class refines a kind."""


LLAMA_INDEX: Final = EventConvention(
    SOURCE_LLAMA_INDEX,
    events={
        "EmbeddingStartEvent": Rule(EMBEDDING),
        "SparseEmbeddingStartEvent": Rule(EMBEDDING),
        "RetrievalStartEvent": Rule(RETRIEVAL),
        "ReRankStartEvent": Rule(RERANK),
        "LLMChatStartEvent": Rule(GENERATION),
        "LLMCompletionStartEvent": Rule(GENERATION),
        "QueryStartEvent": Rule(None, turn=TURN_AT_ROOT),
    },
    methods={"_postprocess_nodes": Rule(OTHER), "_apostprocess_nodes": Rule(OTHER)},
    class_kinds=((RETRIEVAL, "fusion", FUSION), (OTHER, "rerank", RERANK)),
)

EVENT_CONVENTIONS: Final[tuple[EventConvention, ...]] = (LLAMA_INDEX,)
STAGE_EVENTS: Final[frozenset[str]] = frozenset(
    name for convention in EVENT_CONVENTIONS for name in convention.events
)
"""Every event name `classify_events` reads: readers hand over only these (and
`first_token.EVENTS`: `readers.common.EVENT_NAMES`)."""


def classify_events(span: Span, event_names: Iterable[Any]) -> None:
    """Recognise a span no attribute recognised (``span.stage`` None, not a turn) from its
    events' names and its name (`EVENT_CONVENTIONS`); leaves it as it is otherwise.

    Pure: reads nothing but its arguments. Cheap for spans of no such dialect: a set
    lookup per event, and for a span without one, a look at the name's last dot.
    """
    for convention in EVENT_CONVENTIONS:
        rule: Rule | None = None
        for name in event_names:
            found = convention.events.get(name) if name.__class__ is str else None
            if found is not None:
                rule = found
                if found.kind is not None:
                    break
        if rule is None and convention.methods:
            method = span.name.rpartition(".")[2].partition("-")[0]
            rule = convention.methods.get(method)
        if rule is None:
            continue
        span.turn_candidate = rule.turn
        span.stage_source = convention.source
        if rule.kind is None:  # a turn marker only
            return
        name = _without_uuid(span.name)
        kind = rule.kind
        owner = name.partition(".")[0].lower()
        for refined, text, to in convention.class_kinds:
            if kind == refined and text in owner:
                kind = to
                break
        span.stage = name
        span.stage_kind = kind
        return


def _without_uuid(name: str) -> str:
    """``Class.method-<uuid>`` (LlamaIndex's span id, the span name of old releases) as
    ``Class.method``."""
    if len(name) > 37 and name[-37] == "-" and name[-36:].count("-") == 4:
        return name[:-37]
    return name

"""When a span's first streamed chunk arrived: the ways tracers write it down.

    from rag_otel.analysis.first_token import first_chunk_ns

    first_chunk_ns(start_ns, {"gen_ai.response.time_to_first_chunk": 0.25}, ())
    # start_ns + 250_000_000

A pure function of one span's start, attributes and events (``(name, time_ns)``
pairs). Sources, first found wins:

1. rag-otel's ``rag.first_chunk`` span event (its timestamp), which streamed
   generation stages add at their first chunk;
2. the GenAI attribute ``gen_ai.response.time_to_first_chunk``: seconds from the
   span's start (rag-otel writes it too, beside the event; so do GenAI instrumentations);
3. OpenInference's ``First Token Stream Event`` span event (its timestamp): the
   OpenInference instrumentations add it, with no attributes, at the first chunk of a
   streamed LLM response (``openinference-instrumentation-openai``, ``_stream.py``);
4. Langfuse's ``langfuse.observation.completion_start_time``: the first token's wall
   time, a JSON-encoded ISO 8601 string (``"\\"2026-01-02T03:04:05.678901Z\\""``) as the
   Langfuse SDK writes it, or a plain ISO string;
5. OpenLLMetry's per-chunk span events ``gen_ai.content.completion.chunk`` (formerly
   ``llm.content.completion.chunk``): the earliest one (traceloop's instrumentations
   record their time to first token as a metric only, not on the span);
6. MLflow Tracing's ``mlflow.chunk.item.0`` span event: MLflow's ``@mlflow.trace`` on a
   generator (and its autologging of streamed calls) adds one event per chunk,
   ``mlflow.chunk.item.{index}`` (``STREAM_CHUNK_EVENT_NAME_FORMAT``); the earliest
   ``.0`` is the first.

2b. ``gen_ai.client.operation.time_to_first_chunk``, the same in seconds under the GenAI
   metric's name, as pydantic-ai (and so Logfire) writes it on each streamed ``chat`` span;
   read as 2, after it.

A value that cannot be read (not a number, a negative delay, an unparseable time) is
skipped, and the next source is tried.

The first token is the first chunk of the answer the user sees, whatever the source: a
span whose output is only a tool call (an agent's request that decides to call a tool)
streamed chunks the user never sees, so it has no first chunk (`shows_answer`). Told from
the output message parts (``gen_ai.output.messages``: ``tool_call`` parts and no ``text``),
else, when content is not captured, from the finish reasons (``gen_ai.response.finish_reasons``,
OpenLLMetry's ``gen_ai.completion.0.finish_reason``: ``tool_calls``), else from
OpenInference's first output message (a tool call and no content). The readers call `first_chunk_ns` only for spans
that carry one of `ATTRIBUTES` or have events at all, so spans without either cost nothing.
Each reader turns its format's events into the ``(name, time_ns)`` pairs read here, keeping
only the names in `EVENTS` and the dialect events (`readers.common.EVENT_NAMES`:
`readers.otlp.events`, `readers.jaeger.log_events`, `readers.phoenix`), and hands them over
through `readers.common.finish_span`; times are read by the analysis's one ISO-8601 parser,
`rag_otel.analysis.isotime`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any, Final

from rag_otel import semconv as sc
from rag_otel.analysis.isotime import iso_ns
from rag_otel.analysis.model import MAX_TIME_NS

OPENINFERENCE_FIRST_TOKEN_EVENT: Final = "First Token Stream Event"
LANGFUSE_COMPLETION_START_TIME: Final = "langfuse.observation.completion_start_time"
OPENLLMETRY_CHUNK_EVENTS: Final = (
    "gen_ai.content.completion.chunk",
    "llm.content.completion.chunk",
)
MLFLOW_FIRST_CHUNK_EVENT: Final = "mlflow.chunk.item.0"

GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK: Final = sc.METRIC_GEN_AI_TIME_TO_FIRST_CHUNK
"""pydantic-ai's span attribute: the metric's name, seconds from the request's start."""
GEN_AI_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
OPENLLMETRY_FINISH_REASON: Final = "gen_ai.completion.0.finish_reason"
OPENINFERENCE_TOOL_CALL: Final = (
    "llm.output_messages.0.message.tool_calls.0.tool_call.function.name"
)
OPENINFERENCE_CONTENT: Final = "llm.output_messages.0.message.content"
TOOL_CALL_FINISH_REASONS: Final = frozenset(("tool_call", "tool_calls", "function_call"))
UNSEEN_PARTS: Final = frozenset(("tool_call", "reasoning"))
"""Output message part types the user does not see as the answer."""

OUTPUT_ATTRIBUTES: Final = frozenset(
    (
        sc.GEN_AI_OUTPUT_MESSAGES,
        GEN_AI_FINISH_REASONS,
        OPENLLMETRY_FINISH_REASON,
        OPENINFERENCE_TOOL_CALL,
        OPENINFERENCE_CONTENT,
    )
)
"""What tells an answer from a tool call (`shows_answer`)."""
ATTRIBUTES: Final = frozenset(
    (
        sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK,
        GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK,
        LANGFUSE_COMPLETION_START_TIME,
        *OUTPUT_ATTRIBUTES,
    )
)
"""The attributes a reader hands to `first_chunk_ns` (the events it hands over whole)."""
EVENTS: Final = frozenset(
    (
        sc.EVENT_FIRST_CHUNK,
        OPENINFERENCE_FIRST_TOKEN_EVENT,
        *OPENLLMETRY_CHUNK_EVENTS,
        MLFLOW_FIRST_CHUNK_EVENT,
    )
)

Event = tuple[Any, Any]
"""(name, time in ns since the epoch); either may be None or of the wrong type."""


def first_chunk_ns(
    start_ns: int | None,
    attributes: Mapping[str, Any] | None,
    events: Iterable[Event] | None,
) -> int | None:
    """The first chunk's time (ns since the epoch), or None when the span records none or
    streamed no answer (only a tool call: `shows_answer`)."""
    at = _first_chunk(start_ns, attributes, events)
    if at is None or not attributes or shows_answer(attributes):
        return at
    return None


def shows_answer(attributes: Mapping[str, Any]) -> bool:
    """False when the span's output is a tool call and nothing the user sees; True when it
    is an answer or nothing tells (see the module docstring for the attributes read)."""
    messages = attributes.get(sc.GEN_AI_OUTPUT_MESSAGES)
    if messages is not None:
        parts = _part_types(messages)
        if parts:
            return not parts <= UNSEEN_PARTS
    reasons = _texts(attributes.get(GEN_AI_FINISH_REASONS))
    if not reasons:
        reasons = _texts(attributes.get(OPENLLMETRY_FINISH_REASON))
    if reasons:
        return not all(r.lower() in TOOL_CALL_FINISH_REASONS for r in reasons)
    if attributes.get(OPENINFERENCE_TOOL_CALL) is not None:
        return bool(attributes.get(OPENINFERENCE_CONTENT))
    return True


def _first_chunk(
    start_ns: int | None,
    attributes: Mapping[str, Any] | None,
    events: Iterable[Event] | None,
) -> int | None:
    found: dict[str, int | None] | None = dict.fromkeys(EVENTS) if events else None
    if found is not None and events:
        for name, time_ns in events:
            if name in found:
                t, seen = _time(time_ns), found[name]
                if t is not None and (seen is None or t < seen):
                    found[name] = t  # the earliest, whatever the order events come in
        own = found[sc.EVENT_FIRST_CHUNK]
        if own is not None:
            return own
    if attributes:
        seconds = _seconds(attributes.get(sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK))
        if seconds is None:
            seconds = _seconds(attributes.get(GEN_AI_CLIENT_TIME_TO_FIRST_CHUNK))
        if seconds is not None and start_ns is not None:
            at = start_ns + round(seconds * 1e9)
            if at <= MAX_TIME_NS:
                return at
    if found is not None:
        theirs = found[OPENINFERENCE_FIRST_TOKEN_EVENT]
        if theirs is not None:
            return theirs
    if attributes:
        langfuse = _iso_ns(attributes.get(LANGFUSE_COMPLETION_START_TIME))
        if langfuse is not None:
            return langfuse
    if found is not None:
        chunks = [t for name in OPENLLMETRY_CHUNK_EVENTS if (t := found[name]) is not None]
        if chunks:
            return min(chunks)
        return found[MLFLOW_FIRST_CHUNK_EVENT]
    return None


def _part_types(messages: Any) -> set[str] | None:
    """The part types of GenAI output messages (a JSON string or decoded), None unreadable."""
    if messages.__class__ is str:
        try:
            messages = json.loads(messages)
        except ValueError:
            return None
    if messages.__class__ is not list:
        return None
    types: set[str] = set()
    for message in messages:
        parts = message.get("parts") if message.__class__ is dict else None
        if parts.__class__ is list:
            types.update(str(p.get("type")) for p in parts if p.__class__ is dict)
    return types


def _texts(value: Any) -> list[str]:
    """A finish reason or a list of them (a list, or its JSON text as Jaeger keeps arrays)."""
    if value is None:
        return []
    if value.__class__ is str and value.startswith("["):
        try:
            value = json.loads(value)
        except ValueError:
            return [value]
    if value.__class__ is list:
        return [str(v) for v in value if v is not None]
    return [str(value)]


def _time(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        ns = int(value)
    except (TypeError, ValueError):
        return None
    return ns if 0 < ns <= MAX_TIME_NS else None


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _iso_ns(value: Any) -> int | None:
    """An ISO 8601 time (optionally JSON-encoded, as the Langfuse SDK writes it) in ns."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith('"'):
        try:
            text = json.loads(text)
        except ValueError:
            return None
    try:
        ns = iso_ns(text)
    except (TypeError, ValueError):
        return None
    return ns if 0 < ns <= MAX_TIME_NS else None

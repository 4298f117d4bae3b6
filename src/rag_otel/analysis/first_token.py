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
   record their time to first token as a metric only, not on the span).

A value that cannot be read (not a number, a negative delay, an unparseable time) is
skipped, and the next source is tried. The readers call `first_chunk_ns` only for spans
that carry one of `ATTRIBUTES` or have events at all, so spans without either cost nothing.
Each reader turns its format's events into the ``(name, time_ns)`` pairs read here, keeping
only the names in `EVENTS` (`readers.otlp.events`, `readers.jaeger.log_events`,
`readers.phoenix`); times are read by the analysis's one ISO-8601 parser,
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

ATTRIBUTES: Final = frozenset(
    (sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK, LANGFUSE_COMPLETION_START_TIME)
)
"""The attributes a reader hands to `first_chunk_ns` (the events it hands over whole)."""
EVENTS: Final = frozenset(
    (sc.EVENT_FIRST_CHUNK, OPENINFERENCE_FIRST_TOKEN_EVENT, *OPENLLMETRY_CHUNK_EVENTS)
)

Event = tuple[Any, Any]
"""(name, time in ns since the epoch); either may be None or of the wrong type."""


def first_chunk_ns(
    start_ns: int | None,
    attributes: Mapping[str, Any] | None,
    events: Iterable[Event] | None,
) -> int | None:
    """The first chunk's time (ns since the epoch), or None when the span records none."""
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
    return None


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

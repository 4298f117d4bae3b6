"""The span model every reader produces and every analysis step consumes.

Readers turn OTLP JSON, Jaeger JSON or a live Jaeger into a stream of `Span`
records; problems that do not stop the analysis are counted in `Diagnostics`;
input that cannot be read at all raises `InputError`, which names the source,
where in it (line or byte offset) and what was expected.

Only what the analysis needs is kept per span, so memory grows with the
number of spans kept, not with the size of their attributes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from msgspec import Struct

# re-exported: where readers and the CLI have always found them
from rag_otel.analysis.inputs import MAX_TIME_NS as MAX_TIME_NS
from rag_otel.analysis.inputs import InputError as InputError

# span.kind, as OTLP's integer enum values; Jaeger's `span.kind` tag maps onto these
SPAN_KIND_UNSPECIFIED = 0
SPAN_KIND_INTERNAL = 1
SPAN_KIND_SERVER = 2
SPAN_KIND_CLIENT = 3
SPAN_KIND_PRODUCER = 4
SPAN_KIND_CONSUMER = 5

# Span.turn_candidate: may this span be its trace's turn (see rag_otel.analysis.conventions)
TURN_NONE = 0
TURN_AT_ROOT = 1
"""A turn when it is a root of its trace (OpenInference CHAIN / AGENT)."""
TURN_ANYWHERE = 2
"""A turn when no other candidate is above it (OpenLLMetry workflow, GenAI invoke_workflow)."""


class Span(Struct, gc=False):
    """One span, normalised: lower-case hex ids, nanosecond times, no empty-string parents.

    A msgspec `Struct` (built like a dataclass: by position in the order below, or by
    keyword; compared field by field; pickled whole): built in C, it costs a third of a
    dataclass's ``__init__`` (1,300 instructions against 3,800 for 17 arguments), and,
    holding no container of spans, it is left out of the garbage collector's walks
    (``gc=False``) however many spans an analysis keeps.
    """

    trace_id: str
    span_id: str
    parent_id: str | None
    name: str
    start_ns: int | None
    """None when the source has no timestamp (such spans count, but have no duration)."""
    end_ns: int | None
    stage: str | None = None
    """The stage this span is (`rag.stage`, or the name a convention gives it); None for
    spans that are not stages. Set by `rag_otel.analysis.conventions.classify_span`."""
    stage_kind: str | None = None
    """One of `conventions.STAGE_KINDS` for stages (`rag.stage.kind`, or the convention's kind)."""
    is_turn: bool = False
    """True for `rag.turn` spans."""
    turn_id: str | None = None
    """Value of `rag.turn.id` on turn spans."""
    error: bool = False
    """Status ERROR (OTLP `status.code` 2) or Jaeger `error=true` tag."""
    service: str | None = None
    kind: int = SPAN_KIND_UNSPECIFIED
    follows_from: bool = False
    """The parent link is a FOLLOWS_FROM reference (async hand-off, not a call)."""
    attributes: dict[str, Any] | None = None
    """All attributes, only when the reader was asked to keep them."""
    stage_source: str | None = None
    """The convention the stage was recognised from (`conventions.SOURCE_*`); for a span
    that is no stage, the one that marked it a turn candidate, if any."""
    turn_candidate: int = TURN_NONE
    """`TURN_AT_ROOT` or `TURN_ANYWHERE` when a convention marks this span as a possible turn."""
    first_chunk_ns: int | None = None
    """When the span's first streamed chunk arrived (ns since the epoch), None when it
    records none: see `rag_otel.analysis.first_token`."""

    @property
    def duration_ns(self) -> int | None:
        if self.start_ns is None or self.end_ns is None:
            return None
        return self.end_ns - self.start_ns


@dataclass(slots=True)
class Diagnostics:
    """Counted, non-fatal problems met while reading and analysing.

    `warn(code, detail)` counts one occurrence of `code` (a short, stable,
    kebab-case identifier such as ``duplicate-span-id``) and keeps the first few
    details as examples for the warnings summary.
    """

    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)
    max_examples: int = 3

    def warn(self, code: str, detail: str = "", n: int = 1) -> None:
        self.counts[code] += n
        if detail:
            kept = self.examples.setdefault(code, [])
            if len(kept) < self.max_examples:
                kept.append(detail)

    def merge(self, other: Diagnostics) -> None:
        for code, n in other.counts.items():
            self.counts[code] += n
        for code, details in other.examples.items():
            kept = self.examples.setdefault(code, [])
            kept.extend(details[: max(0, self.max_examples - len(kept))])

    def __bool__(self) -> bool:
        return bool(self.counts)

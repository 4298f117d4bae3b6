"""What every reader shares: the read state, locations in messages, id normalisation, span
kinds, and the closing steps of a span.

    from rag_otel.analysis.readers.common import ReadState, finish_span, hex_id

    state = ReadState("spans.json", Diagnostics())
    tid = hex_id("4BF92F3577B34DA6A3CE929D0E0E4736", 32, state.diagnostics, "spans.json", "trace")
    finish_span(span, state, attributes, attributes, events)  # stage, turn, first chunk

The readers of each format (`otlp`, `jaeger`, `phoenix`, `langfuse`) and the input layer
(`stream`, `detect`) import from here; nothing here knows a format.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any, Final

from rag_otel.analysis import first_token
from rag_otel.analysis.conventions import (
    RECOGNITION_NAMES,
    STAGE_EVENTS,
    classify_events,
    classify_span,
)
from rag_otel.analysis.model import (
    SPAN_KIND_CLIENT,
    SPAN_KIND_CONSUMER,
    SPAN_KIND_INTERNAL,
    SPAN_KIND_PRODUCER,
    SPAN_KIND_SERVER,
    SPAN_KIND_UNSPECIFIED,
    Diagnostics,
    InputError,
    Span,
)

SERVICE_NAME: Final = "service.name"
"""The resource attribute naming the service (OTLP, Langfuse metadata)."""
CAUGHT: Final = (AttributeError, TypeError, ValueError, KeyError, OverflowError)
"""What a malformed span or resource raises while a reader decodes it: counted, the span
skipped (and what makes the fast OTLP reader decline a line)."""

Location = str | int | None
"""Where in a source: a line number, a description (``line 3 (byte 512)``), or None (the whole input)."""


def location_text(location: Location) -> str | None:
    """A line number as ``line 12``; other locations as they are."""
    if isinstance(location, int):
        return f"line {location}"
    return location


class ReadState:
    """What one read shares across documents (lines, pages, files): where problems are
    counted, and an intern table for repeated strings."""

    __slots__ = (
        "diagnostics",
        "keep_attributes",
        "langfuse_roots",
        "recognised",
        "source",
        "strings",
    )

    def __init__(
        self,
        source: str,
        diagnostics: Diagnostics,
        *,
        keep_attributes: bool = False,
        strings: dict[str, str] | None = None,
        langfuse_roots: dict[str, Span] | None = None,
    ) -> None:
        self.source = source
        """Name of the input, for messages."""
        self.diagnostics = diagnostics
        self.keep_attributes = keep_attributes
        self.strings: dict[str, str] = {} if strings is None else strings
        """Span names, stages and services are few and repeated: keep one copy of each."""
        self.langfuse_roots: dict[str, Span] = {} if langfuse_roots is None else langfuse_roots
        """The trace roots made for Langfuse observations, by trace id (see `readers.langfuse`)."""
        self.recognised: dict[Any, Any] = {}
        """What a reader recognised from attributes it meets again and again, and their
        shapes (`readers.otlp_fast`)."""

    def for_source(self, source: str) -> ReadState:
        """The same shared tables, reporting under another source name."""
        state = ReadState(
            source,
            self.diagnostics,
            keep_attributes=self.keep_attributes,
            strings=self.strings,
            langfuse_roots=self.langfuse_roots,
        )
        state.recognised = self.recognised
        return state

    def text(self, value: Any) -> str | None:
        """An attribute value as interned text (None stays None)."""
        if value is None:
            return None
        text = value if value.__class__ is str else str(value)
        return self.strings.setdefault(text, text)

    def where(self, location: Location) -> str:
        """``source: line 12``, for warning details."""
        text = location_text(location)
        return f"{self.source}: {text}" if text else self.source


# --- the closing steps of every reader ------------------------------------------------------


EVENT_NAMES: Final[frozenset[str]] = first_token.EVENTS | STAGE_EVENTS
"""The span event names a reader hands to `finish_span`: those the first chunk is read from
(`first_token.EVENTS`) and those a dialect is recognised by (`conventions.STAGE_EVENTS`)."""


def finish_span(
    span: Span,
    state: ReadState,
    recognised: Mapping[str, Any] | None,
    chunk_attributes: Mapping[str, Any] | None,
    events: list[first_token.Event] | None,
) -> Span:
    """What every reader does once a span's envelope is read:

    1. recognise it as a stage or turn from the attributes `recognised` holds
       (`conventions.classify_span`; None: the reader recognised it already, or found
       nothing to recognise). A span named in `RECOGNITION_NAMES` (a `SPAN_NAME` row) and
       not yet recognised is classified even without attributes;
    2. to 4.: `finish_events`.

    `events` are the format's span events as ``(name, time_ns)`` pairs, only those named
    in `EVENT_NAMES` (`readers.otlp.events`, `readers.jaeger.log_events`, `readers.phoenix`).
    The OTLP readers' hot loops recognise rag-otel's own stages inline (see
    `readers.otlp`, `readers.otlp_fast`); the rest of their spans, and every other
    format's, end here.
    """
    classify_attributes(span, recognised)
    return finish_events(span, state, chunk_attributes, events)


def classify_attributes(span: Span, recognised: Mapping[str, Any] | None) -> None:
    """`finish_span`'s step 1."""
    if recognised is not None:
        classify_span(span, recognised)
    elif span.stage is None and span.name in RECOGNITION_NAMES:
        classify_span(span, {})


def finish_events(
    span: Span,
    state: ReadState,
    chunk_attributes: Mapping[str, Any] | None,
    events: list[first_token.Event] | None,
) -> Span:
    """The steps of `finish_span` after the attributes are recognised (step 1), apart so
    that `readers.otlp_fast` can take step 1 from what it recognised before:

    2. a span still neither stage nor turn is recognised from its events' names and its
       name (`conventions.classify_events`: LlamaIndex), unless `events` is None (a
       format without span events: Langfuse);
    3. keep one copy of its stage name;
    4. read its first streamed chunk (`first_token.first_chunk_ns`, with its rules: the
       MLflow chunk events, pydantic-ai's attribute, no first chunk for a tool call) from
       `chunk_attributes` and `events`; a span with neither costs nothing there.
    """
    if events is not None and span.stage is None and not span.is_turn and not span.turn_candidate:
        classify_events(span, [name for name, _ in events])
    stage = span.stage
    if stage is not None:
        span.stage = state.strings.setdefault(stage, stage)
    if events or (chunk_attributes and not first_token.ATTRIBUTES.isdisjoint(chunk_attributes)):
        span.first_chunk_ns = first_token.first_chunk_ns(span.start_ns, chunk_attributes, events)
    return span


# --- JSON values in messages ----------------------------------------------------------------


def data_array(obj: dict[str, Any], state: ReadState, location: Location, what: str) -> list[Any]:
    """The ``data`` array of an API answer (Jaeger, Phoenix, Langfuse): ``[]`` when absent,
    an `InputError` saying ``expected {what}, got ...`` when it is not an array."""
    data = obj.get("data")
    if data is None:
        return []
    if data.__class__ is not list:
        raise InputError(
            state.source, location_text(location), f"expected {what}, got {type_name(data)}"
        )
    return data


def type_name(value: object) -> str:
    """How a JSON value is named in messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    return "a number"


def keys_text(obj: dict[str, Any]) -> str:
    """An object in a message, by its first four keys."""
    keys = list(obj)[:4]
    more = ", ..." if len(obj) > 4 else ""
    listed = ", ".join(repr(k)[:40] for k in keys)
    return f"an object with keys {listed}{more}" if keys else "an empty object"


def describe(value: Any) -> str:
    """A JSON value in a message: an object by its keys, anything else by its type."""
    return keys_text(value) if value.__class__ is dict else type_name(value)


# --- ids -------------------------------------------------------------------------------------


def odd_id(value: Any, hex_len: int, diagnostics: Diagnostics, where: str) -> str:
    """Normalise an id that is not ``hex_len`` hex digits: short hex is zero-padded, base64
    (protobuf ``json_format``'s encoding of bytes) is decoded. Raises ValueError otherwise."""
    if value.__class__ is not str:
        raise TypeError(f"id is {type_name(value)}, not a string")
    text = value.strip()
    if 0 < len(text) <= hex_len and all(c in "0123456789abcdefABCDEF" for c in text):
        if len(text) < hex_len:
            diagnostics.warn("short-id", f"{where}: {value!r} zero-padded")
        return text.lower().rjust(hex_len, "0")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if raw and len(raw) * 2 == hex_len:
        diagnostics.warn("base64-id", f"{where}: {value!r}")
        return raw.hex()
    raise ValueError(f"id {value!r} is neither {hex_len} hex digits nor base64")


def hex_id(value: Any, width: int, diagnostics: Diagnostics, where: str, what: str = "") -> str:
    """An id as `width` lower-case hex digits, the one normalisation every reader uses.

    An id of the right width is lower-cased (counting ``upper-case-id``, with `what`, such
    as ``trace``, before the id in the detail); any other is left to `odd_id` (zero-padding,
    base64), which raises TypeError or ValueError for what is no id.
    """
    if value.__class__ is not str or len(value) != width:
        return odd_id(value, width, diagnostics, where)
    low: str = value.lower()
    if low != value:
        diagnostics.warn(
            "upper-case-id", f"{where}: {what} {value}" if what else f"{where}: {value}"
        )
    return low


# --- span kinds ------------------------------------------------------------------------------

SPAN_KINDS: Final[dict[str, int]] = {
    "unspecified": SPAN_KIND_UNSPECIFIED,
    "internal": SPAN_KIND_INTERNAL,
    "server": SPAN_KIND_SERVER,
    "client": SPAN_KIND_CLIENT,
    "producer": SPAN_KIND_PRODUCER,
    "consumer": SPAN_KIND_CONSUMER,
}
"""The one span-kind table: each kind's name, as Jaeger's ``span.kind`` tag writes it, to
the model's constant (OTLP's integer enum values). OTLP's enum names derive from it
(`OTLP_SPAN_KINDS`); Phoenix and Langfuse record no OpenTelemetry span kind (their
``span_kind`` / ``type`` are OpenInference / Langfuse kinds, read as attributes)."""

OTLP_SPAN_KINDS: Final[dict[str | None, int]] = {
    **{f"SPAN_KIND_{name.upper()}": kind for name, kind in SPAN_KINDS.items()},
    None: SPAN_KIND_UNSPECIFIED,  # "kind": null is unspecified too
}
"""OTLP JSON's enum names (``"SPAN_KIND_SERVER"``) and null, for a ``kind`` not written as a number."""

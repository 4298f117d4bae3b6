"""OTLP JSON -> `Span`: one `TracesData` / `ExportTraceServiceRequest` object at a time.

    from rag_otel.analysis.readers.otlp import ReadState, decode_resource_spans

    state = ReadState("spans.json", Diagnostics())
    spans = decode_resource_spans(orjson.loads(data)["resourceSpans"], state, None)

The encoding is the one the OpenTelemetry Collector's ``file`` exporter, the Python
``opentelemetry-exporter-otlp-json-file`` exporter and Jaeger's api_v3 write: camelCase
keys, 64-bit integers as strings, hex ids, typed attribute wrappers. snake_case keys
(protobuf ``json_format`` with field names preserved), base64 ids, enum names
(``"SPAN_KIND_SERVER"``, ``"STATUS_CODE_ERROR"``) and the pre-1.0 ``instrumentationLibrarySpans``
are tolerated. Reading files, detecting formats and the warning codes are in
`rag_otel.analysis.readers`.

`decode_resource_spans` walks resources and scopes; `_decode_spans` is the hot loop of
every OTLP document and of the JSON lines `readers.otlp_fast` declines (its msgspec route
reads canonical lines, the benchmark's): a span's envelope is decoded inline, canonical camelCase
spans take the fast path (snake_case ones are renamed first, `camel_case_span`), and only
the attributes stage and turn recognition reads (`conventions.RECOGNITION_KEYS`) are
decoded unless the caller asked to keep all attributes (`recognise_known`,
`_recognise_all`); a span carrying none of them is not classified at all.
Readers keep the data as it is: duplicates, negative durations and orphans are judged by
the analysis (`rag_otel.analysis.traces`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from rag_otel import semconv
from rag_otel.analysis import first_token
from rag_otel.analysis.conventions import (
    OTHER,
    RECOGNITION_KEYS,
    RECOGNITION_NAMES,
    SOURCE_RAG_OTEL,
    STAGE_KIND_OF,
    stage_kind,
)
from rag_otel.analysis.model import MAX_TIME_NS, InputError, Span
from rag_otel.analysis.readers.common import (
    CAUGHT,
    EVENT_NAMES,
    OTLP_SPAN_KINDS,
    SERVICE_NAME,
    Location,
    ReadState,
    finish_span,
    hex_id,
    location_text,
    odd_id,
    type_name,
)

STATUS_CODE_ERROR = 2


WANTED: Final = RECOGNITION_KEYS | first_token.ATTRIBUTES
"""The attributes decoded when not all are kept: what recognition and first-token read."""
_CHUNK_KEYS = first_token.ATTRIBUTES
RAG_OTHERS: Final = frozenset((semconv.RAG_OPERATION, semconv.RAG_TURN_ID))
"""Of the recognised keys, those that still matter once ``rag.stage`` is seen."""
# module constants, not `semconv.X` in the per-attribute loop (one lookup less each)
_RAG_STAGE = semconv.RAG_STAGE
_RAG_STAGE_KIND = semconv.RAG_STAGE_KIND
_RAG_OPERATION = semconv.RAG_OPERATION
_RAG_TURN_ID = semconv.RAG_TURN_ID
_TURN_NAME = semconv.TURN_SPAN_NAME

# --- attribute values ----------------------------------------------------------------------


def _array(x: Any) -> list[Any]:
    return [any_value(v) for v in (x.get("values") or ())]


def _kvlist(x: Any) -> dict[str, Any]:
    return {kv["key"]: any_value(kv.get("value")) for kv in (x.get("values") or ())}


def _same(x: Any) -> Any:
    return x


WRAPPERS: dict[str, Callable[[Any], Any]] = {
    "stringValue": str,
    "string_value": str,
    "intValue": int,
    "int_value": int,
    "doubleValue": float,
    "double_value": float,
    "boolValue": bool,
    "bool_value": bool,
    "arrayValue": _array,
    "array_value": _array,
    "kvlistValue": _kvlist,
    "kvlist_value": _kvlist,
    "bytesValue": _same,  # base64 text, kept as it is
    "bytes_value": _same,
}
"""What `any_value` makes of each wrapper key's value."""


def any_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` wrapper (``{"intValue": "42"}``) as a plain Python value.

    Raises TypeError or ValueError (caught per span by the caller) for values of the wrong type.
    """
    if value is None:
        return None
    if value.__class__ is not dict:
        raise TypeError(f"attribute value is {type_name(value)}, not an object")
    for key, x in value.items():
        convert = WRAPPERS.get(key)
        if convert is not None:
            return convert(x)
    return None  # an empty AnyValue: the attribute is set, to nothing


def attribute_text(value: Any) -> str | None:
    """An attribute value as text, for `rag.stage` and friends written as non-strings."""
    v = any_value(value)
    return None if v is None else str(v)


# --- spans -----------------------------------------------------------------------------------


def _scope_spans(rs: Any) -> Any:
    scopes = rs.get("scopeSpans")
    if scopes is None:
        scopes = rs.get("scope_spans")
        if scopes is None:
            scopes = rs.get("instrumentationLibrarySpans") or rs.get(
                "instrumentation_library_spans"
            )
    return scopes


def decode_resource_spans(resource_spans: Any, state: ReadState, location: Location) -> list[Span]:
    """The spans of one ``resourceSpans`` array, normalised; odd spans counted or skipped.

    `location` (a line number, a description, or None for a whole document) prefixes
    messages. A ``resourceSpans`` that is not an array raises InputError; anything wrong
    inside one resource or span skips it and counts ``malformed-span``.
    """
    if resource_spans.__class__ is not list:
        raise InputError(
            state.source,
            location_text(location),
            f'expected "resourceSpans" to be an array, got {type_name(resource_spans)}',
        )
    out: list[Span] = []
    warn = state.diagnostics.warn
    for rs in resource_spans:
        if rs.__class__ is not dict:
            warn(
                "malformed-span",
                f"{state.where(location)}: a resourceSpans item is {type_name(rs)}",
            )
            continue
        try:
            service = resource_service(rs.get("resource"))
            scopes = rs.get("scopeSpans")
            if scopes is None:
                scopes = _scope_spans(rs)
            if not scopes:
                continue
            if scopes.__class__ is not list:
                raise TypeError(f"scopeSpans is {type_name(scopes)}, not an array")
        except CAUGHT as exc:
            warn("malformed-span", f"{state.where(location)}: resource: {exc!r}")
            continue
        if service is not None:
            service = state.strings.setdefault(service, service)
        for ss in scopes:
            spans = ss.get("spans") if ss.__class__ is dict else None
            if not spans:
                continue
            if spans.__class__ is not list:
                warn("malformed-span", f"{state.where(location)}: spans is {type_name(spans)}")
                continue
            _decode_spans(spans, service, state, location, out)
    return out


def resource_service(resource: Any) -> str | None:
    """The ``service.name`` of a ``resourceSpans`` item's ``resource`` (None without one)."""
    if not resource:
        return None
    attributes = resource.get("attributes")
    if not attributes:
        return None
    kv = attributes[-1]  # where the SDKs put it: a shortcut
    if kv["key"] != SERVICE_NAME:
        for kv in attributes:
            if kv["key"] == SERVICE_NAME:
                break
    if kv["key"] != SERVICE_NAME:
        return None
    value = kv["value"]
    service = value.get("stringValue")
    if service.__class__ is not str:
        service = attribute_text(value)
    return service  # type: ignore[no-any-return]


def _decode_spans(
    spans: list[Any], service: str | None, state: ReadState, location: Location, out: list[Span]
) -> None:
    """Append the spans of one scope to `out`, each normalised; a malformed one is counted
    (``malformed-span``) and skipped.

    This loop is the hot path of OTLP documents and of the JSON lines `otlp_fast` declines,
    so it stays flat: a span's envelope (ids, name, times, kind, status) is decoded here,
    not by helper calls (each Python call would add a few hundred instructions to the
    ~61,000 a span takes), canonical ids are checked inline and only odd ones go to `hex_id`. One call
    per span reads its attributes: `recognise_known` (only what recognition reads) or
    `_recognise_all`; `finish_span` then closes only the spans that need it (not recognised
    inline, or with events or first-chunk attributes): a rag-otel stage or turn without
    either costs no further call.
    """
    diagnostics = state.diagnostics
    warn = diagnostics.warn
    intern = state.strings.setdefault
    recognise = _recognise_all if state.keep_attributes else recognise_known
    append = out.append
    for s in spans:
        try:
            try:  # canonical OTLP JSON: all five present, camelCase
                tid = s["traceId"]
                sid = s["spanId"]
                name = s["name"]
                start = s["startTimeUnixNano"]
                end = s["endTimeUnixNano"]
            except KeyError:
                s = camel_case_span(s)
                tid = s["traceId"]
                sid = s["spanId"]
                name = s["name"]
                start = s["startTimeUnixNano"]
                end = s["endTimeUnixNano"]
            # widths first, then case: an odd span id is refused before an upper-case trace
            # id is counted, as it always has been
            if len(tid) != 32:
                tid = odd_id(tid, 32, diagnostics, state.where(location))
            if len(sid) != 16:
                sid = odd_id(sid, 16, diagnostics, state.where(location))
            if tid.lower() != tid:
                tid = hex_id(tid, 32, diagnostics, state.where(location), "trace")
            if sid.lower() != sid:
                sid = hex_id(sid, 16, diagnostics, state.where(location), "span")
            pid = s.get("parentSpanId")
            if pid:
                if len(pid) != 16 or pid.lower() != pid:
                    pid = hex_id(pid, 16, diagnostics, state.where(location), "parent")
            else:
                if pid == "":
                    warn("empty-parent-id", f"{state.where(location)}: span {sid}")
                pid = None

            if name.__class__ is not str:
                if name is not None:
                    raise TypeError(f"name is {type_name(name)}, not a string")
                warn("missing-name", f"{state.where(location)}: span {sid}")
                name = ""
            name = intern(name, name)

            start = int(start) if start else None
            end = int(end) if end else None
            if not 0 <= (start or 0) <= MAX_TIME_NS or not 0 <= (end or 0) <= MAX_TIME_NS:
                raise ValueError(f"time out of range: {start}..{end}")
            if not start or not end:
                warn("missing-timestamp", f"{state.where(location)}: span {sid} ({name})")
                start = start or None
                end = end or None

            kind = s.get("kind", 0)  # SPAN_KIND_UNSPECIFIED
            if kind.__class__ is not int:
                kind = OTLP_SPAN_KINDS[kind]
            status = s.get("status")
            error = False
            if status:
                code = status.get("code")
                error = code == STATUS_CODE_ERROR or code == "STATUS_CODE_ERROR"

            # The one `Span` built by position, in the order of its fields: calling a class
            # with keywords makes CPython pack them into a dict for __init__ and unpack it
            # again: 65,100 instructions a span instead of 61,200 (callgrind, 20k spans).
            span = Span(
                tid, sid, pid, name, start, end, None, None, False, None, error, service, kind
            )
            recognised, chunk_attributes = recognise(span, s.get("attributes"), state)
            raw_events = s.get("events")
            if (span.stage is None and not span.is_turn) or raw_events or chunk_attributes:
                finish_span(span, state, recognised, chunk_attributes, events(raw_events))
        except CAUGHT as exc:
            warn("malformed-span", f"{state.where(location)}: {_describe(s)}: {exc!r}")
            continue
        append(span)


def events(raw: Any) -> list[first_token.Event]:
    """OTLP JSON ``events`` (``[{"timeUnixNano": "...", "name": "..."}, ...]``) as the
    ``(name, time_ns)`` pairs `finish_span` reads: only the names in `EVENT_NAMES`."""
    if raw.__class__ is not list:
        return []
    known = EVENT_NAMES
    return [
        (e["name"], e.get("timeUnixNano", e.get("time_unix_nano")))
        for e in raw
        if e.__class__ is dict and e.get("name").__class__ is str and e["name"] in known
    ]


def recognise_known(
    span: Span, attributes: Any, state: ReadState
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Recognise `span` from the attributes recognition reads, decoding only those;
    returns the first-chunk attributes it carries (None without any).

    rag-otel's own stages and turns, the common case, are recognised here without
    `classify_span`: the AnyValue wrappers of ``rag.stage`` and ``rag.stage.kind`` are
    held, and of the other recognised keys only those that can still matter (after
    ``rag.stage``, just ``rag.operation`` and ``rag.turn.id``). A span carrying none of
    them (nor a name in `RECOGNITION_NAMES`) is not classified at all.
    """
    stage_v = kind_v = found = None
    recognised: dict[str, Any] | None = None
    chunk_attributes: dict[str, Any] | None = None
    if attributes:
        for kv in attributes:
            key = kv["key"]
            if key in WANTED:
                if key == _RAG_STAGE:
                    stage_v = kv["value"]
                elif key == _RAG_STAGE_KIND:
                    kind_v = kv["value"]
                elif key in _CHUNK_KEYS:
                    if chunk_attributes is None:
                        chunk_attributes = {}
                    chunk_attributes[key] = any_value(kv["value"])
                elif stage_v is None or key in RAG_OTHERS:
                    if found is None:
                        found = {key: kv["value"]}
                    else:
                        found[key] = kv["value"]
    if span.name == _TURN_NAME:
        span.is_turn = True
        turn_v = None if found is None else found.get(_RAG_TURN_ID)
        if turn_v is not None:
            span.turn_id = turn_text(turn_v)
    elif stage_v is not None and (found is None or _RAG_OPERATION not in found):
        stage = stage_v.get("stringValue")
        if stage is None:
            stage = attribute_text(stage_v)
        # the kind inline, not by a helper: a call per stage span costs measurably here
        stage_kind_: str | None = OTHER
        if kind_v is not None:
            raw = kind_v.get("stringValue")
            stage_kind_ = STAGE_KIND_OF.get(raw) if raw is not None else None
            if stage_kind_ is None:
                stage_kind_ = stage_kind(any_value(kind_v))
        if stage is not None:  # rag.stage set to nothing: not a stage
            span.stage = state.strings.setdefault(stage, stage)
            span.stage_kind = stage_kind_
            span.stage_source = SOURCE_RAG_OTEL
    elif found is not None or kind_v is not None or span.name in RECOGNITION_NAMES:
        values = {} if found is None else found
        if kind_v is not None:
            values[_RAG_STAGE_KIND] = kind_v
        if stage_v is not None:
            values[_RAG_STAGE] = stage_v
        recognised = {key: any_value(v) for key, v in values.items()}
    return recognised, chunk_attributes


def turn_text(value: Any) -> str | None:
    """A ``rag.turn.id`` value (an AnyValue wrapper, not None) as the turn id: its
    ``stringValue``, else the value as text (`attribute_text`)."""
    text = value.get("stringValue")
    return attribute_text(value) if text is None else text


def _recognise_all(
    span: Span, attributes: Any, state: ReadState
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Keep every attribute of `span` (decoded); returns them twice, to recognise the span
    from (`finish_span`) and for the first-chunk time."""
    kept: dict[str, Any] = {}
    if attributes:
        for kv in attributes:
            kept[kv["key"]] = any_value(kv.get("value"))
    span.attributes = kept
    return kept, kept


_SNAKE_TO_CAMEL = {
    "trace_id": "traceId",
    "span_id": "spanId",
    "parent_span_id": "parentSpanId",
    "start_time_unix_nano": "startTimeUnixNano",
    "end_time_unix_nano": "endTimeUnixNano",
    "trace_state": "traceState",
}
_REQUIRED = ("traceId", "spanId", "name", "startTimeUnixNano", "endTimeUnixNano")


def camel_case_span(span: Any) -> dict[str, Any]:
    """A span with snake_case keys (protobuf ``json_format``) or missing fields, as a camelCase
    dict holding every key the fast path reads (None where absent). TypeError if not an object."""
    if span.__class__ is not dict:
        raise TypeError(f"span is {type_name(span)}, not an object")
    items: dict[str, Any] = span
    out = {_SNAKE_TO_CAMEL.get(k, k): v for k, v in items.items()}
    for key in _REQUIRED:
        out.setdefault(key, None)
    return out


def _describe(span: Any) -> str:
    """A short name for a span that could not be read, for the warnings summary."""
    if span.__class__ is not dict:
        return f"span is {type_name(span)}"
    sid = span.get("spanId", span.get("span_id"))
    return f"span {sid!r}" if sid is not None else "span without spanId"

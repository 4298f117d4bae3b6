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

The decoder `otlp_decoder` builds is the hot loop of the 1,000,000-span benchmark:
everything it needs is bound once (closure cells and locals), canonical camelCase spans
take the fast path (snake_case ones are renamed first, `camel_case_span`), and only the
attributes stage and turn recognition reads (`conventions.RECOGNITION_KEYS`) are decoded
unless the caller asked to keep all attributes; a span carrying none of them is not
classified at all.
Readers keep the data as it is: duplicates, negative durations and orphans are judged by
the analysis (`rag_otel.analysis.traces`).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

from rag_otel import semconv
from rag_otel.analysis import first_token
from rag_otel.analysis.conventions import (
    OTHER,
    RECOGNITION_KEYS,
    SOURCE_RAG_OTEL,
    STAGE_KIND_OF,
    classify_span,
    stage_kind,
)
from rag_otel.analysis.model import MAX_TIME_NS, Diagnostics, InputError, Span

SERVICE_NAME = "service.name"

SPAN_KIND_NAMES: dict[str, int] = {
    "SPAN_KIND_UNSPECIFIED": 0,
    "SPAN_KIND_INTERNAL": 1,
    "SPAN_KIND_SERVER": 2,
    "SPAN_KIND_CLIENT": 3,
    "SPAN_KIND_PRODUCER": 4,
    "SPAN_KIND_CONSUMER": 5,
}
STATUS_CODE_ERROR = 2
_KINDS: dict[str | None, int] = {name: value for name, value in SPAN_KIND_NAMES.items()}
_KINDS[None] = 0  # "kind": null is unspecified too


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
        "otlp_decoder",
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
        self.otlp_decoder: Callable[[Any, Location], list[Span]] | None = None
        self.langfuse_roots: dict[str, Span] = {} if langfuse_roots is None else langfuse_roots
        """The trace roots made for Langfuse observations, by trace id (see `readers.langfuse`)."""

    def for_source(self, source: str) -> ReadState:
        """The same shared tables, reporting under another source name."""
        return ReadState(
            source,
            self.diagnostics,
            keep_attributes=self.keep_attributes,
            strings=self.strings,
            langfuse_roots=self.langfuse_roots,
        )

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


# --- attribute values ----------------------------------------------------------------------


def _array(x: Any) -> list[Any]:
    return [any_value(v) for v in (x.get("values") or ())]


def _kvlist(x: Any) -> dict[str, Any]:
    return {kv["key"]: any_value(kv.get("value")) for kv in (x.get("values") or ())}


def _same(x: Any) -> Any:
    return x


_WRAPPERS: dict[str, Callable[[Any], Any]] = {
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


def any_value(value: Any) -> Any:
    """An OTLP ``AnyValue`` wrapper (``{"intValue": "42"}``) as a plain Python value.

    Raises TypeError or ValueError (caught per span by the caller) for values of the wrong type.
    """
    if value is None:
        return None
    if value.__class__ is not dict:
        raise TypeError(f"attribute value is {type_name(value)}, not an object")
    for key, x in value.items():
        convert = _WRAPPERS.get(key)
        if convert is not None:
            return convert(x)
    return None  # an empty AnyValue: the attribute is set, to nothing


def attribute_text(value: Any) -> str | None:
    """An attribute value as text, for `rag.stage` and friends written as non-strings."""
    v = any_value(value)
    return None if v is None else str(v)


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
    inside one span skips that span and counts ``malformed-span``.
    """
    decode = state.otlp_decoder
    if decode is None:
        decode = state.otlp_decoder = otlp_decoder(state)
    return decode(resource_spans, location)


def otlp_decoder(state: ReadState) -> Callable[[Any, Location], list[Span]]:
    """`decode_resource_spans` for one `state`, with everything it reads bound once (the hot path)."""
    diag = state.diagnostics
    warn = diag.warn
    keep = state.keep_attributes
    intern = state.strings.setdefault
    # what recognition reads, and the first-chunk attributes (one set lookup per attribute)
    wanted = RECOGNITION_KEYS | first_token.ATTRIBUTES
    chunk_keys = first_token.ATTRIBUTES
    classify = classify_span
    kind_of = STAGE_KIND_OF
    RAG_STAGE = semconv.RAG_STAGE
    RAG_STAGE_KIND = semconv.RAG_STAGE_KIND
    RAG_OPERATION = semconv.RAG_OPERATION
    RAG_OTEL = SOURCE_RAG_OTEL
    RAG_TURN_ID = semconv.RAG_TURN_ID
    rag_others = frozenset((semconv.RAG_OPERATION, semconv.RAG_TURN_ID))
    TURN_NAME = semconv.TURN_SPAN_NAME
    SERVICE = SERVICE_NAME
    kind_names = _KINDS
    ERROR = STATUS_CODE_ERROR
    caught = (AttributeError, TypeError, ValueError, KeyError, OverflowError)

    def decode(resource_spans: Any, location: Location) -> list[Span]:
        if resource_spans.__class__ is not list:
            raise InputError(
                state.source,
                location_text(location),
                f'expected "resourceSpans" to be an array, got {type_name(resource_spans)}',
            )
        out: list[Span] = []
        append = out.append
        for rs in resource_spans:
            if rs.__class__ is not dict:
                warn(
                    "malformed-span",
                    f"{state.where(location)}: a resourceSpans item is {type_name(rs)}",
                )
                continue
            service = None
            try:
                resource = rs.get("resource")
                if resource:
                    attributes = resource.get("attributes")
                    if attributes:
                        kv = attributes[-1]  # where the SDKs put it: a shortcut
                        if kv["key"] != SERVICE:
                            for kv in attributes:
                                if kv["key"] == SERVICE:
                                    break
                        if kv["key"] == SERVICE:
                            value = kv["value"]
                            service = value.get("stringValue")
                            if service.__class__ is not str:
                                service = attribute_text(value)
                scopes = rs.get("scopeSpans")
                if scopes is None:
                    scopes = _scope_spans(rs)
                if not scopes:
                    continue
                if scopes.__class__ is not list:
                    raise TypeError(f"scopeSpans is {type_name(scopes)}, not an array")
            except caught as exc:
                warn("malformed-span", f"{state.where(location)}: resource: {exc!r}")
                continue
            if service is not None:
                service = intern(service, service)
            for ss in scopes:
                spans = ss.get("spans") if ss.__class__ is dict else None
                if not spans:
                    continue
                if spans.__class__ is not list:
                    warn("malformed-span", f"{state.where(location)}: spans is {type_name(spans)}")
                    continue
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
                        pid = s.get("parentSpanId")
                        if len(tid) != 32:
                            tid = odd_id(tid, 32, diag, state.where(location))
                        if len(sid) != 16:
                            sid = odd_id(sid, 16, diag, state.where(location))
                        low = tid.lower()
                        if low != tid:
                            warn("upper-case-id", f"{state.where(location)}: trace {tid}")
                            tid = low
                        low = sid.lower()
                        if low != sid:
                            warn("upper-case-id", f"{state.where(location)}: span {sid}")
                            sid = low
                        if pid:
                            if len(pid) != 16:
                                pid = odd_id(pid, 16, diag, state.where(location))
                            low = pid.lower()
                            if low != pid:
                                warn("upper-case-id", f"{state.where(location)}: parent {pid}")
                                pid = low
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
                        if (
                            not 0 <= (start or 0) <= MAX_TIME_NS
                            or not 0 <= (end or 0) <= MAX_TIME_NS
                        ):
                            raise ValueError(f"time out of range: {start}..{end}")
                        if not start or not end:
                            warn(
                                "missing-timestamp", f"{state.where(location)}: span {sid} ({name})"
                            )
                            start = start or None
                            end = end or None

                        kind = s.get("kind", 0)
                        if kind.__class__ is not int:
                            kind = kind_names[kind]

                        status = s.get("status")
                        error = False
                        if status:
                            code = status.get("code")
                            error = code == ERROR or code == "STATUS_CODE_ERROR"

                        # Recognition (conventions.classify_span). rag-otel's own stages
                        # and turns, the common case, are recognised inline: the AnyValue
                        # wrappers of rag.stage and rag.stage.kind are held, and of the other
                        # recognised keys only those that can still matter (after rag.stage,
                        # just rag.operation and rag.turn.id).
                        stage_v = kind_v = found = None
                        chunk_attrs: dict[str, Any] | None = None
                        attrs = s.get("attributes")
                        if keep:
                            kept: dict[str, Any] = {}
                            if attrs:
                                for kv in attrs:
                                    kept[kv["key"]] = any_value(kv.get("value"))
                            span = Span(
                                tid,
                                sid,
                                pid,
                                name,
                                start,
                                end,
                                error=error,
                                service=service,
                                kind=kind,
                                attributes=kept,
                            )
                            classify(span, kept)
                            chunk_attrs = kept
                        else:
                            if attrs:
                                for kv in attrs:
                                    key = kv["key"]
                                    if key in wanted:
                                        if key == RAG_STAGE:
                                            stage_v = kv["value"]
                                        elif key == RAG_STAGE_KIND:
                                            kind_v = kv["value"]
                                        elif key in chunk_keys:
                                            if chunk_attrs is None:
                                                chunk_attrs = {}
                                            chunk_attrs[key] = any_value(kv["value"])
                                        elif stage_v is None or key in rag_others:
                                            if found is None:
                                                found = {key: kv["value"]}
                                            else:
                                                found[key] = kv["value"]
                            if name == TURN_NAME:
                                turn_v = None if found is None else found.get(RAG_TURN_ID)
                                turn_id = None
                                if turn_v is not None:
                                    turn_id = turn_v.get("stringValue")
                                    if turn_id is None:
                                        turn_id = attribute_text(turn_v)
                                span = Span(
                                    tid,
                                    sid,
                                    pid,
                                    name,
                                    start,
                                    end,
                                    None,
                                    None,
                                    True,
                                    turn_id,
                                    error,
                                    service,
                                    kind,
                                )
                            elif stage_v is not None and (
                                found is None or RAG_OPERATION not in found
                            ):
                                stage = stage_v.get("stringValue")
                                if stage is None:
                                    stage = attribute_text(stage_v)
                                stage_kind_: str | None = OTHER
                                if kind_v is not None:
                                    raw = kind_v.get("stringValue")
                                    stage_kind_ = kind_of.get(raw) if raw is not None else None
                                    if stage_kind_ is None:
                                        stage_kind_ = stage_kind(any_value(kind_v))
                                span = Span(
                                    tid,
                                    sid,
                                    pid,
                                    name,
                                    start,
                                    end,
                                    None if stage is None else intern(stage, stage),
                                    stage_kind_,
                                    False,
                                    None,
                                    error,
                                    service,
                                    kind,
                                    stage_source=RAG_OTEL,  # by keyword: fields may be added
                                )
                                if stage is None:  # rag.stage set to nothing: not a stage
                                    span.stage_kind = span.stage_source = None
                            else:
                                span = Span(
                                    tid,
                                    sid,
                                    pid,
                                    name,
                                    start,
                                    end,
                                    None,
                                    None,
                                    False,
                                    None,
                                    error,
                                    service,
                                    kind,
                                )
                                if found is not None or kind_v is not None:
                                    values = {} if found is None else found
                                    if kind_v is not None:
                                        values[RAG_STAGE_KIND] = kind_v
                                    if stage_v is not None:
                                        values[RAG_STAGE] = stage_v
                                    classify(span, {k: any_value(v) for k, v in values.items()})
                        stage = span.stage
                        if stage is not None and span.stage_source is not RAG_OTEL:
                            span.stage = intern(stage, stage)
                        events = s.get("events")
                        if events or chunk_attrs:
                            span.first_chunk_ns = first_token.first_chunk_ns(
                                start, chunk_attrs, first_token.otlp_events(events)
                            )
                    except caught as exc:
                        warn("malformed-span", f"{state.where(location)}: {_describe(s)}: {exc!r}")
                        continue
                    append(span)
        return out

    return decode


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

"""Jaeger v1 JSON -> `Span`.

    from rag_otel.analysis.readers.jaeger import decode_response

    spans = decode_response(orjson.loads(data), state, None)  # {"data": [trace, ...]}

Three layouts hold v1 spans:

- the HTTP API response and the UI's "Download Results" file: ``{"data": [trace, ...], "errors": ...}``;
- one trace: ``{"traceID", "spans": [...], "processes": {"p1": {"serviceName", "tags"}}}``;
- a bare array of spans, each with an inline ``process`` (Jaeger's anonymizer writes this).

A span's parent is its first CHILD_OF reference in the same trace, else its first
FOLLOWS_FROM reference (then ``Span.follows_from`` is True), else the legacy
``parentSpanID`` field. ``startTime`` and ``duration`` are microseconds; they become
nanoseconds. Ids are lower-cased and zero-padded to OTLP's widths (a 64-bit trace id
``2be38093ead7a083`` becomes ``00000000000000002be38093ead7a083``), so a trace read from
Jaeger and from OTLP gets the same ids. Tags ``error=true`` and ``otel.status_code=ERROR``
mark an error; the ``span.kind`` tag gives `Span.kind`; the tags stage and turn recognition
reads (`conventions.RECOGNITION_KEYS`) go to `conventions.classify_span`. api_v3 responses
(``{"result": {"resourceSpans": ...}}``) are OTLP and are read by `otlp`. With
``keep_attributes``, every tag is kept, typed by its ``type`` (``span.kind``, ``error``
and ``otel.status_code`` included).
"""

from __future__ import annotations

from typing import Any

from rag_otel import semconv
from rag_otel.analysis import first_token
from rag_otel.analysis.conventions import RECOGNITION_KEYS
from rag_otel.analysis.model import MAX_TIME_NS, InputError, Span
from rag_otel.analysis.readers.common import (
    CAUGHT,
    EVENT_NAMES,
    SPAN_KINDS,
    Location,
    ReadState,
    data_array,
    finish_span,
    hex_id,
    location_text,
    type_name,
)

SPAN_KIND_TAG = "span.kind"
ERROR_TAG = "error"
OTEL_STATUS_CODE_TAG = "otel.status_code"
_TRUE = (True, "true", "True", "TRUE", 1)


def tag_value(tag: Any) -> Any:
    """A v1 tag's value as a Python value, by its declared ``type``."""
    value = tag.get("value")
    vtype = tag.get("type")
    if vtype == "bool":
        return value in _TRUE
    if vtype == "int64":
        return int(value)
    if vtype == "float64":
        return float(value)
    return value


def _trace_id(value: Any, state: ReadState, where: str) -> str:
    """A trace id as 32 hex digits: a 64-bit v1 trace id (16 digits) is not odd, just short."""
    if value.__class__ is str and len(value) == 16:
        return "0000000000000000" + value.lower()
    return hex_id(value, 32, state.diagnostics, where, "trace")


def log_events(logs: Any) -> list[first_token.Event]:
    """v1 ``logs`` (``[{"timestamp": us, "fields": [{"key": "event", ...}]}]``) as the
    ``(name, time_ns)`` pairs `finish_span` reads: an OpenTelemetry span event becomes a log
    whose ``event`` field holds its name; only the names in `EVENT_NAMES` are kept."""
    out: list[first_token.Event] = []
    if logs.__class__ is not list:
        return out
    for log in logs:
        if log.__class__ is not dict:
            continue
        fields = log.get("fields")
        if fields.__class__ is not list:
            continue
        for f in fields:
            if f.__class__ is not dict or f.get("key") != "event":
                continue
            name = f.get("value")
            if name.__class__ is str and name in EVENT_NAMES:
                micros = log.get("timestamp")
                ns = None
                if isinstance(micros, (int, str)) and not isinstance(micros, bool):
                    try:
                        ns = int(micros) * 1000
                    except ValueError:
                        ns = None
                out.append((f["value"], ns))
                break
    return out


def decode_response(obj: dict[str, Any], state: ReadState, location: Location) -> list[Span]:
    """``{"data": [trace, ...], "errors": [...]}``: errors Jaeger reports are counted."""
    errors = obj.get("errors")
    if errors:
        for err in errors if errors.__class__ is list else [errors]:
            msg = err.get("msg", err) if err.__class__ is dict else err
            state.diagnostics.warn("jaeger-error", f"{state.where(location)}: {msg}")
    data = data_array(obj, state, location, '"data" to be an array of traces')
    out: list[Span] = []
    for i, trace in enumerate(data):
        if trace.__class__ is not dict:
            raise InputError(
                state.source,
                location_text(location),
                f"expected data[{i}] to be a trace object, got {type_name(trace)}",
            )
        out.extend(decode_trace(trace, state, location, path=f"data[{i}]"))
    return out


def decode_trace(
    trace: dict[str, Any], state: ReadState, location: Location, *, path: str = ""
) -> list[Span]:
    """One v1 trace: ``{"traceID", "spans": [...], "processes": {...}}`` (`path`: where it
    is in the document, for messages)."""
    spans = trace.get("spans")
    if spans.__class__ is not list:
        field = f"{path}.spans" if path else '"spans"'
        raise InputError(
            state.source,
            location_text(location),
            f"expected a Jaeger trace's {field} to be an array of spans, got {type_name(spans)}",
        )
    processes = trace.get("processes")
    if processes.__class__ is not dict:
        processes = {}
    warnings = trace.get("warnings")
    if warnings:
        state.diagnostics.warn("jaeger-warning", f"{state.where(location)}: {warnings!r}")
    return decode_spans(spans, processes, state, location)


def decode_spans(
    spans: list[Any], processes: dict[str, Any], state: ReadState, location: Location
) -> list[Span]:
    """v1 spans; a span's service comes from ``processes[processID]`` or its inline ``process``."""
    out: list[Span] = []
    append = out.append
    diag = state.diagnostics
    warn = diag.warn
    keep = state.keep_attributes
    intern = state.strings.setdefault
    where = state.where(location)
    services: dict[str, str | None] = {}
    wanted = RECOGNITION_KEYS
    for s in spans:
        try:
            tid = _trace_id(s["traceID"], state, where)
            sid = hex_id(s["spanID"], 16, state.diagnostics, where, "span")

            parent: str | None = None
            follows = False
            for ref in s.get("references") or ():
                ref_trace = ref.get("traceID")
                if ref_trace is not None and _trace_id(ref_trace, state, where) != tid:
                    warn("cross-trace-reference", f"{where}: span {sid} -> trace {ref_trace}")
                    continue
                ref_type = ref.get("refType", "CHILD_OF")
                if ref_type == "CHILD_OF":
                    parent = hex_id(ref["spanID"], 16, state.diagnostics, where, "span")
                    follows = False
                    break
                if ref_type == "FOLLOWS_FROM" and parent is None:
                    parent = hex_id(ref["spanID"], 16, state.diagnostics, where, "span")
                    follows = True
            if parent is None:
                legacy = s.get("parentSpanID")
                if legacy and legacy.strip("0"):
                    parent = hex_id(legacy, 16, state.diagnostics, where, "span")
            if follows:
                warn("follows-from", f"{where}: span {sid} follows from {parent}")

            name = s.get("operationName")
            if name.__class__ is not str:
                if name is not None:
                    raise TypeError(f"operationName is {type_name(name)}, not a string")
                warn("missing-name", f"{where}: span {sid}")
                name = ""
            name = intern(name, name)

            start_us = s.get("startTime")
            duration_us = s.get("duration")
            start = int(start_us) * 1000 if start_us else None
            end = None
            if start is not None and duration_us is not None:
                end = start + int(duration_us) * 1000
                if not 0 <= start <= MAX_TIME_NS or not 0 <= end <= MAX_TIME_NS:
                    raise ValueError(
                        f"time out of range: startTime {start_us}, duration {duration_us}"
                    )
            else:
                warn("missing-timestamp", f"{where}: span {sid} ({name})")

            kind = 0
            error = False
            found: dict[str, Any] | None = None
            kept: dict[str, Any] | None = {} if keep else None
            chunk_attrs: dict[str, Any] | None = kept
            for tag in s.get("tags") or ():
                key = tag["key"]
                if key == SPAN_KIND_TAG:
                    kind = SPAN_KINDS.get(str(tag.get("value")).lower(), 0)
                elif key == ERROR_TAG:
                    error = error or tag.get("value") in _TRUE
                elif key == OTEL_STATUS_CODE_TAG:
                    error = error or tag.get("value") == "ERROR"
                elif key in wanted:
                    if found is None:
                        found = {}
                    found[key] = tag_value(tag)
                elif key in first_token.ATTRIBUTES:
                    chunk_attrs = chunk_attrs if chunk_attrs is not None else {}
                    chunk_attrs[key] = tag_value(tag)
                if kept is not None:
                    kept[key] = tag_value(tag)

            pid_key = s.get("processID")
            if pid_key is not None and pid_key in services:
                service = services[pid_key]
            else:
                process = processes.get(pid_key) if pid_key is not None else None
                if process is None:
                    process = s.get("process")
                    if process is not None:
                        warn("inline-process", f"{where}: span {sid}")
                service = None
                if process:
                    service = process.get("serviceName")
                    if service is not None:
                        service = intern(str(service), str(service))
                if pid_key is not None and pid_key in processes:
                    services[pid_key] = service
            if s.get("warnings"):
                warn("jaeger-warning", f"{where}: span {sid}: {s['warnings']!r}")

            span = Span(
                trace_id=tid,
                span_id=sid,
                parent_id=parent,
                name=name,
                start_ns=start,
                end_ns=end,
                is_turn=name == semconv.TURN_SPAN_NAME,
                error=error,
                service=service,
                kind=kind,
                follows_from=follows,
                attributes=kept,
            )
            finish_span(span, state, found, chunk_attrs, log_events(s.get("logs")))
        except CAUGHT as exc:
            sid_text = s.get("spanID") if s.__class__ is dict else None
            warn("malformed-span", f"{where}: span {sid_text!r}: {exc!r}")
            continue
        append(span)
    return out

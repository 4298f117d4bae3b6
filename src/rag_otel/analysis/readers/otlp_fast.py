"""Canonical OTLP JSON lines -> `Span`, decoded by msgspec into typed records: the fast path.

    from rag_otel.analysis.readers.otlp_fast import decode_line

    spans = decode_line(line, state)  # None: not canonical, read it with `readers.otlp`

The OpenTelemetry Collector's ``file`` exporter and the SDK's JSON exporters write
canonical OTLP JSON: camelCase keys, 64-bit times as strings, lower-case hex ids, typed
attribute wrappers. msgspec decodes such a line straight into the records below,
skipping every key the analysis does not read (it builds no dict for a span, an
attribute or a value), in less time than ``orjson.loads`` takes to build the whole
document. The conversion to `Span` then reads only what the analysis needs, as
`readers.otlp._decode_spans` does.

Only canonical lines are read here: anything that would be warned about, skipped or
read in another way (snake_case keys, odd ids, missing or zero times, an attribute value
written otherwise than as one typed wrapper, a JSON type other than the canonical one,
invalid JSON) makes `decode_line` return None before it has changed anything, and the
caller reads the line with the tolerant reader (`readers.otlp`), so the result is the
same as that reader's, warnings included. This reader counts no warning of its own.
"""

from __future__ import annotations

from typing import Any

import msgspec
import orjson
from msgspec import UNSET, Raw, Struct, UnsetType

from rag_otel import semconv
from rag_otel.analysis import first_token
from rag_otel.analysis.conventions import (
    OTHER,
    RECOGNITION_NAMES,
    STAGE_KIND_OF,
    stage_kind,
)
from rag_otel.analysis.model import MAX_TIME_NS, Span
from rag_otel.analysis.readers.common import SERVICE_NAME, ReadState, finish_span, rag_stage
from rag_otel.analysis.readers.otlp import (
    RAG_OTHERS,
    STATUS_CODE_ERROR,
    WANTED,
    any_value,
    events,
)

# --- the records msgspec decodes into (only the keys read; others are skipped) ---------------


class _Value(Struct):
    """An ``AnyValue`` wrapper: every wrapper key `otlp.any_value` knows, in both spellings,
    so that one written in another spelling is seen (and read by the tolerant reader)."""

    stringValue: str | UnsetType = UNSET
    string_value: str | UnsetType = UNSET
    intValue: str | int | UnsetType = UNSET
    int_value: str | int | UnsetType = UNSET
    doubleValue: float | int | UnsetType = UNSET
    double_value: float | int | UnsetType = UNSET
    boolValue: bool | UnsetType = UNSET
    bool_value: bool | UnsetType = UNSET
    arrayValue: Raw | UnsetType = UNSET
    array_value: Raw | UnsetType = UNSET
    kvlistValue: Raw | UnsetType = UNSET
    kvlist_value: Raw | UnsetType = UNSET
    bytesValue: str | UnsetType = UNSET
    bytes_value: str | UnsetType = UNSET


class _KeyValue(Struct):
    key: str
    value: _Value | UnsetType | None = UNSET


class _Status(Struct):
    code: Any = None


class _Span(Struct):
    traceId: str
    spanId: str
    name: str
    startTimeUnixNano: str | int
    endTimeUnixNano: str | int
    parentSpanId: str | None = None
    kind: int = 0
    attributes: Raw = Raw(b"")
    """Decoded only when not met before (`_convert`)."""
    events: Raw = Raw(b"")
    status: _Status | None = None


class _Scope(Struct):
    spans: list[_Span] | None = None


class _Resource(Struct):
    attributes: list[_KeyValue] | None = None


class _ResourceSpans(Struct):
    scopeSpans: list[_Scope]
    resource: _Resource | None = None


class _Line(Struct):
    resourceSpans: list[_ResourceSpans]


_DECODE = msgspec.json.Decoder(_Line).decode
_ATTRIBUTES = msgspec.json.Decoder(list[_KeyValue] | None).decode
_MEMO_SIZE = 4096
"""Attribute lists recognised once and kept (`_convert`): the distinct stages of a few pipelines."""
_FIELDS = _Value.__struct_fields__
_RAW_FIELDS = frozenset(("arrayValue", "array_value", "kvlistValue", "kvlist_value"))


class _NotCanonical(Exception):
    """The line is left to the tolerant reader."""


_DECLINE = (
    _NotCanonical,
    msgspec.DecodeError,
    msgspec.ValidationError,
    TypeError,
    ValueError,
    KeyError,
    AttributeError,
    OverflowError,
    orjson.JSONDecodeError,
)

_CHUNK_KEYS = first_token.ATTRIBUTES
_RAG_STAGE = semconv.RAG_STAGE
_RAG_STAGE_KIND = semconv.RAG_STAGE_KIND
_RAG_OPERATION = semconv.RAG_OPERATION
_RAG_TURN_ID = semconv.RAG_TURN_ID
_TURN_NAME = semconv.TURN_SPAN_NAME


def _plain(value: _Value) -> Any:
    """`otlp.any_value` of the wrapper `value` was decoded from: exactly one wrapper key
    set (with none or several, which one `any_value` reads depends on the key order, which
    is gone: the line is declined)."""
    found = [
        (name, x)
        for name, x in zip(_FIELDS, msgspec.structs.astuple(value), strict=True)
        if x is not UNSET
    ]
    if len(found) != 1:
        raise _NotCanonical
    name, x = found[0]
    if name in _RAW_FIELDS:
        x = orjson.loads(memoryview(x))
    return any_value({name: x})


def _text(value: _Value) -> str | None:
    """`otlp.attribute_text`: ``stringValue`` when set, else the value as text."""
    text = value.stringValue
    if text is not UNSET:
        return text
    plain = _plain(value)
    return None if plain is None else str(plain)


def decode_line(line: bytes, state: ReadState) -> list[Span] | None:
    """The spans of one canonical OTLP JSON line (``{"resourceSpans": [...]}``), or None
    when the line is not canonical (nothing counted, nothing changed but interned strings)."""
    try:
        out: list[Span] = []
        for rs in _DECODE(line).resourceSpans:
            service = _service(rs.resource)
            if service is not None:
                service = state.strings.setdefault(service, service)
            for scope in rs.scopeSpans:
                if scope.spans:
                    _convert(scope.spans, service, state, out)
        return out
    except _DECLINE:
        return None


def _service(resource: _Resource | None) -> str | None:
    """As `otlp._service`: the last ``service.name`` attribute when it is the last one, else
    the first; its ``stringValue``."""
    if resource is None or not resource.attributes:
        return None
    attributes = resource.attributes
    kv = attributes[-1]
    if kv.key != SERVICE_NAME:
        for kv in attributes:
            if kv.key == SERVICE_NAME:
                break
    if kv.key != SERVICE_NAME:
        return None
    value = kv.value
    if value.__class__ is not _Value:
        raise _NotCanonical
    service = value.stringValue
    if service is UNSET:
        raise _NotCanonical
    return service


def _convert(spans: list[_Span], service: str | None, state: ReadState, out: list[Span]) -> None:
    """Append the canonical spans of one scope to `out` (raise `_NotCanonical` at the first
    that is not): `otlp._decode_spans` for canonical spans.

    A span without events whose name, kind and attribute bytes were met before, and
    recognised then with no first-chunk attribute and no turn id (a pipeline's stages
    write the same attributes turn after turn), takes what was recognised then from
    `ReadState.recognised`: its attributes are not decoded again.
    """
    intern = state.strings.setdefault
    memo = state.recognised
    append = out.append
    last_tid = ""
    for s in spans:
        tid = s.traceId
        if tid != last_tid:
            if len(tid) != 32 or tid.lower() != tid:
                raise _NotCanonical
            last_tid = tid
        sid = s.spanId
        if len(sid) != 16 or sid.lower() != sid:
            raise _NotCanonical
        pid = s.parentSpanId
        if pid is not None and (len(pid) != 16 or pid.lower() != pid):
            raise _NotCanonical  # "" is warned about, odd ids are normalised: not here
        name = s.name
        name = intern(name, name)
        start = int(s.startTimeUnixNano)
        end = int(s.endTimeUnixNano)
        if not (0 < start <= MAX_TIME_NS and 0 < end <= MAX_TIME_NS):
            raise _NotCanonical
        kind = s.kind
        if not 0 <= kind <= 5:
            raise _NotCanonical
        status = s.status
        error = status is not None and (
            status.code == STATUS_CODE_ERROR or status.code == "STATUS_CODE_ERROR"
        )
        raw_events = s.events
        key = None
        if not raw_events:
            key = (name, kind, bytes(s.attributes))
            known = memo.get(key)
            if known is not None:
                stage, stage_kind_, source, candidate, is_turn = known
                append(
                    Span(
                        tid,
                        sid,
                        pid,
                        name,
                        start,
                        end,
                        stage,
                        stage_kind_,
                        is_turn,
                        None,
                        error,
                        service,
                        kind,
                        False,
                        None,
                        source,
                        candidate,
                    )
                )
                continue
        span = Span(tid, sid, pid, name, start, end, None, None, False, None, error, service, kind)
        recognised, chunk = _recognise(span, s.attributes, state)
        if (span.stage is None and not span.is_turn) or raw_events or chunk:
            parsed = orjson.loads(memoryview(raw_events)) if raw_events else None
            finish_span(span, state, recognised, chunk, events(parsed))
        if key is not None and chunk is None and span.turn_id is None and len(memo) < _MEMO_SIZE:
            memo[key] = (
                span.stage,
                span.stage_kind,
                span.stage_source,
                span.turn_candidate,
                span.is_turn,
            )
        append(span)


def _recognise(
    span: Span, raw: Raw, state: ReadState
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """`otlp._recognise_known` on the decoded attributes `raw`: rag-otel's own stages and
    turns recognised here; (the attributes other conventions are recognised from by
    `finish_span`, None for none; the first-chunk attributes, None for none)."""
    stage_v: _Value | None = None
    kind_v: _Value | None = None
    found: dict[str, _Value] | None = None
    chunk: dict[str, Any] | None = None
    attributes = _ATTRIBUTES(raw) if raw else None
    if attributes:
        for kv in attributes:
            key = kv.key
            if key in WANTED:
                value = kv.value
                if value.__class__ is not _Value:
                    raise _NotCanonical
                if key == _RAG_STAGE:
                    stage_v = value
                elif key == _RAG_STAGE_KIND:
                    kind_v = value
                elif key in _CHUNK_KEYS:
                    if chunk is None:
                        chunk = {}
                    chunk[key] = _plain(value)
                elif stage_v is None or key in RAG_OTHERS:
                    if found is None:
                        found = {}
                    found[key] = value
    name = span.name
    if name == _TURN_NAME:
        span.is_turn = True
        turn_v = None if found is None else found.get(_RAG_TURN_ID)
        if turn_v is not None:
            span.turn_id = _text(turn_v)
    elif stage_v is not None and (found is None or _RAG_OPERATION not in found):
        stage = _text(stage_v)
        stage_kind_: str | None = OTHER
        if kind_v is not None:
            text = kind_v.stringValue
            stage_kind_ = STAGE_KIND_OF.get(text) if text is not UNSET else None
            if stage_kind_ is None:
                stage_kind_ = stage_kind(_plain(kind_v))
        rag_stage(span, state, stage, stage_kind_)
    elif found is not None or kind_v is not None or name in RECOGNITION_NAMES:
        values = {} if found is None else found
        if kind_v is not None:
            values[_RAG_STAGE_KIND] = kind_v
        if stage_v is not None:
            values[_RAG_STAGE] = stage_v
        return {key: _plain(v) for key, v in values.items()}, chunk
    return None, chunk

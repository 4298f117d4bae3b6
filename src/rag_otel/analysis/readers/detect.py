"""Which format a parsed JSON value is in, told by keys only one format has, and its spans.

    from rag_otel.analysis.readers.detect import decode_value

    spans = decode_value(orjson.loads(data), None, state, None)  # or format="jaeger", ...

Never by elimination: a value no format claims is refused (`InputError`) with its first
keys and the supported formats (`expected_text`). The formats themselves are decoded by
`otlp`, `jaeger`, `phoenix` and `langfuse`; files, gzip and JSON lines by `stream`.
"""

from __future__ import annotations

from typing import Any

from rag_otel.analysis.model import InputError, Span
from rag_otel.analysis.readers import jaeger, langfuse, otlp, phoenix
from rag_otel.analysis.readers.common import (
    Location,
    ReadState,
    describe,
    keys_text,
    location_text,
    type_name,
)

_EXPECTED: dict[str | None, str] = {
    "otlp": 'OTLP JSON {"resourceSpans": [...]}',
    "otlp-jsonl": 'one OTLP JSON {"resourceSpans": [...]} per line',
    "jaeger": 'Jaeger v1 JSON {"data": [...]}, a trace {"traceID", "spans"} or an array of spans',
    "jaeger-v3": 'Jaeger api_v3 JSON {"result": {"resourceSpans": [...]}}',
    "phoenix": 'Phoenix REST spans {"data": [{"context", "span_kind", ...}], "next_cursor"}',
    "langfuse": 'Langfuse observations {"data": [{"traceId", "startTime", "type", ...}], "meta"}',
}
_ANY = "one of the supported formats: " + "; ".join(
    _EXPECTED[f] for f in ("otlp", "jaeger", "jaeger-v3", "phoenix", "langfuse")
)
_EXPECTED[None] = _ANY
_DATA_ITEMS = (
    'a Jaeger trace {"traceID", "spans"}, a Phoenix span {"context", "span_kind", ...} '
    'or a Langfuse observation {"traceId", "startTime", ...}'
)
_ARRAY_ITEMS: dict[str | None, str] = {
    None: "an array of Jaeger spans, Phoenix spans or Langfuse observations",
    "jaeger": "an array of Jaeger spans or traces",
    "phoenix": 'an array of Phoenix spans {"context", "span_kind", ...}',
    "langfuse": 'an array of Langfuse observations {"traceId", "startTime", ...}',
}


def expected_text(fmt: str | None) -> str:
    """What input of format `fmt` (None: any) looks like, for "expected ..." messages."""
    return _EXPECTED.get(fmt, _ANY)


def decode_value(obj: Any, fmt: str | None, state: ReadState, location: Location) -> list[Span]:
    """The spans of one parsed JSON value, whatever its shape (restricted by `fmt`).

    The shape is told by keys only one format has; a value no format claims is refused
    with its top-level keys and the list of supported formats."""
    if obj.__class__ is dict:
        rs = obj.get("resourceSpans")
        if rs is None:
            rs = obj.get("resource_spans")
        if rs is not None and fmt in (None, "otlp", "otlp-jsonl"):
            return otlp.decode_resource_spans(rs, state, location)
        if "result" in obj and fmt in (None, "jaeger-v3"):
            return _decode_v3_result(obj["result"], state, location)
        if "data" in obj or "meta" in obj or "next_cursor" in obj:
            spans = _decode_envelope(obj, fmt, state, location)
            if spans is not None:
                return spans
        if fmt in (None, "jaeger") and "spans" in obj:
            return jaeger.decode_trace(obj, state, location)
        if fmt in (None, "phoenix") and (phoenix.is_span(obj) or phoenix.is_otlpv1_span(obj)):
            return phoenix.decode_spans([obj], state, location)
        if fmt in (None, "langfuse") and langfuse.is_observation(obj):
            return langfuse.decode_observations([obj], state, location)
        if "summaries" in obj and fmt in (None, "jaeger-v3", "jaeger"):
            state.diagnostics.warn(
                "trace-summaries",
                f"{state.where(location)}: trace summaries hold no spans; fetch /api/v3/traces instead",
            )
            return []
        error = obj.get("error")
        if error is not None:
            message = error.get("message", error) if error.__class__ is dict else error
            raise InputError(
                state.source,
                location_text(location),
                f"expected spans, got a Jaeger error: {message}",
            )
        raise InputError(
            state.source,
            location_text(location),
            f"expected {expected_text(fmt)}, got {keys_text(obj)}",
        )
    if obj.__class__ is list and fmt in (None, "jaeger", "phoenix", "langfuse"):
        return _decode_array(obj, fmt, state, location)
    raise InputError(
        state.source,
        location_text(location),
        f"expected {expected_text(fmt)}, got {type_name(obj)}",
    )


def _decode_v3_result(result: Any, state: ReadState, location: Location) -> list[Span]:
    if result.__class__ is dict:
        rs = result.get("resourceSpans")
        if rs is None:
            rs = result.get("resource_spans")
        if rs is not None:
            return otlp.decode_resource_spans(rs, state, location)
        if not result:  # an empty TracesData
            return []
    raise InputError(
        state.source,
        location_text(location),
        f'expected "result" to be {{"resourceSpans": [...]}}, got {type_name(result)}',
    )


def _decode_envelope(
    obj: dict[str, Any], fmt: str | None, state: ReadState, location: Location
) -> list[Span] | None:
    """A ``{"data": ...}`` answer: Phoenix's (``next_cursor``, span objects with ``context``),
    Langfuse's (``meta``, observations with ``traceId``, ``startTime``) or Jaeger v1's
    (traces with ``traceID``, ``spans``). None if it is none of them."""
    if fmt == "phoenix" or (fmt is None and phoenix.is_page(obj)):
        return phoenix.decode_page(obj, state, location)
    if fmt == "langfuse" or (fmt is None and langfuse.is_page(obj)):
        return langfuse.decode_page(obj, state, location)
    if fmt not in (None, "jaeger") or "data" not in obj:
        return None
    data = obj["data"]
    if fmt is None and data.__class__ is list and data and not _is_jaeger_trace(data[0]):
        raise InputError(
            state.source,
            location_text(location),
            f"expected data[0] to be {_DATA_ITEMS}, got {describe(data[0])}",
        )
    return jaeger.decode_response(obj, state, location)


def _is_jaeger_trace(item: Any) -> bool:
    return item.__class__ is dict and ("spans" in item or "traceID" in item)


def _decode_array(
    items: list[Any], fmt: str | None, state: ReadState, location: Location
) -> list[Span]:
    """A bare array: of v1 spans (the anonymizer's layout), Phoenix spans, Langfuse
    observations, or tolerated, of v1 traces."""
    if not items:
        return []
    head = items[0]
    if fmt in (None, "phoenix") and (phoenix.is_span(head) or phoenix.is_otlpv1_span(head)):
        return phoenix.decode_spans(items, state, location)
    if fmt in (None, "langfuse") and langfuse.is_observation(head):
        return langfuse.decode_observations(items, state, location)
    if fmt in (None, "jaeger"):
        if head.__class__ is dict and "spans" in head and "spanID" not in head:
            out: list[Span] = []
            for item in items:
                out.extend(decode_value(item, fmt, state, location))
            return out
        if head.__class__ is dict and ("spanID" in head or "operationName" in head):
            return jaeger.decode_spans(items, {}, state, location)
    raise InputError(
        state.source,
        location_text(location),
        f"expected {_ARRAY_ITEMS.get(fmt, _ARRAY_ITEMS[None])}, got an array of {describe(head)}",
    )

"""Phoenix REST span export -> `Span`.

    from rag_otel.analysis.readers.phoenix import decode_page

    spans = decode_page(orjson.loads(data), state, None)  # {"data": [span, ...], "next_cursor": ...}

What Phoenix's ``GET /v1/projects/{project_identifier}/spans`` answers (Arize-ai/phoenix,
``src/phoenix/server/api/routers/v1/spans.py``; checked against a real Phoenix 20.26.1 by
``tests/collector/test_phoenix_export.py``)::

    {"data": [{"id": "U3BhbjoxMg==", "name": "retrieve",
               "context": {"trace_id": "<32 hex>", "span_id": "<16 hex>"},
               "span_kind": "RETRIEVER", "parent_id": "<16 hex>" | null,
               "start_time": "2026-12-01T10:00:00.123456Z", "end_time": "...",
               "status_code": "OK" | "ERROR" | "UNSET", "status_message": "",
               "attributes": {"rag.stage": "retrieve", ...}, "events": [...]}],
     "next_cursor": "..." | null}

Phoenix keeps the OpenInference span kind out of the attributes and returns it as
``span_kind``; it is put back as the ``openinference.span.kind`` attribute (except
``UNKNOWN``, Phoenix's word for "none"), so that the span is recognised like one read over
OTLP. Attributes are flattened to dotted keys (Phoenix releases return them flat or
nested). Stages and turns are recognised from the attributes
(`rag_otel.analysis.conventions.classify_span`). Phoenix keeps neither the OTel span kind nor resource attributes: `Span.kind` is
unspecified and `Span.service` None. Times are ISO-8601 (microseconds, as Phoenix stores
them). Also read: the same spans as a bare array, one span object (per JSON line), and the
OTLP-shaped answer of ``GET /v1/projects/{project}/spans/otlpv1``
(``{"data": [{"trace_id", "span_id", "start_time_unix_nano", ...}]}``).

The first streamed chunk (`Span.first_chunk_ns`, the time to first token) is read from the
span's ``events`` (``{"name": "First Token Stream Event", "timestamp": "<ISO 8601>"}``, as
the OpenInference instrumentations record it; rag-otel's ``rag.first_chunk``; OpenLLMetry's
chunk events) and attributes (``gen_ai.response.time_to_first_chunk``), by
`rag_otel.analysis.first_token`, as over OTLP.
"""

from __future__ import annotations

from typing import Any

from rag_otel import semconv
from rag_otel.analysis import first_token
from rag_otel.analysis.isotime import iso_ns, time_or_none
from rag_otel.analysis.model import Span
from rag_otel.analysis.readers import otlp
from rag_otel.analysis.readers.common import (
    CAUGHT,
    EVENT_NAMES,
    Location,
    ReadState,
    data_array,
    finish_span,
    hex_id,
    type_name,
)
from rag_otel.analysis.readers.flatten import flatten

OPENINFERENCE_SPAN_KIND = "openinference.span.kind"
UNKNOWN_KIND = "UNKNOWN"


def is_span(obj: Any) -> bool:
    """A Phoenix REST span object (by its distinctive keys)."""
    return (
        obj.__class__ is dict and "context" in obj and ("span_kind" in obj or "start_time" in obj)
    )


def is_otlpv1_span(obj: Any) -> bool:
    """A span of the ``/spans/otlpv1`` answer (OTLP fields, snake_case)."""
    return obj.__class__ is dict and "span_id" in obj and "start_time_unix_nano" in obj


def is_page(obj: dict[str, Any]) -> bool:
    """A ``{"data": [...], "next_cursor": ...}`` page of Phoenix spans."""
    data = obj.get("data")
    if data.__class__ is list and data:
        return is_span(data[0]) or is_otlpv1_span(data[0])
    return "next_cursor" in obj


def decode_page(obj: dict[str, Any], state: ReadState, location: Location) -> list[Span]:
    """The spans of one answer page; a ``data`` that is not an array is an InputError."""
    data = data_array(obj, state, location, 'Phoenix\'s "data" to be an array of spans')
    return decode_spans(data, state, location)


def decode_spans(items: list[Any], state: ReadState, location: Location) -> list[Span]:
    """Phoenix spans, REST or otlpv1 shaped (by the first); a span that cannot be read is
    counted ``malformed-span`` and skipped."""
    if items and is_otlpv1_span(items[0]):
        return otlp.decode_resource_spans(
            [{"scopeSpans": [{"spans": [_otlpv1_as_otlp(s) for s in items]}]}], state, location
        )
    where = state.where(location)
    spans = (_span_or_none(item, i, state, where) for i, item in enumerate(items))
    return [span for span in spans if span is not None]


def _span_or_none(item: Any, index: int, state: ReadState, where: str) -> Span | None:
    try:
        return _span(item, state, where)
    except CAUGHT as exc:
        state.diagnostics.warn("malformed-span", f"{where}: data[{index}]: {exc!r}")
        return None


def _span(s: Any, state: ReadState, where: str) -> Span:
    if s.__class__ is not dict:
        raise TypeError(f"span is {type_name(s)}, not an object")
    context = s["context"]
    if context.__class__ is not dict:
        raise TypeError(f"context is {type_name(context)}, not an object")
    tid = hex_id(context["trace_id"], 32, state.diagnostics, where)
    sid = hex_id(context["span_id"], 16, state.diagnostics, where)
    parent = s.get("parent_id")
    pid = hex_id(parent, 16, state.diagnostics, where) if parent else None

    intern = state.strings.setdefault
    name = s.get("name")
    if name.__class__ is not str:
        if name is not None:
            raise TypeError(f"name is {type_name(name)}, not a string")
        state.diagnostics.warn("missing-name", f"{where}: span {sid}")
        name = ""
    name = intern(name, name)

    start = time_or_none(s.get("start_time"))
    end = time_or_none(s.get("end_time"))
    if start is None or end is None:
        state.diagnostics.warn("missing-timestamp", f"{where}: span {sid} ({name})")

    raw = s.get("attributes")
    if raw is not None and raw.__class__ is not dict:
        raise TypeError(f"attributes is {type_name(raw)}, not an object")
    attributes = flatten(raw) if raw else {}
    kind = s.get("span_kind")
    if kind.__class__ is str and kind != UNKNOWN_KIND:
        attributes.setdefault(OPENINFERENCE_SPAN_KIND, kind)

    span = Span(
        trace_id=tid,
        span_id=sid,
        parent_id=pid,
        name=name,
        start_ns=start,
        end_ns=end,
        is_turn=name == semconv.TURN_SPAN_NAME,
        error=s.get("status_code") == "ERROR",
        attributes=attributes if state.keep_attributes else None,
    )
    return finish_span(span, state, attributes, attributes, _events(s.get("events")))


def _events(events: Any) -> list[first_token.Event]:
    """Phoenix's span events (``{"name", "timestamp": ISO 8601, "attributes"}``) as the
    ``(name, ns)`` pairs `finish_span` reads: only the names in `EVENT_NAMES`; a timestamp that
    cannot be read becomes None (skipped there, never a malformed span)."""
    if events.__class__ is not list:
        return []
    out: list[first_token.Event] = []
    for event in events:
        if event.__class__ is not dict:
            continue
        name = event.get("name")
        if name.__class__ is str and name in EVENT_NAMES:
            try:
                at: int | None = iso_ns(event.get("timestamp"))
            except (TypeError, ValueError):
                at = None
            out.append((name, at))
    return out


def _otlpv1_as_otlp(s: Any) -> Any:
    """An otlpv1 span as OTLP JSON: AnyValues there list every variant, the unused ones null."""
    if s.__class__ is not dict:
        return s  # the OTLP decoder counts it
    out = dict(s)
    attributes = s.get("attributes")
    if attributes.__class__ is list:
        out["attributes"] = [_kv(kv) for kv in attributes]
    if out.get("parent_span_id") is None:
        out.pop("parent_span_id", None)
    return out


def _kv(kv: Any) -> Any:
    if kv.__class__ is dict and kv.get("value").__class__ is dict:
        return {"key": kv.get("key"), "value": _any_value(kv["value"])}
    return kv


def _any_value(value: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in value.items() if v is not None}
    array = out.get("array_value")
    if array.__class__ is dict and array.get("values").__class__ is list:
        out["array_value"] = {
            "values": [_any_value(v) if v.__class__ is dict else v for v in array["values"]]
        }
    return out

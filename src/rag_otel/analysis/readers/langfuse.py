"""Langfuse observations export -> `Span`.

    from rag_otel.analysis.readers.langfuse import decode_page

    spans = decode_page(orjson.loads(data), state, None)  # {"data": [observation, ...], "meta": {...}}

What Langfuse's public API answers for observations: ``GET /api/public/observations``
(``meta``: ``page``, ``limit``, ``totalItems``, ``totalPages``) and
``GET /api/public/v2/observations`` (``meta``: ``cursor``); the field names are those of
the langfuse package's API models (``ObservationsV2Response``, ``ObservationV2``)::

    {"data": [{"id": "<16 hex>", "traceId": "<32 hex>", "type": "GENERATION",
               "name": "generate", "startTime": "2026-12-01T10:00:00.123Z",
               "endTime": "...", "completionStartTime": "...",
               "parentObservationId": "<16 hex>" | null, "level": "DEFAULT",
               "statusMessage": null, "model": "gpt-4o-mini", "metadata": {...}, ...}],
     "meta": {"page": 1, "limit": 50, "totalItems": 7, "totalPages": 1}}

Each observation is a span: ``id`` its span id, ``traceId`` its trace, ``parentObservationId``
its parent. Ids become OTLP's lower-case hex of 32 (trace) and 16 (span) digits: the hex
ids of OTel-ingested observations as they are, a UUID trace id by its 32 digits, and any
other id (the UUID observation ids and free-form trace ids of older SDKs) by a hash of
it, the same for the same id.

The observation type goes into the ``langfuse.observation.type`` attribute, lower case as
Langfuse's own OTel attribute of that name (``generation``, ``span``, ``event``, ``agent``,
``tool``, ``chain``, ``retriever``, ``embedding``, ``evaluator``, ``guardrail``), from which
`rag_otel.analysis.conventions.classify_span` gives the stage its kind (an ``event`` is not a
stage). ``model`` becomes ``langfuse.observation.model.name``,
``completionStartTime`` ``langfuse.observation.completion_start_time`` (kept as text; the
first streamed chunk, `Span.first_chunk_ns`, as `rag_otel.analysis.first_token` reads it),
``level`` ``langfuse.observation.level`` (``ERROR`` marks the span as an error) and
``statusMessage`` ``langfuse.observation.status_message``, ``usageDetails``
``langfuse.observation.usage_details.*``. ``metadata`` of observations
ingested over OTLP holds the span's OTel attributes (``metadata.attributes``), which are
restored as attributes, and its resource attributes (``metadata.resourceAttributes``:
``service.name`` gives `Span.service`); other metadata keys are flattened under
``langfuse.observation.metadata.``. An ``EVENT`` (a point in time, no ``endTime``) lasts
zero; any other observation without ``endTime`` counts ``missing-timestamp``.

The trace. A Langfuse trace is not an observation, and the export does not hold it. A
trace's one top-level observation (``parentObservationId`` null: the ``@observe``-d
function of SDK v3+, marked ``isRootObservation``) is its root span, as the same span read
over OTLP would be. A trace with several top-level observations (SDK v2 traces) gets a
root span made for the trace: named by the observations' ``traceName`` when the export
has it (else ``langfuse.trace``), from the earliest start to the latest end of its
observations, with a span id derived from the trace id; the top-level observations go
below it. The pages of one input (JSON lines) and the inputs of one read are one export:
a trace split over them is hung together the same way. ``isRootObservation`` is kept as
the attribute ``langfuse.internal.is_app_root``, the attribute Langfuse's SDK puts on that
span over OTLP.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson

from rag_otel import semconv
from rag_otel.analysis.isotime import time_or_none
from rag_otel.analysis.model import Span
from rag_otel.analysis.readers.common import (
    CAUGHT,
    SERVICE_NAME,
    Location,
    ReadState,
    data_array,
    finish_span,
    hex_id,
    type_name,
)
from rag_otel.analysis.readers.flatten import flatten

OBSERVATION_TYPE = "langfuse.observation.type"
OBSERVATION_MODEL = "langfuse.observation.model.name"
OBSERVATION_LEVEL = "langfuse.observation.level"
OBSERVATION_STATUS_MESSAGE = "langfuse.observation.status_message"
OBSERVATION_COMPLETION_START = "langfuse.observation.completion_start_time"
OBSERVATION_METADATA = "langfuse.observation.metadata"
OBSERVATION_USAGE = "langfuse.observation.usage_details"
TRACE_NAME = "langfuse.trace.name"
APP_ROOT = "langfuse.internal.is_app_root"
TRACE_ROOT_NAME = "langfuse.trace"
"""Name of a made trace root when the export does not name the trace."""
_HEX = re.compile(r"[0-9a-fA-F]+")


def is_observation(obj: Any) -> bool:
    """A Langfuse observation object (by its distinctive keys)."""
    return obj.__class__ is dict and "traceId" in obj and "startTime" in obj


def is_page(obj: dict[str, Any]) -> bool:
    """A ``{"data": [...], "meta": {...}}`` page of Langfuse observations."""
    data = obj.get("data")
    if data.__class__ is list and data:
        return is_observation(data[0])
    meta = obj.get("meta")
    return meta.__class__ is dict and ("totalItems" in meta or "cursor" in meta or not meta)


def decode_page(obj: dict[str, Any], state: ReadState, location: Location) -> list[Span]:
    """The spans of one answer page (observations, then the roots of traces new to this read)."""
    data = data_array(obj, state, location, 'Langfuse\'s "data" to be an array of observations')
    return decode_observations(data, state, location)


def decode_observations(items: list[Any], state: ReadState, location: Location) -> list[Span]:
    """Observations as spans (and the trace roots made for them, see the module doc); one
    that cannot be read is counted ``malformed-span`` and skipped."""
    out: list[Span] = []
    where = state.where(location)
    for i, item in enumerate(items):
        read = _observation_or_none(item, i, state, where)
        if read is None:
            continue
        span, trace_name = read
        out.append(span)
        root = _place(span, trace_name, state)
        if root is not None:
            out.append(root)
    return out


def _observation_or_none(
    item: Any, index: int, state: ReadState, where: str
) -> tuple[Span, str | None] | None:
    try:
        return _observation(item, state, where)
    except CAUGHT as exc:
        state.diagnostics.warn("malformed-span", f"{where}: data[{index}]: {exc!r}")
        return None


def _place(span: Span, trace_name: str | None, state: ReadState) -> Span | None:
    """Hang `span` in its trace; return the trace's root if it had to be made now.

    The first top-level observation of a trace is its root. A second one means the trace
    (which the export does not hold) is their root: a span for it is made, and both go
    below it (the first one changed in place, wherever it already is). A made root widens
    to cover every later observation of its trace."""
    roots = state.langfuse_roots
    top = roots.get(span.trace_id)
    made = top is not None and top.span_id == _root_id(span.trace_id)
    if top is not None and made:
        _widen(top, span)
    if span.parent_id is not None:
        return None
    if top is None:
        roots[span.trace_id] = span
        return None
    if made:
        span.parent_id = top.span_id
        return None
    name = trace_name or TRACE_ROOT_NAME
    root = Span(
        trace_id=span.trace_id,
        span_id=_root_id(span.trace_id),
        parent_id=None,
        name=state.strings.setdefault(name, name),
        start_ns=top.start_ns,
        end_ns=top.end_ns if top.end_ns is not None else top.start_ns,
        attributes={TRACE_NAME: trace_name} if state.keep_attributes and trace_name else None,
    )
    _widen(root, span)
    top.parent_id = span.parent_id = root.span_id
    roots[span.trace_id] = root
    return root


def _root_id(trace_id: str) -> str:
    return hashlib.blake2b(f"trace {trace_id}".encode(), digest_size=8).hexdigest()


def _widen(root: Span, span: Span) -> None:
    start = span.start_ns
    end = span.end_ns if span.end_ns is not None else start
    if start is not None and (root.start_ns is None or start < root.start_ns):
        root.start_ns = start
    if end is not None and (root.end_ns is None or end > root.end_ns):
        root.end_ns = end


def _id(value: Any, width: int, state: ReadState, where: str) -> str:
    """An id as `width` lower-case hex digits: hex ids as they are, a UUID's digits for a
    trace id, any other string hashed (the same string always gives the same id)."""
    if value.__class__ is not str or not value:
        raise TypeError(f"id is {type_name(value)}, not a non-empty string")
    if len(value) == width and _HEX.fullmatch(value):
        return hex_id(value, width, state.diagnostics, where)
    digits = value.replace("-", "")
    if width == 32 and len(value) == 36 and len(digits) == 32 and _HEX.fullmatch(digits):
        return digits.lower()
    return hashlib.blake2b(value.encode(), digest_size=width // 2).hexdigest()


def _observation(o: Any, state: ReadState, where: str) -> tuple[Span, str | None]:
    if o.__class__ is not dict:
        raise TypeError(f"observation is {type_name(o)}, not an object")
    sid = _id(o["id"], 16, state, where)
    tid = _id(o["traceId"], 32, state, where)
    parent = o.get("parentObservationId")
    pid = _id(parent, 16, state, where) if parent is not None else None

    intern = state.strings.setdefault
    name = o.get("name")
    if name.__class__ is not str:
        if name is not None:
            raise TypeError(f"name is {type_name(name)}, not a string")
        state.diagnostics.warn("missing-name", f"{where}: observation {sid}")
        name = ""
    name = intern(name, name)

    kind = o.get("type")
    if kind is not None and kind.__class__ is not str:
        raise TypeError(f"type is {type_name(kind)}, not a string")
    start = time_or_none(o.get("startTime"))
    end = time_or_none(o.get("endTime"))
    if end is None and kind == "EVENT":
        end = start
    if start is None or end is None:
        state.diagnostics.warn("missing-timestamp", f"{where}: observation {sid} ({name})")

    attributes: dict[str, Any] = {}
    service = _metadata(o.get("metadata"), attributes)
    if kind is not None:
        attributes[OBSERVATION_TYPE] = kind.lower()
    level = o.get("level")
    fields = (
        (OBSERVATION_MODEL, o.get("model")),
        (OBSERVATION_LEVEL, level),
        (OBSERVATION_STATUS_MESSAGE, o.get("statusMessage")),
        (OBSERVATION_COMPLETION_START, o.get("completionStartTime")),
    )
    attributes.update((key, value) for key, value in fields if value is not None)
    usage = o.get("usageDetails")
    if usage.__class__ is dict:
        flatten(usage, OBSERVATION_USAGE, attributes)
    if o.get("isRootObservation") is True:
        attributes[APP_ROOT] = True
    trace_name = o.get("traceName")
    span = Span(
        trace_id=tid,
        span_id=sid,
        parent_id=pid,
        name=name,
        start_ns=start,
        end_ns=end,
        is_turn=name == semconv.TURN_SPAN_NAME,
        error=level == "ERROR",
        service=state.text(service),
        attributes=attributes if state.keep_attributes else None,
    )
    finish_span(span, state, attributes, attributes, None)  # completionStartTime: first chunk
    return span, trace_name if trace_name.__class__ is str and trace_name else None


def _metadata(metadata: Any, attributes: dict[str, Any]) -> Any:
    """Fill `attributes` from an observation's metadata; return its ``service.name``, if any."""
    if metadata.__class__ is str:  # some Langfuse answers send JSON fields as text
        try:
            metadata = orjson.loads(metadata)
        except orjson.JSONDecodeError:
            attributes[OBSERVATION_METADATA] = metadata
            return None
    if metadata.__class__ is not dict:
        if metadata is not None:
            attributes[OBSERVATION_METADATA] = metadata
        return None
    service = None
    for key, value in metadata.items():
        if key in ("attributes", "resourceAttributes") and value.__class__ is str:
            value = _json_or_text(value)
        if key == "attributes" and value.__class__ is dict:
            flatten(value, "", attributes)
        elif key == "resourceAttributes" and value.__class__ is dict:
            service = flatten(value).get(SERVICE_NAME)
        else:
            flatten(value, f"{OBSERVATION_METADATA}.{key}", attributes)
    return service


def _json_or_text(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text

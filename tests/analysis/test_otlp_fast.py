"""The msgspec fast path for canonical OTLP JSON lines (`readers.otlp_fast`) gives what the
tolerant reader (`readers.otlp`) gives, and declines every line it would read otherwise."""

from __future__ import annotations

import copy
import io
from typing import Any

import msgspec
import orjson
import pytest

from rag_otel.analysis.first_token import first_chunk_ns
from rag_otel.analysis.model import Diagnostics, Span
from rag_otel.analysis.readers import otlp
from rag_otel.analysis.readers.common import ReadState
from rag_otel.analysis.readers.otlp_fast import _Event, _own_first_chunk, decode_line
from rag_otel.analysis.readers.stream import read_stream

TID = "4bf92f3577b34da6a3ce929d0e0e4736"


def _attr(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "value": value}


def _s(key: str, text: str) -> dict[str, Any]:
    return _attr(key, {"stringValue": text})


def _spans() -> list[dict[str, Any]]:
    t = 1_700_000_000_000_000_000
    return [
        {
            "traceId": TID,
            "spanId": "00f067aa0ba902b7",
            "name": "rag.turn",
            "kind": 2,
            "startTimeUnixNano": str(t),
            "endTimeUnixNano": str(t + 900),
            "attributes": [_s("rag.turn.id", "t-1"), _s("gen_ai.operation.name", "chat")],
            "status": {},
        },
        {
            "traceId": TID,
            "spanId": "00f067aa0ba902b8",
            "parentSpanId": "00f067aa0ba902b7",
            "name": "rag.generate",
            "kind": 1,
            "startTimeUnixNano": str(t + 100),
            "endTimeUnixNano": str(t + 800),
            "attributes": [
                _s("rag.stage", "generate"),
                _s("rag.stage.kind", "generation"),
                _attr("gen_ai.response.time_to_first_chunk", {"doubleValue": 1e-7}),
                _attr("gen_ai.usage.output_tokens", {"intValue": "143"}),
            ],
            "events": [{"timeUnixNano": str(t + 250), "name": "rag.first_chunk"}],
            "status": {"code": 2, "message": "rate limited"},
        },
        {  # recognised by another convention (OpenInference), through `classify_span`
            "traceId": TID,
            "spanId": "00f067aa0ba902b9",
            "parentSpanId": "00f067aa0ba902b7",
            "name": "retrieve",
            "startTimeUnixNano": str(t + 10),
            "endTimeUnixNano": str(t + 90),
            "attributes": [_s("openinference.span.kind", "RETRIEVER")],
        },
        {  # nothing to recognise
            "traceId": TID,
            "spanId": "00f067aa0ba902ba",
            "parentSpanId": "00f067aa0ba902b9",
            "name": "HTTP GET",
            "kind": 3,
            "startTimeUnixNano": t + 20,
            "endTimeUnixNano": t + 30,
        },
    ]


def _line(spans: list[dict[str, Any]]) -> dict[str, Any]:
    resource = {"attributes": [_s("telemetry.sdk.name", "x"), _s("service.name", "faq-bot")]}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [{"spans": spans}]}]}


def _tolerant(doc: dict[str, Any]) -> tuple[list[Span], Diagnostics]:
    state = ReadState("t", Diagnostics())
    return otlp.decode_resource_spans(doc["resourceSpans"], state, 1), state.diagnostics


def test_a_canonical_line_reads_as_the_tolerant_reader_reads_it() -> None:
    doc = _line(_spans())
    fast = decode_line(orjson.dumps(doc), ReadState("t", Diagnostics()))
    slow, diagnostics = _tolerant(doc)
    assert fast == slow
    assert not diagnostics
    assert [s.stage for s in slow] == [None, "generate", "retrieve", None]
    assert slow[1].first_chunk_ns == 1_700_000_000_000_000_250
    assert slow[1].error
    assert slow[0].is_turn
    assert slow[0].turn_id == "t-1"


def test_attributes_met_again_are_recognised_as_the_first_time() -> None:
    state = ReadState("t", Diagnostics())
    data = orjson.dumps(_line(_spans()))
    first = decode_line(data, state)
    assert state.recognised  # the spans without events nor first-chunk attributes nor turn id
    again = decode_line(data, state)
    assert again == first == _tolerant(_line(_spans()))[0]


def _variant(edit: Any) -> dict[str, Any]:
    spans = _spans()
    edit(spans)
    return _line(spans)


def _set(i: int, key: str, value: Any) -> Any:
    return lambda spans: spans[i].__setitem__(key, value)


def _attrs(i: int, *attrs: dict[str, Any]) -> Any:
    return lambda spans: spans[i].__setitem__("attributes", list(attrs))


DECLINED = {
    "upper-case trace id": _set(0, "traceId", TID.upper()),
    "short span id": _set(1, "spanId", "f067aa0ba902b8"),
    "empty parent id": _set(0, "parentSpanId", ""),
    "base64 parent id": _set(1, "parentSpanId", "APBnqguqArc="),
    "zero start": _set(1, "startTimeUnixNano", "0"),
    "missing end": lambda spans: spans[1].pop("endTimeUnixNano"),
    "time out of range": _set(1, "endTimeUnixNano", str(2**64)),
    "float time": _set(1, "startTimeUnixNano", 1.7e18),
    "kind as a name": _set(1, "kind", "SPAN_KIND_CLIENT"),
    "kind out of range": _set(1, "kind", 9),
    "name not a string": _set(3, "name", 5),
    "snake_case span": lambda spans: spans.__setitem__(
        3, {("trace_id" if k == "traceId" else k): v for k, v in spans[3].items()}
    ),
    "status not an object": _set(0, "status", "ERROR"),
    "status an array": _set(0, "status", []),
    "status code an array": _set(1, "status", {"code": [2]}),
    "rag.stage without value": _attrs(1, {"key": "rag.stage"}),
    "turn id without value": _attrs(0, {"key": "rag.turn.id"}),
    "first chunk delay without value": _attrs(1, {"key": "gen_ai.response.time_to_first_chunk"}),
    "turn id not an object": _attrs(0, _attr("rag.turn.id", "t-1")),  # type: ignore[arg-type]
    "first chunk delay not an object": _attrs(
        1,
        _attr("gen_ai.response.time_to_first_chunk", 0.5),  # type: ignore[arg-type]
    ),
    "attributes not a list": _set(2, "attributes", {"key": "x"}),
    "time as a float string": _set(1, "startTimeUnixNano", "1.7e18"),
    "time as a decimal string": _set(1, "endTimeUnixNano", f"{1_700_000_000_000_000_800}.0"),
    "kind as a float": _set(1, "kind", 1.0),
    "kind as a digit string": _set(1, "kind", "1"),
    "upper-case span id": _set(1, "spanId", "00F067AA0BA902B8"),
    "upper-case parent id": _set(1, "parentSpanId", "00F067AA0BA902B7"),
    "non-ASCII span id": _set(3, "spanId", "00f067aa0ba902\u00e9a"),
}


@pytest.mark.parametrize("case", sorted(DECLINED))
def test_a_line_read_otherwise_is_declined_and_read_as_before(case: str) -> None:
    doc = _variant(DECLINED[case])
    assert decode_line(orjson.dumps(doc), ReadState("t", Diagnostics())) is None
    # through the stream, after a canonical first line: the tolerant reader's spans and warnings
    data = orjson.dumps(_line(_spans())) + b"\n" + orjson.dumps(doc) + b"\n"
    state = ReadState("t", Diagnostics())
    read = list(read_stream(io.BytesIO(data), None, state))
    first, _ = _tolerant(_line(_spans()))
    second, diagnostics = _tolerant(copy.deepcopy(doc))
    assert read == first + second
    assert state.diagnostics.counts == diagnostics.counts


ALIKE = {
    "rag.stage as an int": _attrs(1, _attr("rag.stage", {"intValue": "5"})),
    "rag.stage.kind unknown": _attrs(
        1, _s("rag.stage", "g"), _attr("rag.stage.kind", {"intValue": 3})
    ),
    "turn id as a double": _attrs(0, _attr("rag.turn.id", {"doubleValue": 2})),
    "operation after the stage": _attrs(1, _s("rag.stage", "g"), _s("rag.operation", "ingest")),
    "first chunk delay as an int": _attrs(
        1, _s("rag.stage", "g"), _attr("gen_ai.response.time_to_first_chunk", {"intValue": "1"})
    ),
    "output messages as an array": _attrs(
        1,
        _s("rag.stage", "g"),
        _attr("gen_ai.output.messages", {"arrayValue": {"values": [{"stringValue": "x"}]}}),
    ),
    "snake_case wrapper": _attrs(1, _attr("rag.stage", {"string_value": "g"})),
    "events empty": _set(1, "events", []),
    "events null": _set(1, "events", None),
    "parent null": _set(1, "parentSpanId", None),
    "status code as a name": _set(1, "status", {"code": "STATUS_CODE_ERROR"}),
    "status null": _set(1, "status", None),
    "status without a code": _set(1, "status", {"message": "slow"}),
    "status code null": _set(1, "status", {"code": None}),
    # attribute values are read by the tolerant reader's own functions, whatever they hold
    "rag.stage as null": _attrs(1, _attr("rag.stage", {"stringValue": None})),
    "rag.stage value null": _attrs(1, _attr("rag.stage", None)),  # type: ignore[arg-type]
    "two wrappers": _attrs(
        1,
        _s("rag.stage", "g"),
        _attr("gen_ai.response.time_to_first_chunk", {"stringValue": "1", "doubleValue": 1.0}),
    ),
    "empty wrapper": _attrs(2, _attr("openinference.span.kind", {})),
    "turn id twice": _attrs(0, _s("rag.turn.id", "a"), _s("rag.turn.id", "b")),
    "turn id null": _attrs(0, _attr("rag.turn.id", None)),  # type: ignore[arg-type]
    "turn id after a stage": _attrs(0, _s("rag.stage", "g"), _s("rag.turn.id", "t-2")),
    "turn id on a stage": _attrs(1, _s("rag.turn.id", "t-2"), _s("openinference.span.kind", "LLM")),
    "attribute key not a string": _attrs(2, {"key": 5, "value": {"stringValue": "x"}}),
    "unread attribute without value": _attrs(1, _s("rag.stage", "g"), {"key": "other"}),
    "unread attribute odd": _attrs(1, _s("rag.stage", "g"), _attr("x", [1])),  # type: ignore[arg-type]
    "service.name as an int": lambda spans: None,  # edited below
    "no resource": lambda spans: None,  # edited below
    "resource null": lambda spans: None,  # edited below
}


@pytest.mark.parametrize("case", sorted(ALIKE))
def test_other_canonical_lines_read_alike(case: str) -> None:
    doc = _variant(ALIKE[case])
    if case == "service.name as an int":
        doc["resourceSpans"][0]["resource"]["attributes"][-1]["value"] = {"intValue": "7"}
    if case == "no resource":
        del doc["resourceSpans"][0]["resource"]
    if case == "resource null":
        doc["resourceSpans"][0]["resource"] = None
    fast = decode_line(orjson.dumps(doc), ReadState("t", Diagnostics()))
    slow, diagnostics = _tolerant(doc)
    assert fast == slow
    assert not diagnostics


def test_the_spans_of_a_trace_share_its_id_and_siblings_their_parent_s() -> None:
    """A span held until its trace ends keeps no copy of the ids it shares (memory)."""
    spans = decode_line(orjson.dumps(_line(_spans())), ReadState("t", Diagnostics()))
    assert spans is not None
    assert len({id(s.trace_id) for s in spans}) == 1
    assert spans[1].parent_id is spans[2].parent_id == "00f067aa0ba902b7"
    assert spans[3].parent_id == "00f067aa0ba902b9"


def test_other_json_values_are_declined() -> None:
    state = ReadState("t", Diagnostics())
    for data in (b"", b"{", b'{"data": []}', b"[1]", b'{"resourceSpans": null}'):
        assert decode_line(data, state) is None


FIRST_CHUNK_CASES = [
    (None, [("rag.first_chunk", "1700000000000000250")]),
    (
        {"gen_ai.response.time_to_first_chunk": 0.5},
        [("rag.first_chunk", 1_700_000_000_000_000_250)],
    ),
    ({"gen_ai.response.finish_reasons": ["tool_calls"]}, [("rag.first_chunk", "17")]),
    ({"gen_ai.output.messages": "[]"}, [("rag.first_chunk", "17")]),
    (None, [("rag.first_chunk", " 17 ")]),
    (None, [("rag.first_chunk", "1e3")]),
    (None, [("rag.first_chunk", "0")]),
    (None, [("rag.first_chunk", str(2**63))]),
    (None, [("rag.first_chunk", 1.5)]),
    (None, [("rag.first_chunk", True)]),
    (None, [("rag.first_chunk", None)]),
    (None, [("rag.first_chunk", "5"), ("rag.first_chunk", "3")]),
    (None, [("First Token Stream Event", "5")]),
]


@pytest.mark.parametrize(("chunk", "listed"), FIRST_CHUNK_CASES)
def test_the_inline_first_chunk_is_first_token_s(chunk: Any, listed: Any) -> None:
    """`otlp_fast._own_first_chunk` copies one case of `first_token.first_chunk_ns`: where it
    answers, from the events as the fast reader decodes them, it answers as `first_chunk_ns`
    does from the events as written."""
    data = orjson.dumps([{"name": name, "timeUnixNano": time} for name, time in listed])
    try:
        events = msgspec.json.decode(data, type=list[_Event], strict=False)
    except msgspec.ValidationError:
        return  # such a line is declined
    at = _own_first_chunk(chunk, events)
    assert at is None or at == first_chunk_ns(1_700_000_000_000_000_000, chunk, listed)
    if (chunk, listed) == FIRST_CHUNK_CASES[0]:
        assert at == 1_700_000_000_000_000_250


def test_turns_and_streamed_stages_are_read_by_their_shape() -> None:
    """Spans whose attributes differ only in values recognition does not read (turn ids, token
    counts, first-chunk delays) are read as the tolerant reader reads them, line after line."""
    state = ReadState("t", Diagnostics())
    for n in range(12):
        spans = _spans()
        session = _s("session.id", f"s{n // 3}")
        spans[0]["attributes"] = [_s("rag.turn.id", f"t-{n}"), session]
        spans[1]["attributes"][2] = _attr(
            "gen_ai.response.time_to_first_chunk", {"doubleValue": 0.25 * n}
        )
        spans[1]["attributes"][3] = _attr("gen_ai.usage.output_tokens", {"intValue": str(n)})
        spans[1]["attributes"].append(_attr("gen_ai.usage.input_tokens", {"intValue": n % 5}))
        spans[1].pop("events")
        doc = _line(spans)
        assert decode_line(orjson.dumps(doc), state) == _tolerant(doc)[0]
    shapes = [v for k, v in state.recognised.items() if len(k) == 2 and any(v)]
    assert shapes  # read by their shapes, made more general as values differ
    assert all(len(v) <= 4 for v in shapes)

"""Trace readers: every real fixture file loads with its odd cases counted; every layout,
gzip, stdin and bad input (one-line InputError naming source and location)."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rag_otel.analysis.model import Diagnostics, InputError, Span
from rag_otel.analysis.readers import FORMATS, WARNINGS, read_many, read_spans

TRACES = Path(__file__).resolve().parents[1] / "fixtures" / "traces"
SDK_JSONL = TRACES / "python-sdk_otlp-json-file-exporter.jsonl"
UI_JSONL = TRACES / "jaeger-ui_otlp2jaeger-multi-in.jsonl"
UI_V1 = TRACES / "jaeger-ui_oltp2jaeger-multi-out.v1.json"


def read(source: Any, **kwargs: Any) -> tuple[list[Span], Diagnostics]:
    diagnostics = Diagnostics()
    spans = list(read_spans(source, diagnostics=diagnostics, **kwargs))
    return spans, diagnostics


def by_id(spans: list[Span]) -> dict[str, Span]:
    return {s.span_id: s for s in spans}


# --- every real file ------------------------------------------------------------------------

# file -> (spans, warning counts): the odd cases each one holds (see SOURCES.md)
EXPECTED: dict[str, tuple[int, dict[str, int]]] = {
    "otlp-proto_examples_trace.json": (1, {"upper-case-id": 3}),
    "jaeger-ui_otlp2jaeger-multi-in.jsonl": (4, {"empty-parent-id": 1}),
    "jaeger-ui_oltp2jaeger-multi-out.v1.json": (4, {}),
    "jaeger_otlp2jaeger-in.otlp.json": (2, {}),  # a duplicate: counted by the analysis
    "jaeger_otlp2jaeger-out.v1-api.json": (2, {}),
    "jaeger_anonymizer_trace_success.spans-array.json": (2, {"inline-process": 2}),
    "jaeger_apiv3_GetTrace.json": (1, {"missing-timestamp": 1}),
    "jaeger_apiv3_FindTraceSummaries.json": (0, {"trace-summaries": 1, "no-spans": 1}),
    "python-sdk_otlp-json-file-exporter.jsonl": (7, {}),
    "phoenix-20.26.1_rest-spans.json": (7, {}),
    "phoenix-20.26.1_rest-spans-otlpv1.json": (3, {}),
    "langfuse-5.0.4_observations-v2.json": (7 + 1, {}),  # + the root made for one trace
}


def test_every_fixture_file_is_covered() -> None:
    on_disk = {p.name for p in TRACES.iterdir() if p.suffix in (".json", ".jsonl")}
    assert on_disk == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_loads_with_odd_cases_counted(name: str) -> None:
    spans, diagnostics = read(TRACES / name)
    n, counts = EXPECTED[name]
    assert len(spans) == n
    assert dict(diagnostics.counts) == counts
    for s in spans:
        assert s.trace_id == s.trace_id.lower()
        assert len(s.trace_id) == 32
        assert s.span_id == s.span_id.lower()
        assert len(s.span_id) == 16
        assert s.parent_id is None or (
            s.parent_id == s.parent_id.lower() and len(s.parent_id) == 16
        )


def test_upper_case_ids_lower_cased() -> None:
    [span], _ = read(TRACES / "otlp-proto_examples_trace.json")
    assert span.trace_id == "5b8efff798038103d269b633813fc60c"
    assert span.span_id == "eee19b7ec3c1b174"
    assert span.parent_id == "eee19b7ec3c1b173"  # not in the file: the analysis counts orphans
    assert span.service == "my.service"
    assert span.kind == 2
    assert span.duration_ns == 1_000_000_000


def test_empty_string_parent_is_a_root() -> None:
    spans, _ = read(UI_JSONL)
    roots = [s for s in spans if s.parent_id is None]
    assert [s.name for s in roots] == ["main"]


def test_duplicates_and_missing_parents_are_counted_by_the_analysis() -> None:
    """Readers keep the data as it is; the analysis judges it per trace (traces.py)."""
    from rag_otel.analysis.traces import build_trace

    for name in ("jaeger_otlp2jaeger-in.otlp.json", "jaeger_otlp2jaeger-out.v1-api.json"):
        spans, diagnostics = read(TRACES / name)
        assert [s.span_id for s in spans] == ["e127af99e3b3e074"] * 2
        assert spans[0].parent_id == "909541b92cf05311"  # in no input: an orphan
        assert spans[0].duration_ns == 123_000
        build_trace(spans, diagnostics=diagnostics)
        assert diagnostics.counts["duplicate-span-id"] == 1
        assert diagnostics.counts["orphan-span"] == 1


def test_span_without_timestamps_kept_without_duration() -> None:
    [span], _ = read(TRACES / "jaeger_apiv3_GetTrace.json")
    assert (span.start_ns, span.end_ns, span.duration_ns) == (None, None, None)
    assert span.error is True  # status.code 2
    assert span.kind == 2
    assert span.service is None  # empty resource
    assert span.trace_id == "00000000000000000000000000000001"


def test_anonymizer_span_array_inline_processes_and_error_tag() -> None:
    spans, _ = read(TRACES / "jaeger_anonymizer_trace_success.spans-array.json")
    first, second = spans
    assert first.trace_id == "00000000000000002be38093ead7a083"  # 64-bit v1 id, OTLP width
    assert first.service == "16af988c443cff37"
    assert second.service == "3c220036602f839e"
    assert second.parent_id == first.span_id
    assert (first.kind, second.kind) == (2, 3)
    assert (first.error, second.error) == (False, True)
    assert first.start_ns == 1605223981761425 * 1000
    assert first.duration_ns == 267037 * 1000


def test_rag_otel_attributes() -> None:
    spans, _ = read(SDK_JSONL)
    turn = next(s for s in spans if s.is_turn)
    assert turn.name == "rag.turn"
    assert turn.parent_id is None
    assert turn.service == "rag-demo"
    stages = {s.stage: s for s in spans if s.stage}
    assert set(stages) == {"embed", "vector_search", "bm25", "fusion", "rerank", "llm.generate"}
    assert all(s.parent_id == turn.span_id for s in stages.values())
    assert [s.stage for s in spans if s.error] == ["rerank"]
    assert stages["embed"].duration_ns == 1795591355793837425 - 1795591355791743757
    assert all(s.attributes is None for s in spans)


def test_keep_attributes() -> None:
    spans, _ = read(SDK_JSONL, keep_attributes=True)
    embed = next(s for s in spans if s.stage == "embed")
    assert embed.attributes == {"rag.stage": "embed"}
    v1, _ = read(UI_V1, keep_attributes=True)
    assert v1[0].attributes is not None
    assert v1[0].attributes["otel.library.name"] == "ohboy"


def test_round_trip_otlp_jsonl_and_its_jaeger_v1_conversion() -> None:
    otlp_spans, _ = read(UI_JSONL)
    v1_spans, _ = read(UI_V1)
    a, b = by_id(otlp_spans), by_id(v1_spans)
    assert set(a) == set(b)
    assert len(a) == 4
    for sid, x in a.items():
        y = b[sid]
        assert (x.trace_id, x.parent_id, x.name, x.service, x.kind, x.error) == (
            y.trace_id,
            y.parent_id,
            y.name,
            y.service,
            y.kind,
            y.error,
        )
        assert x.start_ns == y.start_ns  # whole microseconds in this trace
        assert x.end_ns is not None
        assert y.end_ns is not None
        assert abs(x.end_ns - y.end_ns) < 1000  # v1 keeps microseconds


def test_v1_api_envelope_and_its_otlp_input_agree() -> None:
    a, _ = read(TRACES / "jaeger_otlp2jaeger-in.otlp.json")
    b, _ = read(TRACES / "jaeger_otlp2jaeger-out.v1-api.json")
    assert [
        (s.trace_id, s.span_id, s.parent_id, s.name, s.start_ns, s.end_ns, s.kind, s.service)
        for s in a
    ] == [
        (s.trace_id, s.span_id, s.parent_id, s.name, s.start_ns, s.end_ns, s.kind, s.service)
        for s in b
    ]


# --- layouts built from the fixtures --------------------------------------------------------


def _v1_trace(**span_overrides: Any) -> dict[str, Any]:
    trace: dict[str, Any] = json.loads(UI_V1.read_text())["data"][0]
    for s in trace["spans"]:
        s.update(span_overrides)
    return trace


def test_single_v1_trace_object(tmp_path: Path) -> None:
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(_v1_trace()))
    spans, diagnostics = read(path)
    assert by_id(spans).keys() == by_id(read(UI_V1)[0]).keys()
    assert not diagnostics


def test_follows_from_and_legacy_parent(tmp_path: Path) -> None:
    trace = _v1_trace()
    info = next(s for s in trace["spans"] if s["operationName"] == "info")
    info["references"][0]["refType"] = "FOLLOWS_FROM"
    main = next(s for s in trace["spans"] if s["operationName"] == "main")
    leaf = next(s for s in trace["spans"] if s["spanID"] == "26f5ef9dbb885479")
    leaf["references"] = []
    leaf["parentSpanID"] = info["spanID"]
    other = next(s for s in trace["spans"] if s["spanID"] == "e76628f4e6dde174")
    other["references"].insert(0, {"refType": "CHILD_OF", "traceID": "ab" * 16, "spanID": "cd" * 8})
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"data": [trace]}))
    spans, diagnostics = read(path)
    ids = by_id(spans)
    assert ids[info["spanID"]].parent_id == main["spanID"]
    assert ids[info["spanID"]].follows_from is True
    assert ids[leaf["spanID"]].parent_id == info["spanID"]
    assert not ids[leaf["spanID"]].follows_from
    assert ids[other["spanID"]].parent_id == info["spanID"]
    assert diagnostics.counts["follows-from"] == 1
    assert diagnostics.counts["cross-trace-reference"] == 1


def test_v1_status_and_kind_tags(tmp_path: Path) -> None:
    trace = _v1_trace()
    trace["spans"][0]["tags"].append(
        {"key": "otel.status_code", "type": "string", "value": "ERROR"}
    )
    trace["spans"][1]["tags"].append({"key": "rag.stage", "type": "string", "value": "rerank"})
    trace["spans"][1]["tags"].append({"key": "span.kind", "type": "string", "value": "client"})
    path = tmp_path / "t.json"
    path.write_text(json.dumps(trace))
    spans, _ = read(path)
    assert spans[0].error
    assert not spans[1].error
    assert spans[1].stage == "rerank"
    assert spans[1].kind == 3


def test_api_v3_result_as_json_lines(tmp_path: Path) -> None:
    """Older api_v3 gateways stream one {"result": ...} per line."""
    lines = [json.loads(line) for line in SDK_JSONL.read_text().splitlines()]
    path = tmp_path / "v3.jsonl"
    path.write_text("".join(json.dumps({"result": doc}) + "\n" for doc in lines))
    spans, _ = read(path)
    assert len(spans) == 7
    spans_forced, _ = read(path, format="jaeger-v3")
    assert spans_forced == spans


def test_snake_case_enum_names_and_base64_ids(tmp_path: Path) -> None:
    """What protobuf json_format writes with preserving_proto_field_name=True."""
    import base64

    doc = {
        "resource_spans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"string_value": "svc"}}]
                },
                "scope_spans": [
                    {
                        "spans": [
                            {
                                "trace_id": base64.b64encode(
                                    bytes.fromhex("0af7651916cd43dd8448eb211c80319c")
                                ).decode(),
                                "span_id": base64.b64encode(
                                    bytes.fromhex("b7ad6b7169203331")
                                ).decode(),
                                "name": "rag.turn",
                                "kind": "SPAN_KIND_SERVER",
                                "start_time_unix_nano": "100",
                                "end_time_unix_nano": "250",
                                "status": {"code": "STATUS_CODE_ERROR"},
                                "attributes": [
                                    {"key": "rag.turn.id", "value": {"int_value": "42"}},
                                    {
                                        "key": "n",
                                        "value": {
                                            "array_value": {"values": [{"bool_value": True}]}
                                        },
                                    },
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    path = tmp_path / "snake.json"
    path.write_text(json.dumps(doc, indent=2))
    [span], diagnostics = read(path, keep_attributes=True)
    assert span.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert span.span_id == "b7ad6b7169203331"
    assert (span.kind, span.error, span.is_turn, span.turn_id, span.service) == (
        2,
        True,
        True,
        "42",
        "svc",
    )
    assert span.duration_ns == 150
    assert span.attributes == {"rag.turn.id": 42, "n": [True]}
    assert diagnostics.counts["base64-id"] == 2


def test_attribute_value_types() -> None:
    from rag_otel.analysis.readers.otlp import any_value

    assert any_value({"stringValue": "a"}) == "a"
    assert any_value({"intValue": "42"}) == 42
    assert any_value({"doubleValue": 1.5}) == 1.5
    assert any_value({"boolValue": False}) is False
    assert any_value({"bytesValue": "AAE="}) == "AAE="
    assert any_value({"arrayValue": {"values": [{"intValue": "1"}, {"stringValue": "x"}]}}) == [
        1,
        "x",
    ]
    assert any_value({"kvlistValue": {"values": [{"key": "k", "value": {"doubleValue": 2}}]}}) == {
        "k": 2.0
    }
    assert any_value({}) is None


def _otlp_span(**fields: Any) -> str:
    span = {
        "traceId": "0af7651916cd43dd8448eb211c80319c",
        "spanId": "b7ad6b7169203331",
        "name": "s",
        "startTimeUnixNano": "2000",
        "endTimeUnixNano": "3000",
    }
    span.update(fields)
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]})


def test_odd_spans_counted(tmp_path: Path) -> None:
    lines = [
        _otlp_span(spanId="0000000000000001", endTimeUnixNano="1000"),  # negative: kept as is
        _otlp_span(spanId="0000000000000002", startTimeUnixNano="0"),  # start unset
        _otlp_span(spanId="0000000000000003", name=7),  # wrong type
        _otlp_span(spanId="0000000000000004", startTimeUnixNano="soon"),  # not a number
        _otlp_span(spanId="0000000000000005", kind=[1]),  # wrong type
        _otlp_span(spanId="0000000000000006", name=None),  # no name
        _otlp_span(spanId="00000000000007"),  # short id
        _otlp_span(spanId="not an id at all!"),  # neither hex nor base64
        "",  # blank line
        _otlp_span(spanId="0000000000000008"),
        _otlp_span(spanId="0000000000000009", kind=None, status={"code": 1}),  # null kind: 0
    ]
    path = tmp_path / "odd.jsonl"
    path.write_text("\n".join(lines) + "\n")
    spans, diagnostics = read(path)
    ids = by_id(spans)
    assert set(ids) == {
        "0000000000000001",
        "0000000000000002",
        "0000000000000006",
        "0000000000000007",
        "0000000000000008",
        "0000000000000009",
    }
    assert ids["0000000000000009"].kind == 0
    assert not ids["0000000000000009"].error
    assert ids["0000000000000001"].start_ns == 2000
    assert ids["0000000000000001"].duration_ns == -1000  # the analysis counts and skips it
    assert ids["0000000000000002"].start_ns is None
    assert ids["0000000000000002"].end_ns == 3000
    assert ids["0000000000000006"].name == ""
    assert dict(diagnostics.counts) == {
        "missing-timestamp": 1,
        "malformed-span": 4,
        "missing-name": 1,
        "short-id": 1,
    }
    assert any("line 3" in d for d in diagnostics.examples["malformed-span"])


def test_negative_and_missing_times_in_v1(tmp_path: Path) -> None:
    trace = _v1_trace()
    trace["spans"][0]["duration"] = -5
    del trace["spans"][1]["startTime"]
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"data": [trace]}))
    spans, diagnostics = read(path)
    assert spans[0].duration_ns == -5000  # kept as is: the analysis counts and skips it
    assert spans[1].start_ns is None
    assert spans[1].end_ns is None
    assert dict(diagnostics.counts) == {"missing-timestamp": 1}


# --- sources: gzip, stdin, open files, several inputs ---------------------------------------


def test_gzip_detected_by_magic_bytes(tmp_path: Path) -> None:
    for name in (
        "python-sdk_otlp-json-file-exporter.jsonl",
        "jaeger-ui_oltp2jaeger-multi-out.v1.json",
    ):
        path = tmp_path / (name + ".data")  # no .gz suffix: the content decides
        path.write_bytes(gzip.compress((TRACES / name).read_bytes()))
        assert read(path)[0] == read(TRACES / name)[0]


def test_open_binary_file_and_unseekable_stream() -> None:
    with SDK_JSONL.open("rb") as f:
        assert len(read(f)[0]) == 7

    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def readinto(self, b: Any) -> int:
            chunk = self.data.read(min(len(b), 100))
            b[: len(chunk)] = chunk
            return len(chunk)

    assert len(read(Pipe(gzip.compress(SDK_JSONL.read_bytes())))[0]) == 7
    caller_stream = io.BytesIO(UI_V1.read_bytes())
    assert len(read(caller_stream)[0]) == 4
    assert not caller_stream.closed  # the caller's stream is left open


def test_text_mode_file_is_read_through_its_buffer() -> None:
    with SDK_JSONL.open("r") as f:
        assert len(read(f)[0]) == 7


def test_stdin_dash() -> None:
    code = (
        "from rag_otel.analysis.model import Diagnostics\n"
        "from rag_otel.analysis.readers import read_spans\n"
        "d = Diagnostics()\n"
        "spans = list(read_spans('-', diagnostics=d))\n"
        "print(len(spans), sorted(s.name for s in spans if s.is_turn), dict(d.counts))\n"
    )
    data = gzip.compress(SDK_JSONL.read_bytes())
    out = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, check=True)
    assert out.stdout.decode().strip() == "7 ['rag.turn'] {}"


def test_read_many_chains_inputs() -> None:
    diagnostics = Diagnostics()
    spans = list(read_many([SDK_JSONL, UI_JSONL, str(SDK_JSONL)], diagnostics=diagnostics))
    assert [s.name for s in spans] == [s.name for s in read(SDK_JSONL)[0] + read(UI_JSONL)[0]] + [
        s.name for s in read(SDK_JSONL)[0]
    ]
    assert dict(diagnostics.counts) == {"empty-parent-id": 1}
    assert spans[0].name is spans[-7].name  # repeated strings kept once


def test_formats_forced() -> None:
    assert FORMATS == (
        "otlp",
        "otlp-jsonl",
        "jaeger",
        "jaeger-v3",
        "jaeger-live",
        "phoenix",
        "phoenix-live",
        "langfuse",
    )
    assert len(read(SDK_JSONL, format="otlp-jsonl")[0]) == 7
    assert len(read(TRACES / "otlp-proto_examples_trace.json", format="otlp")[0]) == 1
    assert len(read(UI_V1, format="jaeger")[0]) == 4
    assert len(read(TRACES / "jaeger_apiv3_GetTrace.json", format="jaeger-v3")[0]) == 1
    with pytest.raises(InputError, match=r"expected Jaeger v1 JSON"):
        read(SDK_JSONL, format="jaeger")
    with pytest.raises(
        InputError, match=r"line 1 \(byte 0\): expected one complete JSON object per line"
    ):
        read(TRACES / "otlp-proto_examples_trace.json", format="otlp-jsonl")
    with pytest.raises(InputError, match=r"expected OTLP JSON"):
        read(UI_V1, format="otlp")
    mixed = io.BytesIO(SDK_JSONL.read_bytes() + json.dumps(_v1_trace()).encode() + b"\n")
    with pytest.raises(
        InputError, match=r"line 8: expected one OTLP JSON .* per line, got an object"
    ):
        read(mixed, format="otlp-jsonl")
    assert len(read(io.BytesIO(mixed.getvalue()))[0]) == 7 + 4  # detected: any shape per line
    with pytest.raises(InputError, match=r"unknown input format 'zipkin'"):
        read(UI_V1, format="zipkin")
    with pytest.raises(InputError, match=r"expected an http\(s\):// URL"):
        read(UI_V1, format="jaeger-live")
    with pytest.raises(InputError, match=r"options service apply only to a live Jaeger URL"):
        read(UI_V1, service="faq-bot")


# --- bad input: one line, source, location, expectation --------------------------------------


def _error(tmp_path: Path, data: bytes, name: str = "bad.json", **kwargs: Any) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(InputError) as info:
        read(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(path) + ": ")
    return message


def test_truncated_document(tmp_path: Path) -> None:
    data = UI_V1.read_bytes()
    message = _error(tmp_path, data[:5000])
    line = data[:5000].count(b"\n") + 1
    assert f"line {line}, column" in message
    assert "byte 5000" in message
    assert "truncated" in message


def test_truncated_json_lines(tmp_path: Path) -> None:
    data = SDK_JSONL.read_bytes()
    lines = data.splitlines(keepends=True)
    cut = len(lines[0]) + len(lines[1]) + 100
    message = _error(tmp_path, data[:cut], "cut.jsonl")
    assert f"line 3 (byte {len(lines[0]) + len(lines[1])})" in message
    assert "expected one complete JSON value per line" in message


def test_truncated_gzip(tmp_path: Path) -> None:
    data = gzip.compress(SDK_JSONL.read_bytes())
    message = _error(tmp_path, data[: len(data) // 2], "cut.jsonl.gz")
    assert "expected a complete gzip stream" in message
    assert "line" in message


def test_not_json(tmp_path: Path) -> None:
    assert "line 3 (byte 2): expected JSON" in _error(tmp_path, b"\n\nservice,stage,ms\n")
    assert "expected JSON" in _error(tmp_path, b"\x0a\x10\x12\x0e\x0a\x0c")  # protobuf, not JSON


def test_empty_input(tmp_path: Path) -> None:
    assert "empty input" in _error(tmp_path, b"")
    assert "empty input" in _error(tmp_path, b"\n  \n")
    assert "empty input" in _error(tmp_path, gzip.compress(b""))


def test_valid_input_without_spans_is_counted_not_fatal(tmp_path: Path) -> None:
    for data in (b'{"resourceSpans": []}', b'{"data": []}', b"[]", b'{"result": {}}'):
        path = tmp_path / "none.json"
        path.write_bytes(data)
        spans, diagnostics = read(path)
        assert spans == []
        assert diagnostics.counts["no-spans"] == 1


def test_wrong_shapes(tmp_path: Path) -> None:
    assert "got an object with keys 'spans_here'" in _error(tmp_path, b'{"spans_here": []}')
    assert 'expected "resourceSpans" to be an array, got a string' in _error(
        tmp_path, b'{"resourceSpans": "x"}'
    )
    assert 'expected "data" to be an array' in _error(tmp_path, b'{"data": {"a": 1}}')
    assert "an array of a number" in _error(tmp_path, b"[1, 2]")
    assert "got a Jaeger error: No traces found" in _error(
        tmp_path, b'{"error":{"httpCode":404,"message":"No traces found"}}'
    )
    message = _error(tmp_path, SDK_JSONL.read_bytes() + b'{"hello": 1}\n', "x.jsonl")
    assert "line 8" in message
    assert "got an object with keys 'hello'" in message


def test_unreadable_sources(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"missing\.json: expected a readable file \(No such file"):
        read(tmp_path / "missing.json")
    with pytest.raises(InputError, match=r"expected a readable file"):
        read(tmp_path)


def test_byte_order_mark_tolerated(tmp_path: Path) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + UI_V1.read_bytes())
    assert len(read(path)[0]) == 4


def test_warning_codes_are_documented() -> None:
    """Every code the readers count has a sentence, a row in the module doc and in docs/."""
    import re

    import rag_otel.analysis.readers as readers

    src = Path(readers.__file__).parent
    used: set[str] = set()
    for path in src.glob("*.py"):
        text = path.read_text()
        used |= set(re.findall(r'warn\(\s*"([a-z0-9-]+)"', text))
    assert used == set(WARNINGS)
    docs = (Path(__file__).resolve().parents[2] / "docs" / "analysis-inputs.md").read_text()
    for code in WARNINGS:
        assert f"``{code}``" in (readers.__doc__ or "")
        assert f"| `{code}` |" in docs

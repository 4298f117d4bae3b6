"""Phoenix REST span exports and Langfuse observations exports, and format detection.

Phoenix files are answers of a real Phoenix 20.26.1 (tests/fixtures/traces/README.md);
Langfuse exports are written by the langfuse package's API models (tests/langfuse_export.py).
The live Phoenix source is tested against a real Phoenix in
tests/collector/test_phoenix_export.py; here, the failures a real Phoenix cannot be made
to produce (non-JSON answers, a cursor that repeats, a server that hangs) come from a small
HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from langfuse_export import (
    ROOT_ID,
    TRACE_OTEL,
    TRACE_V2,
    export_v1,
    export_v2,
    observations,
)
from netutil import free_port
from rag_otel.analysis.isotime import iso_ns
from rag_otel.analysis.model import Diagnostics, InputError, Span
from rag_otel.analysis.pipeline import analyze_sources
from rag_otel.analysis.readers import read_many, read_spans
from rag_otel.analysis.readers.flatten import flatten
from rag_otel.analysis.readers.phoenix_live import split_url
from rag_otel.analysis.renderers import render
from rag_otel.analysis.report import FIRST_TOKEN_ROW, analyze

TRACES = Path(__file__).resolve().parents[1] / "fixtures" / "traces"
PHOENIX = TRACES / "phoenix-20.26.1_rest-spans.json"
PHOENIX_OTLPV1 = TRACES / "phoenix-20.26.1_rest-spans-otlpv1.json"
LANGFUSE = TRACES / "langfuse-5.0.4_observations-v2.json"
STAGES = {"embed", "retrieve.vector", "retrieve.bm25", "fuse", "rerank", "generate"}


def read(
    data: bytes | Path, name: str = "input.json", **kwargs: Any
) -> tuple[list[Span], Diagnostics]:
    diagnostics = Diagnostics()
    if isinstance(data, Path):
        spans = list(read_spans(str(data), diagnostics=diagnostics, **kwargs))
    else:
        stream = io.BytesIO(data)
        stream.name = name
        spans = list(read_spans(stream, diagnostics=diagnostics, **kwargs))
    return spans, diagnostics


def error(data: bytes, name: str = "input.json", **kwargs: Any) -> str:
    with pytest.raises(InputError) as info:
        read(data, name, **kwargs)
    message = str(info.value)
    assert message.startswith(name + ": "), message
    assert "\n" not in message
    return message


# --- small parts ---------------------------------------------------------------------------------


def test_iso_timestamps_to_nanoseconds() -> None:
    base = iso_ns("2026-12-01T10:00:00Z")
    assert base == 1_796_119_200 * 10**9
    assert iso_ns("2026-12-01T10:00:00.123456+00:00") == base + 123_456_000
    assert iso_ns("2026-12-01T10:00:00.123456789Z") == base + 123_456_789  # nanoseconds kept
    assert iso_ns("2026-12-01T11:30:00.5+01:30") == base + 500_000_000
    assert iso_ns("2026-12-01 10:00:00") == base  # no offset: UTC
    for bad in ("2026-12-01", "yesterday", ""):
        with pytest.raises(ValueError, match="is not ISO-8601"):
            iso_ns(bad)
    with pytest.raises(ValueError, match="out of range"):
        iso_ns("2026-13-01T00:00:00Z")
    with pytest.raises(TypeError, match="not a string"):
        iso_ns(1796119200)


def test_flatten_nested_attributes() -> None:
    nested = {
        "llm": {
            "model_name": "gpt-4",
            "input_messages": [{"message": {"role": "user"}}, {"message": {"role": "system"}}],
        },
        "tag": {"tags": ["a", "b"]},
        "empty": {},
    }
    assert flatten(nested) == {
        "llm.model_name": "gpt-4",
        "llm.input_messages.0.message.role": "user",
        "llm.input_messages.1.message.role": "system",
        "tag.tags": ["a", "b"],
        "empty": {},
    }
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(10_000):  # hostile depth: bounded, no RecursionError
        node["k"] = {}
        node = node["k"]
    assert len(flatten(deep)) == 1


# --- Phoenix -------------------------------------------------------------------------------------


def test_phoenix_rest_export() -> None:
    spans, diagnostics = read(PHOENIX, keep_attributes=True)
    assert not diagnostics
    [turn] = [s for s in spans if s.is_turn]
    assert turn.parent_id is None
    assert turn.turn_id is not None
    assert {s.stage for s in spans if s.stage} == STAGES
    assert all(s.parent_id == turn.span_id for s in spans if s.stage)
    assert all(s.start_ns is not None and s.start_ns % 1000 == 0 for s in spans)  # µs, exact
    assert all(s.service is None and s.kind == 0 for s in spans)  # Phoenix keeps neither
    generate = next(s for s in spans if s.stage == "generate")
    assert generate.stage_kind == "generation"
    assert generate.attributes is not None
    # span_kind is back where OpenInference put it; UNKNOWN is Phoenix's "none"
    assert generate.attributes["openinference.span.kind"] == "LLM"
    assert turn.attributes is not None
    assert "openinference.span.kind" not in turn.attributes
    raw = json.loads(PHOENIX.read_bytes())["data"]
    [raw_turn] = [s for s in raw if s["name"] == "rag.turn"]
    assert turn.end_ns is not None
    assert turn.start_ns is not None
    assert turn.span_id == raw_turn["context"]["span_id"]


def _phoenix_span(i: int, events: Any, attributes: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": "ChatCompletion",
        "context": {"trace_id": "a" * 32, "span_id": f"{i:016x}"},
        "span_kind": "LLM",
        "parent_id": None,
        "start_time": "2026-12-01T10:00:00.000000+00:00",
        "end_time": "2026-12-01T10:00:01.000000+00:00",
        "status_code": "OK",
        "attributes": attributes or {},
        "events": events,
    }


def test_phoenix_span_events_give_the_first_chunk() -> None:
    """OpenInference's "First Token Stream Event" and rag-otel's own event, read from
    Phoenix's ``events``; the GenAI attribute too; odd events are skipped, never fatal."""
    t0 = iso_ns("2026-12-01T10:00:00Z")
    first = {"name": "First Token Stream Event", "timestamp": "2026-12-01T10:00:00.25Z"}
    own = {"name": "rag.first_chunk", "timestamp": "2026-12-01T10:00:00.5+00:00"}
    spans = [
        _phoenix_span(1, [first, {"name": "other", "timestamp": "2026-12-01T10:00:00.1Z"}]),
        _phoenix_span(2, [first, own]),  # rag-otel's own event wins
        _phoenix_span(3, [], {"gen_ai": {"response": {"time_to_first_chunk": 0.125}}}),
        _phoenix_span(4, [{"name": "First Token Stream Event", "timestamp": "soon"}, 7, {}]),
        _phoenix_span(5, {"not": "a list"}),
        _phoenix_span(6, None),
    ]
    got, diagnostics = read(json.dumps({"data": spans, "next_cursor": None}).encode())
    assert not diagnostics
    assert {int(s.span_id, 16): s.first_chunk_ns for s in got} == {
        1: t0 + 250_000_000,
        2: t0 + 500_000_000,
        3: t0 + 125_000_000,
        4: None,
        5: None,
        6: None,
    }


def test_phoenix_otlpv1_answer() -> None:
    spans, diagnostics = read(PHOENIX_OTLPV1, keep_attributes=True)
    assert not diagnostics
    assert len(spans) == 3
    assert all(len(s.trace_id) == 32 and len(s.span_id) == 16 for s in spans)
    by_name = {s.name: s for s in spans}
    assert by_name["rag.turn"].parent_id is None
    assert by_name["rag.turn"].attributes == {
        k: v
        for k, v in by_name["rag.turn"].attributes.items()  # type: ignore[union-attr]
        if v is not None
    }


def test_phoenix_layouts_bare_array_json_lines_nested_attributes_and_status() -> None:
    page = json.loads(PHOENIX.read_bytes())
    spans, _ = read(PHOENIX)
    array_spans, _ = read(json.dumps(page["data"]).encode())
    assert array_spans == spans
    lines = b"".join(json.dumps(s).encode() + b"\n" for s in page["data"])
    assert read(lines, "spans.jsonl")[0] == spans
    one = next(dict(s) for s in page["data"] if s["name"] != "rag.turn")
    one["attributes"] = {"rag": {"stage": "embed", "stage.kind": "embedding"}, "x": [{"y": 1}]}
    one["status_code"] = "ERROR"
    [span], _ = read(
        json.dumps({"data": [one], "next_cursor": None}).encode(), keep_attributes=True
    )
    assert span.stage == "embed"
    assert span.stage_kind == "embedding"
    assert span.attributes is not None
    assert span.attributes["x.0.y"] == 1
    assert span.error is True


def test_phoenix_odd_spans_counted_not_fatal() -> None:
    page = json.loads(PHOENIX.read_bytes())
    good = page["data"][0]
    bad = [
        {**good, "context": None},
        {**good, "start_time": "yesterday"},
        {**good, "attributes": [1, 2]},
        {**good, "name": 7},
        "not a span",
    ]
    spans, diagnostics = read(json.dumps({"data": [good, *bad], "next_cursor": None}).encode())
    assert len(spans) == 1
    assert diagnostics.counts["malformed-span"] == len(bad)
    missing = {**good, "end_time": None, "name": None}
    [span], diagnostics = read(json.dumps({"data": [missing], "next_cursor": None}).encode())
    assert span.end_ns is None
    assert span.name == ""
    assert dict(diagnostics.counts) == {"missing-timestamp": 1, "missing-name": 1}


# --- Langfuse ------------------------------------------------------------------------------------


def _by_name(spans: list[Span]) -> dict[str, Span]:
    return {s.name: s for s in spans}


def test_langfuse_observations_export() -> None:
    spans, diagnostics = read(export_v2().encode(), keep_attributes=True)
    assert not diagnostics
    assert len(spans) == len(observations()) + 1  # + the root made for the v2 trace
    named = _by_name(spans)
    # one top-level observation: the trace's root, as over OTLP
    pipeline = named["rag-pipeline"]
    assert pipeline.trace_id == TRACE_OTEL
    assert pipeline.parent_id is None
    assert pipeline.attributes is not None
    assert pipeline.attributes["langfuse.internal.is_app_root"] is True  # isRootObservation
    for name in ("embed", "retrieve", "cache-miss", "generate"):
        assert named[name].parent_id == ROOT_ID
    assert named["embed"].duration_ns == 79_000_000
    assert named["cache-miss"].duration_ns == 0  # an EVENT is a point in time
    assert named["embed"].service == "faq-bot"  # metadata.resourceAttributes
    attributes = named["generate"].attributes
    assert attributes is not None
    assert attributes["langfuse.observation.type"] == "generation"
    assert attributes["langfuse.observation.model.name"] == "gpt-4o-mini"
    assert attributes["langfuse.observation.completion_start_time"].startswith(
        "2026-12-01T10:00:00.42"
    )
    assert attributes["langfuse.observation.usage_details.input"] == 812
    embed = named["embed"].attributes
    assert embed is not None
    assert embed["gen_ai.operation.name"] == "embeddings"
    retrieve = named["retrieve"].attributes
    assert retrieve is not None
    assert retrieve["langfuse.observation.metadata.filters.lang"] == "en"
    # an older SDK's trace: UUID ids, a free-form trace id, two top-level observations:
    # the trace is their root (no traceName in the export: named langfuse.trace)
    v2_root = named["langfuse.trace"]
    assert v2_root.parent_id is None
    assert named["retrieval"].parent_id == v2_root.span_id
    assert named["llm"].parent_id == v2_root.span_id
    assert (v2_root.start_ns, v2_root.end_ns) == (named["retrieval"].start_ns, named["llm"].end_ns)
    assert named["llm"].error is True
    assert len({s.trace_id for s in spans}) == 2
    for s in spans:
        assert len(s.trace_id) == 32
        assert len(s.span_id) == 16
    assert v2_root.trace_id != TRACE_V2
    assert named["llm"].trace_id == v2_root.trace_id
    assert LANGFUSE.read_text() == export_v2() + "\n"  # the committed fixture is the models' output


def _shape(spans: list[Span]) -> list[tuple[str, str | None, int | None, int | None]]:
    return sorted((s.span_id, s.parent_id, s.start_ns, s.end_ns) for s in spans)


def test_langfuse_v1_envelope_and_pages_as_json_lines() -> None:
    spans, _ = read(export_v2().encode())
    assert read(export_v1().encode())[0] == spans
    items = observations()
    # split between the v2 trace's two top-level observations: the root made on the second
    # page covers both, the first re-hung below it
    for cut in (2, 6):
        pages = [
            export_v1(items[:cut], page=1, pages=2),
            export_v1(items[cut:], page=2, pages=2),
        ]
        paged, diagnostics = read(("\n".join(pages) + "\n").encode(), "pages.jsonl")
        assert not diagnostics
        assert _shape(paged) == _shape(spans)
        # and over two files of one read
        one, two = (io.BytesIO(p.encode()) for p in pages)
        assert _shape(list(read_many([one, two], diagnostics=Diagnostics()))) == _shape(spans)


def test_langfuse_trace_with_several_top_level_observations_is_one_turn() -> None:
    v2 = [o for o in observations() if o.trace_id == TRACE_V2]
    spans, diagnostics = read(export_v2(v2).encode())
    report = analyze(spans, diagnostics=diagnostics)
    assert report.turn.count == 1
    assert report.turn.p50_ms == 900.0
    stages = {s.name: (s.kind, s.source, s.count, s.errors) for s in report.stages}
    assert stages == {
        "retrieval": ("other", "langfuse", 1, 0),  # a SPAN
        "llm": ("generation", "langfuse", 1, 1),
    }
    assert report.verdict.stage == "llm"


PEERS = TRACES.parent / "peers"


def _stage_table(path: Path) -> tuple[Any, dict[str, Any]]:
    report = analyze_sources([str(path)], workers=1)
    stages = {s.name: s for s in report.stages}
    return report, stages


@pytest.mark.parametrize(
    ("truth_file", "source"),
    [
        ("phoenix-spans.truth.json", "openinference"),
        ("langfuse-observations-v2.truth.json", "langfuse"),
        ("langfuse-observations-v1.truth.json", "langfuse"),
    ],
)
def test_peer_exports_against_their_ground_truth(truth_file: str, source: str) -> None:
    """The real Phoenix's export and the Langfuse API models' observations: the turns,
    stages, kinds and verdict the fixtures' ground truth names, with default flags."""
    truth = json.loads((PEERS / truth_file).read_text())
    report, stages = _stage_table(PEERS / truth["fixture"])
    assert report.turn.count == truth["turns"]
    assert report.turn.source == source
    for expected in truth["stages"]:
        stage = stages[expected["name"]]
        assert stage.kind == (expected["kind_from_attributes"] or "other"), expected["name"]
        assert stage.source == source
        assert stage.count == truth["turns"]
    assert truth["turn"]["span_name"] not in stages
    assert report.verdict.stage == truth["slowest_stage"]
    # the time to first token: OpenInference's "First Token Stream Event" (Phoenix's span
    # events) or Langfuse's completionStartTime, per turn as measured when it was made
    assert truth["first_token"]["recorded"]
    measured = sorted(truth["measured_turn_to_first_token_ms"])
    ft = report.first_token
    assert ft is not None
    assert (ft.count, ft.turns, ft.timed) == (truth["turns"], truth["turns"], len(measured))
    got = sorted(ns / 1e6 for ns in report.samples[FIRST_TOKEN_ROW])
    assert got == pytest.approx(measured, abs=0.0011)  # both kept to the microsecond
    assert got[0] >= truth["min_turn_to_first_token_ms"]
    assert report.verdict.first_token_stage == truth["slowest_stage_for_first_token"]


@pytest.mark.parametrize(
    ("export", "otlp"),
    [
        ("phoenix-spans.json", "phoenix-sent.otlp.jsonl"),
        ("langfuse-observations-v2.json", "langfuse.otlp.jsonl"),
        ("langfuse-observations-v1.json", "langfuse.otlp.jsonl"),
    ],
)
def test_peer_exports_give_the_report_of_the_spans_they_hold(export: str, otlp: str) -> None:
    """The real Phoenix's export, and the observations the Langfuse API models write, of the
    spans the OTLP file holds (tests/fixtures/peers): the same stages, kinds, sources,
    counts and verdict; percentiles equal to the microsecond (what both APIs keep)."""
    got, got_stages = _stage_table(PEERS / export)
    want, want_stages = _stage_table(PEERS / otlp)
    assert got_stages.keys() == want_stages.keys()
    assert got_stages
    for name, stage in got_stages.items():
        expected = want_stages[name]
        assert (stage.kind, stage.source, stage.count, stage.timed, stage.errors) == (
            expected.kind,
            expected.source,
            expected.count,
            expected.timed,
            expected.errors,
        ), name
        for field in ("p50_ms", "p95_ms", "max_ms"):
            assert getattr(stage, field) == pytest.approx(getattr(expected, field), abs=0.002)
    assert (got.turn.count, got.turn.source) == (want.turn.count, want.turn.source)
    assert got.verdict.stage == want.verdict.stage
    assert dict(got.diagnostics.counts) == dict(want.diagnostics.counts)
    # the time to first token row, its critical-path shares and verdict: the same
    got_ft, want_ft = got.first_token, want.first_token
    assert got_ft is not None
    assert want_ft is not None
    assert want_ft.timed == want_ft.turns > 0  # every turn streamed: a real comparison
    assert (got_ft.count, got_ft.turns, got_ft.timed, got_ft.errors) == (
        want_ft.count,
        want_ft.turns,
        want_ft.timed,
        want_ft.errors,
    )
    for field in ("mean_ms", "p50_ms", "p95_ms", "max_ms"):
        assert getattr(got_ft, field) == pytest.approx(getattr(want_ft, field), abs=0.002)
    got_fa, want_fa = got.first_token_attribution, want.first_token_attribution
    assert got_fa is not None
    assert want_fa is not None
    assert got_fa.overall.stages.keys() == want_fa.overall.stages.keys()
    for name, share in got_fa.overall.stages.items():
        assert share == pytest.approx(want_fa.overall.stages[name], abs=1e-4), name
    assert got.verdict.first_token_stage == want.verdict.first_token_stage
    assert got.verdict.lines == want.verdict.lines
    row = [line for line in render(got, "markdown").splitlines() if FIRST_TOKEN_ROW in line]
    assert row == [
        line for line in render(want, "markdown").splitlines() if FIRST_TOKEN_ROW in line
    ]
    assert row


def test_langfuse_odd_observations_counted_not_fatal() -> None:
    good = json.loads(export_v2())["data"][1]
    bad = [
        {**good, "id": None},
        {**good, "startTime": 12},
        {**good, "endTime": "soon"},
        {**good, "type": ["SPAN"]},
        [],
    ]
    spans, diagnostics = read(json.dumps({"data": [good, *bad], "meta": {}}).encode())
    assert len(spans) == 1
    assert diagnostics.counts["malformed-span"] == len(bad)
    no_end = {**good, "endTime": None, "metadata": "not json"}
    [span], diagnostics = read(
        json.dumps({"data": [no_end], "meta": {}}).encode(), keep_attributes=True
    )
    assert span.end_ns is None
    assert span.attributes is not None
    assert span.attributes["langfuse.observation.metadata"] == "not json"
    assert dict(diagnostics.counts) == {"missing-timestamp": 1}


# --- detection: never the wrong format ------------------------------------------------------------


def test_each_format_detected_by_its_own_keys() -> None:
    phoenix_page = PHOENIX.read_bytes()
    assert len(read(phoenix_page)[0]) == 7
    assert len(read(LANGFUSE.read_bytes())[0]) == 8
    for empty in (b'{"data": [], "next_cursor": null}', b'{"data": [], "meta": {}}'):
        spans, diagnostics = read(empty)
        assert spans == []
        assert diagnostics.counts["no-spans"] == 1


def test_misdetection_messages() -> None:
    # the report: Phoenix refused with Jaeger's words. A broken Phoenix page now
    # speaks of Phoenix's data, a Jaeger trace with null spans of that trace's spans
    message = error(b'{"data": {"x": 1}, "next_cursor": null}')
    assert 'Phoenix\'s "data" to be an array of spans' in message
    message = error(b'{"data": "x", "meta": {"page": 1, "totalItems": 0}}')
    assert 'Langfuse\'s "data" to be an array of observations' in message
    message = error(b'{"data": [{"traceID": "ab", "spans": null}]}')
    assert "expected a Jaeger trace's data[0].spans to be an array of spans, got null" in message
    message = error(b'{"data": [{"id": 1, "value": 2}], "total": 1}')
    assert "expected data[0] to be a Jaeger trace" in message
    assert "Phoenix span" in message
    assert "Langfuse observation" in message
    assert "got an object with keys 'id', 'value'" in message
    # anything else: what was seen and every supported format
    for obj in ({"hello": 1}, {"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}, {}):
        message = error(json.dumps(obj).encode())
        for name in ("OTLP JSON", "Jaeger v1", "Jaeger api_v3", "Phoenix REST spans", "Langfuse"):
            assert name in message, message
    assert "got an object with keys 'a', 'b', 'c', 'd', ..." in error(
        json.dumps({"a": 1, "b": 2, "c": 3, "d": 4, "e": 5}).encode()
    )
    assert "got an empty object" in error(b"{}")
    assert "got an array of an object with keys 'x'" in error(b'[{"x": 1}]')
    assert "got '\"spans\"'" in error(b'"spans"')  # not JSON we read: its first bytes


def test_forced_formats_refuse_the_others() -> None:
    phoenix_page = PHOENIX.read_bytes()
    langfuse_page = LANGFUSE.read_bytes()
    assert len(read(phoenix_page, format="phoenix")[0]) == 7
    assert len(read(langfuse_page, format="langfuse")[0]) == 8
    assert "expected Phoenix REST spans" in error(b'{"resourceSpans": []}', format="phoenix")
    assert 'Langfuse\'s "data" to be an array' in error(b'{"data": 1}', format="langfuse")
    assert "malformed" not in error(langfuse_page, format="otlp")
    _, diagnostics = read(langfuse_page, format="phoenix")  # read as Phoenix: nothing fits
    assert diagnostics.counts["malformed-span"] == 7


def test_random_json_never_misnamed() -> None:
    """Random JSON objects: spans, or an error that is one line naming the source."""
    import random

    rng = random.Random(13)
    keys = ["data", "meta", "next_cursor", "context", "traceId", "startTime", "spans", "result"]
    values: list[Any] = [None, 1, "x", [], {}, [{}], [{"context": {}}], [{"traceId": "a"}]]
    outcomes = set()
    for _ in range(500):
        obj = {rng.choice(keys): rng.choice(values) for _ in range(rng.randint(0, 4))}
        outcomes.add(_spans_or_message(json.dumps(obj).encode()))
    assert "spans" in outcomes
    assert "message" in outcomes


def _spans_or_message(data: bytes) -> str:
    try:
        read(data)
    except InputError as exc:
        message = str(exc)
        assert message.startswith("input.json: ")
        assert "\n" not in message
        return "message"
    return "spans"


# --- live Phoenix: URL form and failures -------------------------------------------------------------


def test_phoenix_url_form() -> None:
    assert split_url("phoenix+http://127.0.0.1:6006/my-project") == (
        "http://127.0.0.1:6006",
        "my-project",
    )
    assert split_url("phoenix+https://h/phoenix/my%20project/") == (
        "https://h/phoenix",
        "my project",
    )
    assert split_url("phoenix+http://127.0.0.1:6006") == ("http://127.0.0.1:6006", None)
    assert split_url("http://127.0.0.1:6006/p") == ("http://127.0.0.1:6006", "p")


class FakePhoenix(BaseHTTPRequestHandler):
    """Answers /v1/projects/{project}/spans per the class attribute `mode`."""

    mode = "pages"
    page = json.loads(PHOENIX.read_bytes())
    cut = 0
    """Mode "truncated": the page's first `cut` bytes."""

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the reader gave up first (the timeout test)

    def do_GET(self) -> None:
        if self.path.startswith("/v1/projects?") or self.path == "/v1/projects":
            self._send(
                200, b'{"data": [{"name": "demo", "id": "UHJvamVjdDox"}], "next_cursor": null}'
            )
            return
        if not self.path.startswith("/v1/projects/demo/spans"):
            self._send(404, b"Project with name x not found", "text/plain")
            return
        mode = type(self).mode
        if mode == "html":
            self._send(200, b"<html>login</html>", "text/html")
        elif mode == "cursor-loop":
            self._send(
                200, json.dumps({"data": self.page["data"][:1], "next_cursor": "c1"}).encode()
            )
        elif mode == "hang":
            time.sleep(3)
            self._send(200, b"{}")
        elif mode == "truncated":
            self._send(200, PHOENIX.read_bytes()[: type(self).cut])
        elif mode == "auth":
            self._send(401, b'{"detail": "Invalid token"}')
        elif mode == "other-json":
            self._send(200, b'{"result": []}')
        else:  # pages: one span per page, cursors "1", "2", ...
            from urllib.parse import parse_qs, urlsplit

            query = parse_qs(urlsplit(self.path).query)
            index = int(query.get("cursor", ["0"])[0])
            data = self.page["data"]
            following = str(index + 1) if index + 1 < len(data) else None
            self._send(200, json.dumps({"data": [data[index]], "next_cursor": following}).encode())


@pytest.fixture
def fake_phoenix() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakePhoenix)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"phoenix+http://127.0.0.1:{server.server_address[1]}"
    finally:
        FakePhoenix.mode = "pages"
        server.shutdown()
        server.server_close()


def _live_error(url: str, **options: Any) -> str:
    with pytest.raises(InputError) as info:
        list(read_spans(url, diagnostics=Diagnostics(), **options))
    message = str(info.value)
    assert "\n" not in message
    return message


def test_live_phoenix_pages_through_cursors(fake_phoenix: str) -> None:
    spans, _ = read(PHOENIX)
    diagnostics = Diagnostics()
    live = list(read_spans(fake_phoenix + "/demo", diagnostics=diagnostics))
    assert live == spans  # seven pages of one span
    assert not diagnostics


def test_live_phoenix_failures(fake_phoenix: str) -> None:
    base = fake_phoenix.removeprefix("phoenix+")
    assert "expected a project: phoenix+" in _live_error(fake_phoenix)
    assert "projects here: demo" in _live_error(fake_phoenix)
    message = _live_error(fake_phoenix + "/nope")
    assert message.startswith(base + ": expected project 'nope' on this Phoenix (HTTP 404")
    assert "projects here: demo" in message
    FakePhoenix.mode = "html"
    assert "expected JSON from Phoenix, got '<html>login</html>'" in _live_error(
        fake_phoenix + "/demo"
    )
    FakePhoenix.mode = "other-json"
    assert 'expected a Phoenix spans page {"data": [...]' in _live_error(fake_phoenix + "/demo")
    FakePhoenix.mode = "cursor-loop"
    assert "expected a new next_cursor" in _live_error(fake_phoenix + "/demo")
    FakePhoenix.mode = "auth"
    assert "PHOENIX_API_KEY" in _live_error(fake_phoenix + "/demo")
    FakePhoenix.mode = "hang"
    started = time.monotonic()
    assert "expected a Phoenix answer within 0.5 s" in _live_error(
        fake_phoenix + "/demo", timeout=0.5
    )
    assert time.monotonic() - started < 2.5
    FakePhoenix.mode = "pages"
    assert "options service apply only to a live Jaeger URL" in _live_error(
        fake_phoenix + "/demo", service="x"
    )
    assert "option since: expected a duration" in _live_error(fake_phoenix + "/demo", since="soon")


def test_live_phoenix_truncated_answers(fake_phoenix: str) -> None:
    FakePhoenix.mode = "truncated"
    size = len(PHOENIX.read_bytes())
    for cut in range(0, size, 41):
        FakePhoenix.cut = cut
        assert "expected JSON from Phoenix" in _live_error(fake_phoenix + "/demo")


def test_live_phoenix_refused_connection() -> None:
    port = free_port()
    message = _live_error(f"phoenix+http://127.0.0.1:{port}/demo")
    assert message.startswith(f"http://127.0.0.1:{port}: expected a reachable Phoenix server (")
    assert "refused" in message.lower()

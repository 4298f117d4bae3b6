"""Live Jaeger reader against a real HTTP server on 127.0.0.1 that answers like Jaeger's
query service: api_v3 ``/api/v3/traces`` (OTLP JSON in ``{"result": ...}``, HTTP 404
``No traces found``, 400 for missing times), ``/api/v3/services``, and the legacy v1
``/api/traces`` search. Its traces are the fixture file
``python-sdk_otlp-json-file-exporter.jsonl`` (one rag-otel turn) repeated with new ids
and times; its v1 answers have the layout of the fixture ``jaeger_otlp2jaeger-out.v1-api.json``.
"""

from __future__ import annotations

import copy
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from netutil import free_port
from rag_otel.analysis.isotime import parse_duration_ns, rfc3339
from rag_otel.analysis.model import Diagnostics, InputError, Span
from rag_otel.analysis.readers import read_many, read_spans

TRACES = Path(__file__).resolve().parents[1] / "fixtures" / "traces"
SDK_JSONL = TRACES / "python-sdk_otlp-json-file-exporter.jsonl"
SERVICE = "rag-demo"
SECOND = 1_000_000_000


def _turn_template() -> tuple[list[dict[str, Any]], int]:
    """The fixture's 7 resourceSpans and the turn's start time."""
    docs = [json.loads(line)["resourceSpans"][0] for line in SDK_JSONL.read_text().splitlines()]
    start = min(int(d["scopeSpans"][0]["spans"][0]["startTimeUnixNano"]) for d in docs)
    return docs, start


class Trace:
    def __init__(self, index: int, start_ns: int) -> None:
        docs, t0 = _turn_template()
        self.trace_id = f"{index + 1:032x}"
        self.start_ns = start_ns
        self.resource_spans = copy.deepcopy(docs)
        for rs in self.resource_spans:
            span = rs["scopeSpans"][0]["spans"][0]
            span["traceId"] = self.trace_id
            for key in ("startTimeUnixNano", "endTimeUnixNano"):
                span[key] = str(int(span[key]) - t0 + start_ns)

    def v1(self) -> dict[str, Any]:
        """This trace as Jaeger's v1 API writes it (the out.v1-api fixture's layout)."""
        spans = []
        for rs in self.resource_spans:
            s = rs["scopeSpans"][0]["spans"][0]
            start_us = int(s["startTimeUnixNano"]) // 1000
            tags = [
                {"key": a["key"], "type": "string", "value": a["value"]["stringValue"]}
                for a in s.get("attributes", [])
            ]
            if s.get("status", {}).get("code") == 2:
                tags.append({"key": "error", "type": "bool", "value": True})
            tags.append(
                {
                    "key": "span.kind",
                    "type": "string",
                    "value": "server" if s["kind"] == 2 else "internal",
                }
            )
            spans.append(
                {
                    "traceID": s["traceId"],
                    "spanID": s["spanId"],
                    "operationName": s["name"],
                    "references": (
                        [
                            {
                                "refType": "CHILD_OF",
                                "traceID": s["traceId"],
                                "spanID": s["parentSpanId"],
                            }
                        ]
                        if s.get("parentSpanId")
                        else []
                    ),
                    "startTime": start_us,
                    "duration": int(s["endTimeUnixNano"]) // 1000 - start_us,
                    "tags": tags,
                    "logs": [],
                    "processID": "p1",
                    "warnings": None,
                }
            )
        return {
            "traceID": self.trace_id,
            "spans": spans,
            "processes": {"p1": {"serviceName": SERVICE, "tags": []}},
            "warnings": None,
        }


def parse_rfc3339_ns(text: str) -> int:
    """Go's RFC3339Nano, as Jaeger parses query.start_time_min/max."""
    main, _, frac = text.rstrip("Z").partition(".")
    whole = datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return int(whole.timestamp()) * SECOND + int((frac or "0").ljust(9, "0")[:9])


# api_v3 FindTraces parameters as Jaeger resolves them: the canonical camelCase name
# (2.19+), then the snake_case aliases every v2 release reads (paramResolver in
# jaegerquery/internal/apiv3).
V3_PARAMS = {
    "service": ("query.serviceName", "query.service_name"),
    "operation": ("query.operationName", "query.operation_name"),
    "min": ("query.startTimeMin", "query.start_time_min"),
    "max": ("query.startTimeMax", "query.start_time_max"),
    "depth": ("query.searchDepth", "query.num_traces", "query.search_depth"),
}


class FakeJaeger:
    """Serves `traces` over real HTTP. `api` is "v3" (v2 servers: both APIs) or "v1" (old
    servers: no api_v3). `names` is which api_v3 parameter names it reads: "both" (2.19
    and later), "snake" (2.0 to 2.18), "camel" (a release without the snake_case aliases).
    `newest_first` False answers the oldest traces of a window instead."""

    def __init__(
        self,
        traces: list[Trace],
        *,
        api: str = "v3",
        names: str = "both",
        newest_first: bool = True,
        delay: float = 0,
    ) -> None:
        self.traces = traces
        self.api = api
        self.names = names
        self.newest_first = newest_first
        self.delay = delay
        self.requests: list[tuple[str, dict[str, str]]] = []
        jaeger = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                params = dict(urllib.parse.parse_qsl(url.query))
                jaeger.requests.append((url.path, params))
                if jaeger.delay:
                    time.sleep(jaeger.delay)
                status, content_type, body = jaeger.answer(url.path, params)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeJaeger:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def _select(self, service: str, lo: int, hi: int, n: int) -> list[Trace]:
        found = [t for t in self.traces if service == SERVICE and lo <= t.start_ns <= hi]
        found.sort(key=lambda t: t.start_ns, reverse=self.newest_first)
        return found[:n]

    @staticmethod
    def _error(status: int, message: str) -> tuple[int, str, bytes]:
        # Go's http.Error: text/plain, a JSON body, a newline
        body = json.dumps({"error": {"httpCode": status, "message": message}}) + "\n"
        return status, "text/plain; charset=utf-8", body.encode()

    def answer(self, path: str, q: dict[str, str]) -> tuple[int, str, bytes]:
        if path.startswith("/api/v3/") and self.api != "v3":
            return 404, "text/plain; charset=utf-8", b"404 page not found\n"
        if path == "/api/v3/services":
            return 200, "application/json", json.dumps({"services": [SERVICE, "jaeger"]}).encode()
        if path == "/api/v3/traces":
            if not self.param(q, "min") or not self.param(q, "max"):
                return self._error(400, "query.startTimeMin and query.startTimeMax are required")
            try:
                lo = parse_rfc3339_ns(self.param(q, "min"))
                hi = parse_rfc3339_ns(self.param(q, "max"))
            except ValueError as exc:
                return self._error(400, f"malformed parameter query.startTimeMin: {exc}")
            n = int(self.param(q, "depth") or 20)
            found = self._select(self.param(q, "service"), lo, hi, n)
            if not found:
                return self._error(404, "No traces found")
            resource_spans = [rs for t in found for rs in t.resource_spans]
            return (
                200,
                "application/json",
                json.dumps({"result": {"resourceSpans": resource_spans}}).encode(),
            )
        if path == "/api/services":
            return 200, "application/json", json.dumps({"data": [SERVICE], "total": 1}).encode()
        if path == "/api/traces":
            lo, hi = int(q["start"]) * 1000, int(q["end"]) * 1000
            found = self._select(q.get("service", ""), lo, hi, int(q.get("limit", 20)))
            body = {
                "data": [t.v1() for t in found],
                "total": 0,
                "limit": 0,
                "offset": 0,
                "errors": None,
            }
            return 200, "application/json", json.dumps(body).encode()
        if path == "/boom/api/v3/traces":
            return self._error(500, "storage unavailable")
        return 404, "text/plain; charset=utf-8", b"404 page not found\n"

    def param(self, q: dict[str, str], what: str) -> str:
        names = V3_PARAMS[what]
        if self.names == "snake":
            names = names[1:]
        elif self.names == "camel":
            names = names[:1]
        return next((q[name] for name in names if q.get(name)), "")

    def finds(self) -> list[dict[str, str]]:
        return [q for path, q in self.requests if path in ("/api/v3/traces", "/api/traces")]


def make_traces(n: int, *, spacing_s: float = 50.0) -> list[Trace]:
    now = time.time_ns()
    return [Trace(i, now - int((i + 1) * spacing_s * SECOND)) for i in range(n)]


def read_live(url: str, **options: Any) -> tuple[list[Span], Diagnostics]:
    diagnostics = Diagnostics()
    return list(read_spans(url, diagnostics=diagnostics, **options)), diagnostics


def trace_ids(spans: list[Span]) -> set[str]:
    return {s.trace_id for s in spans}


@pytest.fixture
def traces() -> list[Trace]:
    return make_traces(37)  # the last 31 minutes


@pytest.mark.parametrize("newest_first", [True, False])
def test_api_v3_pages_through_time_windows(traces: list[Trace], newest_first: bool) -> None:
    with FakeJaeger(traces, newest_first=newest_first) as jaeger:
        spans, diagnostics = read_live(jaeger.url, service=SERVICE, since="1h", num_traces=10)
    assert trace_ids(spans) == {t.trace_id for t in traces}
    assert len(spans) == 37 * 7  # each trace read once although windows overlap
    assert len({(s.trace_id, s.span_id) for s in spans}) == len(spans)
    finds = jaeger.finds()
    assert len(finds) > 4  # 37 traces, 10 per page: several windows
    first = finds[0]
    assert first["query.service_name"] == SERVICE
    assert first["query.num_traces"] == "10"
    assert first["query.serviceName"] == SERVICE
    assert first["query.searchDepth"] == "10"
    assert first["query.start_time_min"].endswith("Z")
    assert first["query.start_time_max"].endswith("Z")
    assert {"query.service_name", "query.start_time_min", "query.start_time_max"} <= set(first)
    assert not diagnostics, dict(diagnostics.counts)
    assert {s.stage for s in spans if s.stage} == {
        "embed",
        "vector_search",
        "bm25",
        "fusion",
        "rerank",
        "llm.generate",
    }
    assert sum(s.is_turn for s in spans) == 37
    assert all(s.service == SERVICE for s in spans)


def test_a_pasted_ui_address_works(traces: list[Trace]) -> None:
    with FakeJaeger(traces[:2]) as jaeger:
        spans, _ = read_live(f"{jaeger.url}/search?service={SERVICE}&limit=20", service=SERVICE)
    assert len(trace_ids(spans)) == 2


def test_limit_takes_the_newest_traces(traces: list[Trace]) -> None:
    with FakeJaeger(traces) as jaeger:
        spans, diagnostics = read_live(
            jaeger.url, service=SERVICE, since="1h", num_traces=10, limit=15
        )
    newest = sorted(traces, key=lambda t: t.start_ns, reverse=True)[:15]
    assert trace_ids(spans) == {t.trace_id for t in newest}
    assert diagnostics.counts["live-limit-reached"] == 1


def test_since_and_until_bound_the_window(traces: list[Trace]) -> None:
    with FakeJaeger(traces) as jaeger:
        spans, _ = read_live(
            jaeger.url, service=SERVICE, since="575s", until="2m25s", num_traces=100
        )
    # trace i started (i + 1) * 50 s ago: those between 145 s and 575 s ago
    expected = {t.trace_id for i, t in enumerate(traces) if 145 <= (i + 1) * 50 <= 575}
    assert trace_ids(spans) == expected
    assert len(expected) == 9


def test_operation_and_page_size_are_sent(traces: list[Trace]) -> None:
    with FakeJaeger(traces) as jaeger:
        read_live(jaeger.url, service=SERVICE, operation="rag.turn", num_traces=500, limit=3)
    first = jaeger.finds()[0]
    assert first["query.operation_name"] == "rag.turn"
    assert first["query.operationName"] == "rag.turn"
    assert first["query.num_traces"] == "500"
    assert first["query.searchDepth"] == "500"


@pytest.mark.parametrize("names", ["snake", "camel"])
def test_old_and_future_parameter_names(traces: list[Trace], names: str) -> None:
    """Jaeger 2.0-2.18 read only snake_case names; a release may drop them for camelCase."""
    with FakeJaeger(traces, names=names) as jaeger:
        spans, diagnostics = read_live(jaeger.url, service=SERVICE, since="1h", num_traces=10)
    assert trace_ids(spans) == {t.trace_id for t in traces}
    assert not diagnostics


def test_no_traces_is_http_404_and_not_an_error(traces: list[Trace]) -> None:
    with FakeJaeger(traces) as jaeger:
        spans, diagnostics = read_live(jaeger.url, service="nobody", since="1h")
    assert spans == []
    assert len(jaeger.finds()) == 1
    assert diagnostics.counts["no-spans"] == 1


def test_falls_back_to_v1_search(traces: list[Trace]) -> None:
    with FakeJaeger(traces, api="v1") as jaeger:
        spans, diagnostics = read_live(jaeger.url, service=SERVICE, since="1h", num_traces=10)
    assert trace_ids(spans) == {t.trace_id for t in traces}
    assert len(spans) == 37 * 7
    assert diagnostics.counts["live-v1-fallback"] == 1
    v1 = [q for path, q in jaeger.requests if path == "/api/traces"]
    assert len(v1) > 4
    assert v1[0]["service"] == SERVICE
    assert v1[0]["limit"] == "10"
    assert len(v1[0]["start"]) == 16  # microseconds
    errors = {s.stage for s in spans if s.error}
    assert errors == {"rerank"}


def test_window_that_cannot_be_split_is_counted() -> None:
    now = time.time_ns()
    same = [Trace(i, now - 60 * SECOND) for i in range(5)]
    with FakeJaeger(same) as jaeger:
        spans, diagnostics = read_live(jaeger.url, service=SERVICE, since="1h", num_traces=2)
    assert len(trace_ids(spans)) == 2
    assert diagnostics.counts["live-window-full"] == 1


def test_missing_service_lists_the_services(traces: list[Trace]) -> None:
    with FakeJaeger(traces) as jaeger, pytest.raises(InputError) as info:
        read_live(jaeger.url)
    message = str(info.value)
    assert message.startswith(jaeger.url + ": ")
    assert "--service" in message
    assert "services here: jaeger, rag-demo" in message


def test_unreachable_url_is_an_input_error() -> None:
    port = free_port()  # nobody listens on it
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    with pytest.raises(InputError) as info:
        read_live(url, service=SERVICE)
    assert str(info.value).startswith(url + ": expected a reachable Jaeger query service (")
    assert "refused" in str(info.value).lower()
    assert time.monotonic() - started < 5


def test_slow_server_times_out_as_input_error(traces: list[Trace]) -> None:
    with FakeJaeger(traces, delay=2.0) as jaeger, pytest.raises(InputError, match=r"within 0.3 s"):
        read_live(jaeger.url, service=SERVICE, timeout=0.3)


def test_server_error_names_status_and_message(traces: list[Trace]) -> None:
    with FakeJaeger(traces) as jaeger, pytest.raises(InputError) as info:
        read_live(jaeger.url + "/boom", service=SERVICE)
    assert "expected HTTP 200 from /api/v3/traces, got 500: storage unavailable" in str(info.value)


def test_not_a_jaeger_at_all(traces: list[Trace]) -> None:
    with (
        FakeJaeger(traces) as jaeger,
        pytest.raises(InputError, match=r"no api_v3 and no v1 search"),
    ):
        read_live(jaeger.url + "/nothing-here", service=SERVICE)


def test_bad_options() -> None:
    with pytest.raises(InputError, match=r"option since: expected a duration"):
        read_live("http://127.0.0.1:9", service=SERVICE, since="yesterday")
    with pytest.raises(InputError, match=r"to be before until"):
        read_live("http://127.0.0.1:9", service=SERVICE, since="1m", until="2m")


def test_read_many_mixes_files_and_live(traces: list[Trace]) -> None:
    diagnostics = Diagnostics()
    with FakeJaeger(traces[:3]) as jaeger:
        spans = list(
            read_many([SDK_JSONL, jaeger.url], diagnostics=diagnostics, service=SERVICE, since="1h")
        )
    assert len(spans) == 7 + 3 * 7
    assert not diagnostics


def test_durations_and_times() -> None:
    assert parse_duration_ns("1h30m") == 5400 * SECOND
    assert parse_duration_ns("90s") == 90 * SECOND
    assert parse_duration_ns("1.5h") == 5400 * SECOND
    assert parse_duration_ns("2d") == 172800 * SECOND
    assert parse_duration_ns("1x") is None
    assert parse_duration_ns("") is None
    stamp = 1_795_591_355_791_743_757
    assert rfc3339(stamp) == "2026-11-25T07:22:35.791743757Z"
    assert parse_rfc3339_ns(rfc3339(stamp)) == stamp


THREADS_END_WITHIN_S = 5.0


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    """Every thread a test starts (FakeJaeger's server and request handlers, any the reader
    starts) has ended within `THREADS_END_WITHIN_S` of the test's end; else the test errors,
    naming them."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + THREADS_END_WITHIN_S
    started = [t for t in threading.enumerate() if t not in before]
    while any(t.is_alive() for t in started) and time.monotonic() < deadline:
        time.sleep(0.05)
    leaked = [t.name for t in started if t.is_alive()]
    assert not leaked, f"threads still running {THREADS_END_WITHIN_S:g} s after the test: {leaked}"

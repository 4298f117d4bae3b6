"""configure(metrics=...) in fresh processes: sampling independence, the /metrics endpoint
scraped over HTTP, OTLP/HTTP export to a real receiver on 127.0.0.1, the environment."""

from __future__ import annotations

import gzip
import json
import threading
import urllib.request
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from prometheus_client.parser import text_string_to_metric_families

from subprocesses import run_python

APP = """
import json, sys, urllib.request
import rag_otel
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

spans = InMemorySpanExporter()
config = rag_otel.configure(service_name="faq-bot", exporter="none", span_exporter=spans{extra})

@rag_otel.stage("embed", kind="embedding")
def embed():
    return 1

for i in range(50):
    with rag_otel.turn(session_id="s", workflow="faq-bot"):
        embed()
        with rag_otel.stage("retrieve", kind="retrieval"):
            pass
        try:
            with rag_otel.stage("generate", kind="generation"):
                if i % 10 == 0:
                    raise TimeoutError
        except TimeoutError:
            pass
config.force_flush()
out = {{"spans": len(spans.get_finished_spans()), "exporters": config.metrics and config.metrics.exporters}}
url = config.metrics and config.metrics.prometheus_url
if url:
    out["scrape"] = urllib.request.build_opener(urllib.request.ProxyHandler({{}})).open(url).read().decode()
{after}
print(json.dumps(out))
rag_otel.shutdown()
"""


def _run(extra: str = "", after: str = "", env: dict[str, str] | None = None) -> dict[str, object]:
    done = run_python(APP.format(extra=extra, after=after), env=env)
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _counts(scrape: str) -> dict[tuple[str, str], float]:
    """(metric, stage or '(turn)', error) -> _count samples of a /metrics body."""
    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(scrape):
        for sample in family.samples:
            if sample.name.endswith("_count"):
                stage = sample.labels.get("rag_stage", "(turn)")
                err = sample.labels.get("error_type", "")
                out[(sample.name, stage + (f"!{err}" if err else ""))] = sample.value
    return out


def test_sampled_out_traces_still_record_every_duration() -> None:
    result = _run(
        extra=', metrics="prometheus", metrics_port=0',
        env={"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.0"},
    )
    assert result["spans"] == 0  # the sampler dropped every trace
    counts = _counts(str(result["scrape"]))
    assert counts == {
        ("rag_stage_duration_seconds_count", "embed"): 50,
        ("rag_stage_duration_seconds_count", "retrieve"): 50,
        ("rag_stage_duration_seconds_count", "generate"): 45,
        ("rag_stage_duration_seconds_count", "generate!TimeoutError"): 5,
        ("gen_ai_invoke_workflow_duration_seconds_count", "(turn)"): 50,
    }


def test_env_turns_metrics_on_with_the_prometheus_endpoint_on_loopback() -> None:
    result = _run(env={"RAG_OTEL_METRICS": "prometheus", "OTEL_EXPORTER_PROMETHEUS_PORT": "0"})
    assert result["spans"] == 50 * 4
    [label] = result["exporters"]  # type: ignore[misc]
    assert str(label).startswith("prometheus(http://127.0.0.1:")
    scrape = str(result["scrape"])
    assert "# TYPE rag_stage_duration_seconds histogram" in scrape
    assert "rag_stage_duration_seconds_bucket{" in scrape
    assert 'le="0.0001"' in scrape
    assert _counts(scrape)[("gen_ai_invoke_workflow_duration_seconds_count", "(turn)")] == 50


def test_metrics_are_off_by_default_and_with_false() -> None:
    assert _run()["exporters"] is None
    assert _run(env={"RAG_OTEL_METRICS": "false"})["exporters"] is None
    assert (
        _run(extra=", metrics=False", env={"RAG_OTEL_METRICS": "prometheus"})["exporters"] is None
    )


def test_unknown_exporter_is_a_clear_error() -> None:
    done = run_python(
        "import rag_otel\nrag_otel.configure(exporter='none', metrics='statsd')",
    )
    assert done.returncode != 0
    assert "unknown metrics exporter 'statsd'" in done.stderr


def test_busy_port_is_logged_not_raised() -> None:
    code = """
    import logging, socket, rag_otel
    logging.basicConfig(level=logging.WARNING)
    s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(); port = s.getsockname()[1]
    config = rag_otel.configure(exporter="none", metrics="prometheus", metrics_port=port)
    with rag_otel.stage("x"):
        pass
    print("ok", config.metrics.prometheus_url)
    rag_otel.shutdown()
    """
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok None"
    assert "cannot serve /metrics" in done.stderr


def test_shutdown_stops_the_endpoint() -> None:
    code = """
    import urllib.request, rag_otel
    config = rag_otel.configure(exporter="none", metrics="prometheus", metrics_port=0)
    url = config.metrics.prometheus_url
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    assert opener.open(url).status == 200
    rag_otel.shutdown()
    try:
        opener.open(url, timeout=2)
    except OSError:
        print("closed")
    """
    done = run_python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "closed"


class _Receiver(BaseHTTPRequestHandler):
    requests: list[ExportMetricsServiceRequest] = []  # noqa: RUF012 (per-server, set below)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        if self.path == "/v1/metrics":
            message = ExportMetricsServiceRequest()
            message.ParseFromString(body)
            self.server.received.append(message)  # type: ignore[attr-defined]
            self.server.headers_seen.append(dict(self.headers))  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()
        self.wfile.write(b"")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def otlp_receiver() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    server.received = []  # type: ignore[attr-defined]
    server.headers_seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _histograms(server: ThreadingHTTPServer) -> dict[str, list[object]]:
    found: dict[str, list[object]] = {}
    for message in server.received:  # type: ignore[attr-defined]
        for rm in message.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    found.setdefault(metric.name, []).append(metric)
    return found


def test_otlp_export_sends_exponential_histograms(otlp_receiver: ThreadingHTTPServer) -> None:
    port = otlp_receiver.server_address[1]
    result = _run(
        extra=', metrics="otlp"',
        env={
            "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": f"http://127.0.0.1:{port}/v1/metrics",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=rag",
        },
    )
    assert str(result["exporters"]) == f"['otlp(http/protobuf http://127.0.0.1:{port}/v1/metrics)']"
    found = _histograms(otlp_receiver)
    stage = found["rag.stage.duration"][-1]
    assert stage.unit == "s"  # type: ignore[attr-defined]
    assert stage.WhichOneof("data") == "exponential_histogram"  # type: ignore[attr-defined]
    counts = {
        tuple(sorted((a.key, a.value.string_value) for a in p.attributes)): p.count
        for p in stage.exponential_histogram.data_points  # type: ignore[attr-defined]
    }
    embed_key = (
        ("gen_ai.operation.name", "embeddings"),
        ("rag.stage", "embed"),
        ("rag.stage.kind", "embedding"),
    )
    assert counts[embed_key] == 50
    key = (
        ("error.type", "TimeoutError"),
        ("gen_ai.operation.name", "chat"),
        ("rag.stage", "generate"),
        ("rag.stage.kind", "generation"),
    )
    assert counts[key] == 5
    turn = found["gen_ai.invoke_workflow.duration"][-1]  # a turn is one workflow invocation
    [point] = turn.exponential_histogram.data_points  # type: ignore[attr-defined]
    assert point.count == 50
    assert [(a.key, a.value.string_value) for a in point.attributes] == [
        ("gen_ai.workflow.name", "faq-bot")
    ]
    assert any(h.get("x-tenant") == "rag" for h in otlp_receiver.headers_seen)  # type: ignore[attr-defined]
    assert "rag.metrics.collect_hook" not in found  # the hook observes nothing


def test_otlp_export_with_explicit_buckets(otlp_receiver: ThreadingHTTPServer) -> None:
    port = otlp_receiver.server_address[1]
    _run(
        extra=f', metrics="otlp", endpoint="http://127.0.0.1:{port}", metrics_histogram="explicit"',
    )
    stage = _histograms(otlp_receiver)["rag.stage.duration"][-1]
    assert stage.WhichOneof("data") == "histogram"  # type: ignore[attr-defined]
    from rag_otel.metrics import DEFAULT_BUCKETS

    assert tuple(stage.histogram.data_points[0].explicit_bounds) == DEFAULT_BUCKETS  # type: ignore[attr-defined]


def test_default_exporter_follows_otel_metrics_exporter() -> None:
    code = """
    from rag_otel.options import metrics_exporters
    print(metrics_exporters(True, otlp_endpoint=None).names, metrics_exporters(True, otlp_endpoint="http://x").names)
    """
    assert run_python(code).stdout.strip() == "('prometheus',) ('otlp',)"
    done = run_python(code, env={"OTEL_METRICS_EXPORTER": "console,otlp"})
    assert done.stdout.strip() == "('console', 'otlp') ('console', 'otlp')"
    done = run_python(
        "from rag_otel.options import metrics_exporters; "
        "print(metrics_exporters(None, otlp_endpoint=None).names)",
        env={"RAG_OTEL_METRICS": "otlp,prometheus"},
    )
    assert done.stdout.strip() == "('otlp', 'prometheus')"
    _ = urllib

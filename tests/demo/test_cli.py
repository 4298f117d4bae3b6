"""`rag-otel demo` as users run it: a subprocess (configure() is process-global).

A small slice of the corpus keeps each run to seconds; the spans it writes are read
back by the analysis library, as `rag-otel analyze` does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from netutil import free_port
from rag_otel import semconv as sc
from rag_otel.analysis.model import Diagnostics, Span
from rag_otel.analysis.readers import read_spans
from rag_otel.analysis.report import analyze

SLICE = ("--faq", "30", "--distractors", "30")
STAGES = {"embed", "retrieve.vector", "retrieve.bm25", "fuse", "rerank", "generate"}


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-cli-cache")


def _demo(
    cwd: Path, cache: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAG_OTEL_", "OPENAI_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "rag_otel", "demo", *SLICE, "--cache-dir", str(cache), *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )


def _spans(path: Path) -> list[Span]:
    return list(read_spans(str(path), diagnostics=Diagnostics(), keep_attributes=True))


def test_demo_writes_spans_the_analysis_reads_back(tmp_path: Path, shared_cache: Path) -> None:
    spans_file = tmp_path / "run.jsonl"
    done = _demo(tmp_path, shared_cache, "--questions", "5", "--spans", str(spans_file))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "optimise this next" in out
    assert "recall@20" in out
    assert "CC-BY-4.0" in out
    assert "doi:10.5281/zenodo." in out
    assert "generation: extractive answers" in out
    assert "…" not in out  # the report, as a log file gets it: no value cut
    [html_line] = [line for line in out.splitlines() if line.startswith("HTML report: ")]
    html = Path(html_line.removeprefix("HTML report: "))
    html = html if html.is_absolute() else tmp_path / html
    assert html.name == "report-run.html"
    assert "optimise this next" in html.read_text(encoding="utf-8")

    diagnostics = Diagnostics()
    report = analyze(read_spans(str(spans_file), diagnostics=diagnostics), diagnostics=diagnostics)
    by_name = {s.name: s for s in report.stages}
    assert set(by_name) >= STAGES
    assert report.turn.count == 5
    assert all(by_name[name].turns == 5 for name in STAGES)
    assert report.verdict.stage in by_name
    assert not diagnostics.counts

    spans = _spans(spans_file)
    turns = {s.span_id for s in spans if s.is_turn}
    stage_spans = [s for s in spans if s.stage in STAGES]
    assert len(stage_spans) == 5 * len(STAGES)
    assert all(s.parent_id in turns for s in stage_spans)
    assert {s.service for s in spans} == {"rag-otel-demo"}


def test_sequential_without_rerank_and_default_span_file(
    tmp_path: Path, shared_cache: Path
) -> None:
    done = _demo(
        tmp_path, shared_cache, "--questions", "3", "--retrieval", "sequential", "--rerank", "none"
    )
    assert done.returncode == 0, done.stderr
    [spans_file] = (tmp_path / "rag-otel-demo").glob("spans-*-sequential-none.jsonl")
    names = {s.name for s in _spans(spans_file)}
    assert "rerank" not in names
    assert STAGES - {"rerank"} <= names


def test_missing_cross_encoder_falls_back_with_one_notice(
    tmp_path: Path, shared_cache: Path
) -> None:
    spans_file = tmp_path / "run.jsonl"
    done = _demo(
        tmp_path,
        shared_cache,
        "--questions",
        "2",
        "--spans",
        str(spans_file),
        "--reranker-dir",
        str(tmp_path / "no-model-here"),
    )
    assert done.returncode == 0, done.stderr
    notices = [line for line in done.stdout.splitlines() if "no cross-encoder" in line]
    assert len(notices) == 1
    assert "rag-otel[rerank]" in notices[0]
    assert "reranking by embedding cosine instead" in notices[0]
    reranks = [s for s in _spans(spans_file) if s.name == "rerank"]
    assert len(reranks) == 2
    assert all(s.attributes and s.attributes[sc.RAG_RERANK_METHOD] == "cosine" for s in reranks)


def test_unreachable_llm_is_one_line_error_not_a_traceback(
    tmp_path: Path, shared_cache: Path
) -> None:
    port = free_port()
    env = {"RAG_OTEL_DEMO_MODEL": "m", "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1"}
    done = _demo(tmp_path, shared_cache, "--questions", "2", "--llm-timeout", "2", env=env)
    assert done.returncode == 1
    errors = done.stderr.strip().splitlines()
    assert errors == [
        f"rag-otel demo: http://127.0.0.1:{port}/v1/chat/completions: unreachable "
        "(ConnectError: All connection attempts failed)"
    ]


class _OtlpReceiver(BaseHTTPRequestHandler):
    """A real OTLP/HTTP protobuf receiver (what the Collector listens with on :4318)."""

    span_ids: ClassVar[list[str]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                type(self).span_ids.extend(s.span_id.hex() for s in scope_spans.spans)
        body = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_otlp_endpoint_gets_the_same_spans_and_the_file_is_still_written(
    tmp_path: Path, shared_cache: Path
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _OtlpReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}"
        spans_file = tmp_path / "run.jsonl"
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
        done = _demo(
            tmp_path, shared_cache, "--questions", "2", "--spans", str(spans_file), env=env
        )
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr
    assert f"otlp(http/protobuf {endpoint}/v1/traces)" in done.stdout
    assert "optimise this next" in done.stdout
    in_file = sorted(s.span_id for s in _spans(spans_file))
    assert len(in_file) >= 2 * (len(STAGES) + 1)
    assert sorted(_OtlpReceiver.span_ids) == in_file

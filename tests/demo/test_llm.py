"""Generation through an OpenAI-compatible endpoint: real HTTP servers on 127.0.0.1.

A streaming server, a closed port, a server that accepts and never answers, one that
trickles forever, one that answers 404: every failure is one clear `LLMError` after
the bounded timeout, never a hang.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from netutil import free_port
from rag_otel import semconv as sc
from rag_otel.analysis.model import Diagnostics, Span
from rag_otel.analysis.readers.otlp import ReadState, decode_resource_spans
from rag_otel.analysis.report import FIRST_TOKEN_ROW, analyze
from rag_otel.demo.corpus import Corpus
from rag_otel.demo.index import Index
from rag_otel.demo.llm import ChatEndpoint, LLMError
from rag_otel.demo.models import Embedder
from rag_otel.demo.pipeline import Pipeline
from rag_otel.exporters import spans_to_otlp_json


def decode_otlp(doc: dict[str, object]) -> list[Span]:
    """The analysis' spans of one OTLP JSON document, as the file reader decodes them."""
    return decode_resource_spans(doc["resourceSpans"], ReadState("spans", Diagnostics()), None)


TIMEOUT = 1.0
STREAM_GAP = 0.05
STOP = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    requests: ClassVar[list[dict[str, object]]] = []

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _read_body(self) -> dict[str, object]:
        body: dict[str, object] = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(body)
        return body

    def _sse_headers(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _event(self, data: str) -> None:
        payload = f"data: {data}\n\n".encode()
        self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
        self.wfile.flush()


class Streaming(_Handler):
    def do_POST(self) -> None:
        body = self._read_body()
        self._sse_headers()
        for i, word in enumerate(("Ten ", "weeks.")):
            if i:
                time.sleep(STREAM_GAP)  # the server's time between chunks
            chunk = {"model": f"{body['model']}-served", "choices": [{"delta": {"content": word}}]}
            self._event(json.dumps(chunk))
        usage = {"prompt_tokens": 42, "completion_tokens": 2, "total_tokens": 44}
        self._event(json.dumps({"model": f"{body['model']}-served", "choices": [], "usage": usage}))
        self._event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")


class Silent(_Handler):
    def do_POST(self) -> None:
        self._read_body()
        STOP.wait(30)  # accepts, then never answers


class Trickling(_Handler):
    def do_POST(self) -> None:
        self._read_body()
        self._sse_headers()
        while not STOP.wait(TIMEOUT / 4):  # each read is quick; the answer never ends
            self._event(json.dumps({"choices": [{"delta": {"content": "."}}]}))


class NotFound(_Handler):
    def do_POST(self) -> None:
        self._read_body()
        payload = b'{"error": "model not found"}'
        self.send_response(404)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@pytest.fixture
def serve() -> Iterator[type]:
    servers: list[ThreadingHTTPServer] = []
    STOP.clear()

    def start(handler: type[_Handler]) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start  # type: ignore[misc]
    STOP.set()
    for server in servers:
        server.shutdown()
        server.server_close()


async def _drain(endpoint: ChatEndpoint) -> str:
    return "".join([c async for c in endpoint.stream("How long?", ["Ten weeks."])])


async def test_streamed_answer_records_model_usage_and_first_chunk(
    serve: type,
    span_exporter: InMemorySpanExporter,
    corpus: Corpus,
    index: Index,
    embedder: Embedder,
) -> None:
    url = serve(Streaming)  # type: ignore[operator]
    llm = ChatEndpoint(url, "tiny-llm", api_key="secret", timeout=TIMEOUT)
    pipeline = Pipeline(index, embedder, rerank="cosine", llm=llm)
    answer = await pipeline.answer(corpus.questions[1].text)
    assert answer.text == "Ten weeks."
    request = Streaming.requests[-1]
    assert request["stream"] is True
    assert request["model"] == "tiny-llm"
    [generate] = [s for s in span_exporter.get_finished_spans() if s.name == "generate"]
    attrs = generate.attributes
    assert attrs is not None
    assert attrs[sc.RAG_GENERATION_METHOD] == "llm"
    assert attrs[sc.GEN_AI_REQUEST_MODEL] == "tiny-llm"
    assert attrs[sc.GEN_AI_RESPONSE_MODEL] == "tiny-llm-served"
    assert attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] == 42
    assert attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] == 2
    assert attrs[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] >= 0  # type: ignore[operator]

    # The real stream reaches the analysis: the turn's time to first token ends at the first
    # chunk, before the server's pause and the second chunk.
    spans = span_exporter.get_finished_spans()
    report = analyze(decode_otlp(spans_to_otlp_json(spans)), diagnostics=Diagnostics())
    assert report.first_token is not None
    assert report.first_token.timed == 1
    [ttft] = report.samples[FIRST_TOKEN_ROW]
    [turn] = report.samples["(turn)"]
    assert ttft <= turn - STREAM_GAP * 1e9


async def test_unreachable_endpoint_is_one_clear_error() -> None:
    endpoint = ChatEndpoint(f"http://127.0.0.1:{free_port()}/v1", "m", timeout=TIMEOUT)
    with pytest.raises(LLMError, match=r"unreachable \(ConnectError") as caught:
        await _drain(endpoint)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("handler", [Silent, Trickling], ids=["silent", "trickling"])
async def test_slow_endpoint_times_out_cleanly(serve: type, handler: type[_Handler]) -> None:
    endpoint = ChatEndpoint(serve(handler), "m", timeout=TIMEOUT)  # type: ignore[operator]
    started = time.monotonic()
    with pytest.raises(LLMError, match=r"no complete answer within 1 s"):
        await asyncio.wait_for(_drain(endpoint), 20 * TIMEOUT)  # a hang fails, not blocks
    assert (time.monotonic() - started) / TIMEOUT < 5


async def test_http_error_names_the_status(serve: type) -> None:
    endpoint = ChatEndpoint(serve(NotFound), "m", timeout=TIMEOUT)  # type: ignore[operator]
    with pytest.raises(LLMError, match=r"HTTP 404: .*model not found"):
        await _drain(endpoint)


async def test_failed_generation_is_an_error_span_and_propagates(
    span_exporter: InMemorySpanExporter, corpus: Corpus, index: Index, embedder: Embedder
) -> None:
    llm = ChatEndpoint(f"http://127.0.0.1:{free_port()}/v1", "m", timeout=TIMEOUT)
    pipeline = Pipeline(index, embedder, rerank="cosine", llm=llm)
    with pytest.raises(LLMError):
        await pipeline.answer(corpus.questions[0].text)
    spans = {s.name: s for s in span_exporter.get_finished_spans()}
    assert not spans["generate"].status.is_ok
    assert not spans[sc.TURN_SPAN_NAME].status.is_ok


def test_environment_chooses_the_endpoint() -> None:
    assert ChatEndpoint.from_env({}) is None
    with pytest.raises(LLMError, match="OPENAI_BASE_URL is not"):
        ChatEndpoint.from_env({"RAG_OTEL_DEMO_MODEL": "m"})
    endpoint = ChatEndpoint.from_env(
        {"RAG_OTEL_DEMO_MODEL": "m", "OPENAI_BASE_URL": "http://127.0.0.1:1/v1/"}, timeout=3
    )
    assert endpoint is not None
    assert (endpoint.base_url, endpoint.model, endpoint.api_key, endpoint.timeout) == (
        "http://127.0.0.1:1/v1",
        "m",
        None,
        3,
    )

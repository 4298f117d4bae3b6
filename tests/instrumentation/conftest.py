"""Fixtures for the chromadb and rank-bm25 instrumentation tests.

- ``instrumented``: both instrumentors on during the test, as they were afterwards.
- ``chroma_server``: a real ``chroma run`` on 127.0.0.1 and a free port, with its data
  in a temporary folder; started once per session, stopped by PID at the end.
- ``spans``: a helper over the session's in-memory exporter.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from netutil import free_port
from rag_otel.instrumentation import instrument
from rag_otel.instrumentation.chromadb import ChromaInstrumentor
from rag_otel.instrumentation.rank_bm25 import BM25Instrumentor

VENV_BIN = Path(sys.executable).parent
CHROMA = VENV_BIN / "chroma"


@pytest.fixture
def instrumented() -> Iterator[list[str]]:
    """Both instrumentors on for the test; afterwards, off again if they were off before
    (tests elsewhere in the session must not see auto spans they did not ask for)."""
    chroma, bm25 = ChromaInstrumentor(), BM25Instrumentor()
    were_on = (chroma.is_instrumented_by_opentelemetry, bm25.is_instrumented_by_opentelemetry)
    names = instrument()
    assert names == ["chromadb_rag_otel", "rank_bm25"]
    yield names
    for instrumentor, was_on in zip((chroma, bm25), were_on, strict=True):
        if not was_on and instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()


class Spans:
    """The finished spans of one test, looked up by name."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self.exporter = exporter

    def all(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def names(self) -> list[str]:
        return [s.name for s in self.all()]

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.all() if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, f"expected one {name!r} span, got {self.names()}"
        return found[0]

    def clear(self) -> None:
        self.exporter.clear()


@pytest.fixture
def spans(span_exporter: InMemorySpanExporter, instrumented: list[str]) -> Spans:
    return Spans(span_exporter)


def _heartbeat(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@dataclass(frozen=True)
class ChromaServer:
    host: str
    port: int
    pid: int


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """A real Chroma server for the async HTTP client, up until the session ends."""
    data = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    log = (data / "server.log").open("wb")
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    process = subprocess.Popen(
        [
            str(CHROMA),
            "run",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--path",
            str(data / "db"),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}/api/v2/heartbeat"
        deadline = time.monotonic() + 60
        while not _heartbeat(url):
            if process.poll() is not None:
                pytest.fail(
                    f"chroma run exited with {process.returncode}: see {data / 'server.log'}"
                )
            if time.monotonic() > deadline:
                pytest.fail(f"chroma run did not answer {url} within 60 s")
            time.sleep(0.1)
        yield ChromaServer("127.0.0.1", port, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)
        log.close()

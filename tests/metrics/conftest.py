"""Fixtures for the metrics tests: an in-memory metric reader, and a real Prometheus server.

The session's global TracerProvider (tests/conftest.py) stays as it is: rag-otel's
MeterProvider is its own (``rag_otel.metrics.enable``), never the global one, so the tests
pass their reader explicitly and nothing clashes. Process-global setups (configure(),
environment variables, sampling) run in subprocesses.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from rag_otel import metrics

# --import-mode=importlib does not put test folders on sys.path; the helpers module needs it.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from prometheus_server import PrometheusBinary, ensure_prometheus


@pytest.fixture
def metric_reader() -> Iterator[InMemoryMetricReader]:
    """Durations on: recorded into this reader (explicit buckets: the reader's default)."""
    reader = InMemoryMetricReader()
    metrics.enable([], readers=[reader])
    yield reader
    metrics.disable()


_USED: list[PrometheusBinary] = []


@pytest.fixture(scope="session")
def prometheus_binary(tmp_path_factory: pytest.TempPathFactory) -> PrometheusBinary:
    """Debian's prometheus, installed with apt-get on first use (CI runs as root)."""
    binary = ensure_prometheus(tmp_path_factory.getbasetemp().parent)
    _USED.append(binary)
    return binary


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for binary in _USED:
        how = (
            "already installed"
            if binary.install_seconds is None
            else f"installed with apt-get in {binary.install_seconds:.1f} s"
        )
        terminalreporter.write_line(f"prometheus for tests/metrics: {binary.version} ({how})")

"""Shared fixtures.

One SDK TracerProvider for the whole test session, with an InMemorySpanExporter
behind a SimpleSpanProcessor; `span_exporter` hands it to a test, cleared.
Tests that need a fresh process-global state (configure(), env vars, atexit)
run a subprocess instead of fighting the global provider.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# --import-mode=importlib does not put test folders on sys.path: shared helpers live in tests/.
sys.path.insert(0, str(Path(__file__).resolve().parent))

_EXPORTER = InMemorySpanExporter()


def _install_provider() -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    trace.set_tracer_provider(provider)


_install_provider()


@pytest.fixture
def span_exporter() -> Iterator[InMemorySpanExporter]:
    """The session's in-memory exporter, empty at the start of the test."""
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This project's wheel, built once per session with uv (tests/built_wheel.py)."""
    from built_wheel import build_wheel

    return build_wheel(tmp_path_factory.mktemp("wheel"))

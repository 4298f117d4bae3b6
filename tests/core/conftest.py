"""Fixtures for the core tracing tests (helpers live in core_helpers.py beside this file)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag_otel import propagation
from rag_otel._config import SETTINGS

# --import-mode=importlib does not put test folders on sys.path; the helpers module needs it.
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def propagate() -> Iterator[None]:
    """Context propagation into executors and threads, as configure() turns it on."""
    propagation.enable()
    yield
    propagation.disable()


@pytest.fixture
def capture_content() -> Iterator[None]:
    """Content capture on for one test, settings restored after."""
    saved = (SETTINGS.capture_content, SETTINGS.redact, SETTINGS.max_content_length)
    SETTINGS.capture_content = True
    yield
    SETTINGS.capture_content, SETTINGS.redact, SETTINGS.max_content_length = saved

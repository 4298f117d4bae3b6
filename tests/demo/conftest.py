"""Fixtures for the demo tests: a small slice of the real corpus, the real models, a real index.

The slice (30 FAQ pairs + 30 distractor passages) is embedded once per session, in a
few seconds; the full corpus would take about a minute.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag_otel.demo.corpus import Corpus, load_corpus
from rag_otel.demo.index import Index, open_index
from rag_otel.demo.models import CrossEncoder, Embedder

FAQ_SLICE = 30
DISTRACTOR_SLICE = 30


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    return load_corpus(FAQ_SLICE, DISTRACTOR_SLICE)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="session")
def cross_encoder() -> CrossEncoder:
    return CrossEncoder()


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-cache")


@pytest.fixture(scope="session")
def index(corpus: Corpus, embedder: Embedder, cache_dir: Path) -> Index:
    return open_index(corpus, embedder, cache_dir)

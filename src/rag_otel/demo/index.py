"""The demo's two indexes over the same passages: a persisted Chroma collection and BM25.

The Chroma index is built on first use (embedding every passage takes about a
minute on two cores) into a folder keyed by the embedding model and the corpus,
so later runs reopen it in well under a second. Rows are added with explicit
``embeddings=`` and the collection has no embedding function: Chroma's default
one would download a model.
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag_otel.demo.corpus import Corpus
from rag_otel.demo.models import MAX_TOKENS, Embedder, Vectors

INDEX_FORMAT = "1"
COLLECTION = "faq"
BATCH = 32
_COMPLETE = "index-complete"
_TOKEN = re.compile(r"\w+")

Progress = Callable[[int, int], None]
"""Called as progress(done, total) while passages are embedded."""


def tokenize(text: str) -> list[str]:
    """BM25's tokenisation: lower-cased word characters."""
    return _TOKEN.findall(text.lower())


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rag-otel" / "demo"


@dataclass
class Index:
    collection: Any
    """The chromadb Collection."""
    bm25: Any
    """rank_bm25.BM25Okapi over `ids`, in the same order."""
    ids: list[str]
    texts: dict[str, str]
    vectors: dict[str, Vectors]
    path: Path
    build_seconds: float | None = None
    """Time spent embedding and adding rows; None when the index came from the cache."""
    open_seconds: float = 0.0
    _client: Any = field(default=None, repr=False)


def index_key(corpus: Corpus, embedder: Embedder) -> str:
    digest = hashlib.sha256(f"format={INDEX_FORMAT};max_tokens={MAX_TOKENS};".encode())
    for path in (embedder.files.model, embedder.files.tokenizer):
        digest.update(path.read_bytes())
    digest.update(corpus.fingerprint.encode())
    return digest.hexdigest()[:16]


def open_index(
    corpus: Corpus, embedder: Embedder, cache_dir: Path, progress: Progress | None = None
) -> Index:
    """Open the cached index for this corpus and model, building it first if needed."""
    import chromadb
    from chromadb.config import Settings
    from rank_bm25 import BM25Okapi

    start = time.perf_counter()
    path = cache_dir / f"chroma-{index_key(corpus, embedder)}"
    complete = (path / _COMPLETE).is_file()
    client = chromadb.PersistentClient(
        path=str(path), settings=Settings(anonymized_telemetry=False)
    )
    if not complete and COLLECTION in {c.name for c in client.list_collections()}:
        client.delete_collection(COLLECTION)  # left by an interrupted build
    collection = client.get_or_create_collection(
        COLLECTION, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    build_seconds = None
    if not complete:
        _build(collection, corpus, embedder, progress)
        (path / _COMPLETE).write_text(f"{len(corpus.passages)} passages\n")
        build_seconds = time.perf_counter() - start

    got: Any = collection.get(include=["embeddings"])
    vectors = {
        i: np.asarray(v, dtype=np.float32)
        for i, v in zip(got["ids"], got["embeddings"], strict=True)
    }
    ids = [p.id for p in corpus.passages]
    texts = {p.id: p.text for p in corpus.passages}
    bm25 = BM25Okapi([tokenize(texts[i]) for i in ids])
    return Index(
        collection,
        bm25,
        ids,
        texts,
        vectors,
        path,
        build_seconds,
        time.perf_counter() - start,
        client,
    )


def _build(collection: Any, corpus: Corpus, embedder: Embedder, progress: Progress | None) -> None:
    # Sorted by length, batches pad little; all cores here (queries use one thread).
    passages = sorted(corpus.passages, key=lambda p: len(p.text))
    embedder = Embedder(embedder.files, threads=min(4, os.cpu_count() or 1))
    for done in range(0, len(passages), BATCH):
        batch = passages[done : done + BATCH]
        collection.add(
            ids=[p.id for p in batch],
            embeddings=embedder.embed([p.text for p in batch]),
            documents=[p.text for p in batch],
        )
        if progress is not None:
            progress(done + len(batch), len(passages))

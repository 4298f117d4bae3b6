"""The demo's parts on real data: corpus, embedding model, cross-encoder, cached index."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag_otel.demo.corpus import MAX_PASSAGE_CHARS, Corpus, corpus_credit, load_corpus
from rag_otel.demo.index import Index, open_index, tokenize
from rag_otel.demo.llm import extractive_answer, extractive_stream
from rag_otel.demo.models import CrossEncoder, Embedder, ModelNotFound, cross_encoder_files
from rag_otel.demo.quality import quality


def test_full_corpus_has_gold_passages_and_distractors() -> None:
    full = load_corpus()
    ids = {p.id for p in full.passages}
    assert len(full.questions) == 503
    assert len(ids) == len(full.passages)
    assert all(q.gold_id in ids for q in full.questions)
    pydoc = [p for p in full.passages if p.id.startswith("pydoc:")]
    assert len(pydoc) > 1000
    assert all(0 < len(p.text) <= MAX_PASSAGE_CHARS for p in pydoc)
    sample = full.sample_questions(100)
    assert len({q.gold_id for q in sample}) == 100
    assert full.sample_questions(100) == sample


def test_credit_comes_from_the_package_metadata() -> None:
    credit = corpus_credit()
    assert credit.licence == "CC-BY-4.0"
    assert credit.author == "Zaragoza AB"
    assert credit.doi.startswith("10.5281/zenodo.")
    assert "CC-BY-4.0" in credit.line()
    assert credit.doi in credit.line()


def test_embeddings_are_normalised_and_padding_does_not_change_them(embedder: Embedder) -> None:
    short = "How long does a building permit take?"
    long = "A much longer text about building permits, drawings, fees and inspections. " * 8
    alone = embedder.embed([short])[0]
    batched = embedder.embed([short, long])[0]
    assert alone.shape == (384,)
    assert np.linalg.norm(alone) == pytest.approx(1.0, abs=1e-5)
    assert float(alone @ batched) == pytest.approx(1.0, abs=1e-4)
    related = embedder.embed(["What does a building permit cost?"])[0]
    unrelated = embedder.embed(["The assert statement raises AssertionError."])[0]
    assert float(alone @ related) > float(alone @ unrelated)


def test_cross_encoder_prefers_the_answer(cross_encoder: CrossEncoder) -> None:
    scores = cross_encoder.score(
        "How long does it take to get a building permit?",
        [
            "Assert statements are a convenient way to insert debugging assertions.",
            "The statutory processing time is 10 weeks, with a possible extension.",
        ],
    )
    assert scores[1] > scores[0]


def test_missing_cross_encoder_names_the_extra(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match=r"rag-otel\[rerank\]"):
        cross_encoder_files(tmp_path / "nothing-here")


def test_index_is_cached_and_finds_gold_passages(
    corpus: Corpus, embedder: Embedder, cache_dir: Path, index: Index
) -> None:
    again = open_index(corpus, embedder, cache_dir)
    assert again.build_seconds is None
    assert again.path == index.path
    assert again.collection.count() == len(corpus.passages) == len(again.vectors)
    hits = []
    for q in corpus.questions:
        result = again.collection.query(
            query_embeddings=embedder.embed([q.text]), n_results=5, include=["distances"]
        )
        hits.append([(i, 0.0) for i in result["ids"][0]])
    assert quality("vector", hits, corpus.questions).recall[5] >= 0.8


def test_interrupted_build_is_rebuilt(corpus: Corpus, embedder: Embedder, tmp_path: Path) -> None:
    small = Corpus(corpus.passages[:5], corpus.questions[:5])
    first = open_index(small, embedder, tmp_path)
    assert first.build_seconds is not None
    (first.path / "index-complete").unlink()
    del first
    rebuilt = open_index(small, embedder, tmp_path)
    assert rebuilt.build_seconds is not None
    assert rebuilt.collection.count() == 5


def test_bm25_tokenisation_and_extractive_answer() -> None:
    assert tokenize("Bygglov: PBL 9 kap.") == ["bygglov", "pbl", "9", "kap"]
    answer = extractive_answer(
        "How long does a building permit take?",
        ["Fees vary. Processing a building permit takes 10 weeks. Call us.", "Unrelated text."],
        sentences=1,
    )
    assert answer == "Processing a building permit takes 10 weeks."
    passages = ["Fees vary. Processing a building permit takes 10 weeks. Call us.", "Other text."]
    chunks = list(extractive_stream("How long does a building permit take?", passages))
    assert chunks == ["Fees vary.", " Processing a building permit takes 10 weeks."]
    assert "".join(chunks) == extractive_answer("How long does a building permit take?", passages)

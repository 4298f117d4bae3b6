"""Retrieval quality against the gold passages: recall@k and MRR@10, per stage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rag_otel.demo.corpus import Question
from rag_otel.demo.pipeline import Answer, Hits

RECALL_AT: tuple[int, ...] = (1, 5, 20)
MRR_AT = 10


@dataclass(frozen=True, slots=True)
class Quality:
    stage: str
    recall: dict[int, float]
    """k -> share of questions whose gold passage is in the top k."""
    mrr: float
    """Mean reciprocal rank of the gold passage within the top MRR_AT (0 when not there)."""


def _rank(hits: Hits, gold: str) -> int | None:
    for rank, (doc_id, _) in enumerate(hits, 1):
        if doc_id == gold:
            return rank
    return None


def quality(stage: str, rankings: Sequence[Hits], questions: Sequence[Question]) -> Quality:
    if len(rankings) != len(questions) or not questions:
        raise ValueError("one ranking per question, at least one question")
    ranks = [_rank(hits, q.gold_id) for hits, q in zip(rankings, questions, strict=True)]
    n = len(ranks)
    recall = {k: sum(1 for r in ranks if r is not None and r <= k) / n for k in RECALL_AT}
    mrr = sum(1.0 / r for r in ranks if r is not None and r <= MRR_AT) / n
    return Quality(stage, recall, mrr)


def pipeline_quality(
    answers: Sequence[Answer], questions: Sequence[Question], reranked: bool
) -> list[Quality]:
    """Quality after each retrieval stage, in pipeline order."""
    rows = [
        quality("retrieve.vector", [a.vector for a in answers], questions),
        quality("retrieve.bm25", [a.bm25 for a in answers], questions),
        quality("fuse", [a.fused for a in answers], questions),
    ]
    if reranked:
        rows.append(quality("rerank", [a.ranked for a in answers], questions))
    return rows

"""Missed parallelism: sibling stages that could run at once but ran one after the other.

    for first, second, sequential, together in sibling_pairs(Plan(turn)): ...
    line = suggestion(("vector", "bm25"), saving_ms=40.0, saving_pct=0.21, sequential=0.98)

Two retrievals under one parent (vector search and BM25), or an embedding beside a keyword
retrieval (BM25 does not need the query's embedding), usually need not wait for each other::

    turn   |====================================|
    vector |============|                          ran one after the other
    bm25                |==========|
    rerank                         |============|
    ->     vector and bm25 under one parent: try --what-if parallel:vector,bm25

A trace shows when spans ran, not what data each needed, so the report words this as a
suggestion, with the saving the what-if engine predicts if they started together.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations

from rag_otel.analysis.conventions import EMBEDDING, RETRIEVAL
from rag_otel.analysis.whatif import Plan

SEQUENTIAL_SHARE = 0.90
"""A pair is flagged when it ran one after the other in at least this share of its turns."""
MIN_SAVING = 0.05
"""... and starting them together would save at least this share of turn p50."""
_KINDS = (RETRIEVAL, EMBEDDING)
KEYWORD_WORDS = ("bm25", "keyword", "lexical", "sparse", "fulltext", "full_text", "full-text")
"""A retrieval stage whose name holds one of these is a keyword retrieval."""


def is_keyword(stage: str) -> bool:
    low = stage.lower()
    return any(w in low for w in KEYWORD_WORDS)


def _could_overlap(a: tuple[str, str | None], b: tuple[str, str | None]) -> bool:
    (name_a, kind_a), (name_b, kind_b) = a, b
    if kind_a == RETRIEVAL and kind_b == RETRIEVAL:
        return True
    if kind_a == EMBEDDING and kind_b == RETRIEVAL:
        return is_keyword(name_b)
    if kind_b == EMBEDDING and kind_a == RETRIEVAL:
        return is_keyword(name_a)
    return False


def sibling_pairs(
    plan: Plan, known: dict[frozenset[tuple[str, str]], list[tuple[str, str]]] | None = None
) -> Iterator[tuple[str, str, bool, bool]]:
    """``(first, second, sequential, together)`` for each pair of sibling stages of a turn
    (its `Plan`) that could run at once (two retrievals, or an embedding and a keyword
    retrieval), once per turn: ``sequential`` when every span of one ended before any of
    the other started (``first`` is the one that started first), ``together`` when they
    started at once. ``known`` caches which pairs of a set of (stage, kind) could overlap."""
    seen: set[tuple[str, str]] = set()
    for spans in plan.spans_by_parent(_KINDS).values():
        if len(spans) < 2:
            continue
        signature = frozenset((name, kind) for name, (_, _, kind) in spans.items())
        pairs = known.get(signature) if known is not None else None
        if pairs is None:
            pairs = candidate_pairs({name: kind for name, (_, _, kind) in spans.items()})
            if known is not None:
                known[signature] = pairs
        for a, b in pairs:
            if spans[b][0] < spans[a][0] or (spans[b][0] == spans[a][0] and str(b) < str(a)):
                a, b = b, a  # the one that started first, first
            if (a, b) in seen or (b, a) in seen:
                continue
            seen.add((a, b))
            yield a, b, spans[a][1] <= spans[b][0], spans[a][0] == spans[b][0]


def candidate_pairs(kinds: dict[str, str | None]) -> list[tuple[str, str]]:
    """The pairs of sibling stages (by name, each pair and the pairs in order of name)
    that could run at once, from each stage's kind."""
    return [
        (a, b)
        for a, b in combinations(sorted(kinds, key=str), 2)  # names: whatever a trace wrote
        if _could_overlap((a, kinds[a]), (b, kinds[b]))
    ]


def suggestion(
    stages: tuple[str, ...], saving_ms: float, saving_pct: float, sequential: float
) -> str:
    """The report's line for one pair (it contains "parallel", as tools rely on)."""
    names = " and ".join(stages)
    return (
        f"consider running {names} in parallel: they ran one after the other in "
        f"{100 * sequential:.0f}% of turns; if neither needs the other's result, starting them "
        f"together would save about {saving_ms:,.0f} ms at p50 ({100 * saving_pct:.0f}%) "
        f"— check with --what-if parallel:{','.join(stages)}"
    )

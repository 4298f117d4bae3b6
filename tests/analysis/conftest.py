"""Span builders shared by the analysis tests: constructed `Span` lists and OTLP JSON lines."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

import pytest

from rag_otel.analysis.model import Span

MS = 1_000_000


def span(
    span_id: str,
    parent: str | None,
    start_ms: float | None,
    end_ms: float | None,
    *,
    stage: str | None = None,
    turn: bool = False,
    trace: str = "t1",
    name: str | None = None,
    error: bool = False,
    follows_from: bool = False,
    first_chunk_ms: float | None = None,
) -> Span:
    return Span(
        trace_id=trace,
        span_id=span_id,
        parent_id=parent,
        name=name or ("rag.turn" if turn else f"rag.{stage or span_id}"),
        start_ns=None if start_ms is None else round(start_ms * MS),
        end_ns=None if end_ms is None else round(end_ms * MS),
        stage=stage,
        is_turn=turn,
        error=error,
        follows_from=follows_from,
        first_chunk_ns=None if first_chunk_ms is None else round(first_chunk_ms * MS),
    )


def pipeline(
    n: int = 100,
    *,
    seed: int = 1,
    slow: dict[str, float] | None = None,
    first_chunk: float | None = None,
) -> list[Span]:
    """`n` rag-otel-shaped turns: embed, vector_search || bm25, fusion, rerank, generate.

    With ``first_chunk`` (a fraction), generate streams: its first chunk arrives that far
    into it; the durations do not depend on it (same seed, same durations)."""
    rng = random.Random(seed)
    slow = slow or {}
    out: list[Span] = []
    for t in range(n):
        trace = f"{seed:04x}{t:028x}"
        base = 1_700_000_000_000.0 + t * 10_000.0  # ms
        d = {
            "embed": rng.uniform(5, 10),
            "vector_search": rng.lognormvariate(3.0, 0.3),
            "bm25": rng.lognormvariate(2.5, 0.5),
            "fusion": 0.3,
            "rerank": rng.lognormvariate(3.5, 0.4),
            "generate": rng.lognormvariate(6.0, 0.3),
        }
        d = {k: v * slow.get(k, 1.0) for k, v in d.items()}
        root = f"{t:08x}00000001"

        def sid(i: int, t: int = t) -> str:
            return f"{t:08x}{i:08x}"

        c = base + 0.2
        out.append(span(sid(2), root, c, c + d["embed"], stage="embed", trace=trace))
        c += d["embed"]
        out.append(
            span(sid(3), root, c, c + d["vector_search"], stage="vector_search", trace=trace)
        )
        out.append(span(sid(4), root, c, c + d["bm25"], stage="bm25", trace=trace))
        c += max(d["vector_search"], d["bm25"])
        out.append(span(sid(5), root, c, c + d["fusion"], stage="fusion", trace=trace))
        c += d["fusion"]
        out.append(span(sid(6), root, c, c + d["rerank"], stage="rerank", trace=trace))
        c += d["rerank"]
        err = rng.random() < 0.05
        first = None if first_chunk is None else c + first_chunk * d["generate"]
        out.append(
            span(
                sid(7),
                root,
                c,
                c + d["generate"],
                stage="generate",
                trace=trace,
                error=err,
                first_chunk_ms=first,
            )
        )
        c += d["generate"]
        out.append(span(root, None, base, c + 0.5, turn=True, trace=trace))
    return out


def _attr(key: str, value: str) -> dict[str, object]:
    return {"key": key, "value": {"stringValue": value}}


def to_otlp_line(s: Span) -> str:
    """One OTLP JSON line (`{"resourceSpans": ...}`), as the Collector's file exporter writes."""
    attrs = []
    if s.stage is not None:
        attrs.append(_attr("rag.stage", s.stage))
    if s.stage_kind is not None:
        attrs.append(_attr("rag.stage.kind", s.stage_kind))
    if s.is_turn:
        attrs.append(_attr("rag.turn.id", s.span_id))
    body: dict[str, object] = {
        "traceId": s.trace_id.rjust(32, "0"),
        "spanId": s.span_id.rjust(16, "0"),
        "name": s.name,
        "kind": 2 if s.is_turn else 1,
        "startTimeUnixNano": str(s.start_ns),
        "endTimeUnixNano": str(s.end_ns),
        "attributes": attrs,
        "status": {"code": 2} if s.error else {},
    }
    if s.first_chunk_ns is not None:  # as rag-otel's streamed generation stages write it
        body["events"] = [{"timeUnixNano": str(s.first_chunk_ns), "name": "rag.first_chunk"}]
    if s.parent_id:
        body["parentSpanId"] = s.parent_id.rjust(16, "0")
    doc = {
        "resourceSpans": [
            {
                "resource": {"attributes": [_attr("service.name", "faq-bot")]},
                "scopeSpans": [{"scope": {"name": "rag_otel"}, "spans": [body]}],
            }
        ]
    }
    return json.dumps(doc, separators=(",", ":"))


def write_otlp(path: Path, spans: list[Span]) -> Path:
    path.write_text("".join(to_otlp_line(s) + "\n" for s in spans))
    return path


@pytest.fixture
def make_pipeline() -> Callable[..., list[Span]]:
    return pipeline


@pytest.fixture
def otlp_file(tmp_path: Path) -> Callable[[str, list[Span]], Path]:
    def make(name: str, spans: list[Span]) -> Path:
        return write_otlp(tmp_path / name, spans)

    return make


@pytest.fixture
def mk() -> Callable[..., Span]:
    """`mk(span_id, parent, start_ms, end_ms, stage=..., turn=..., trace=...)` builds a `Span`."""
    return span

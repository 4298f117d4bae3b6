from __future__ import annotations

from collections.abc import Callable

from rag_otel.analysis.critical_path import Shares
from rag_otel.analysis.model import Diagnostics, Span
from rag_otel.analysis.report import analyze
from rag_otel.analysis.verdict import decide


def sh(stages: dict[str, float], rest: float = 0.0) -> Shares:
    return Shares(10, 10, stages, rest)


def test_verdict_names_the_dominant_stage_and_its_margin() -> None:
    s = sh({"generate": 0.71, "rerank": 0.19, "embed": 0.05}, 0.05)
    v = decide(s, s, s)
    assert v.stage == "generate"
    assert v.runner_up == "rerank"
    assert v.lines == (
        "optimise this next: generate — 71% of turn time on the critical path, "
        "52 points ahead of rerank",
    )


def test_verdict_says_when_p95_differs() -> None:
    overall = sh({"generate": 0.6, "rerank": 0.3}, 0.1)
    p50 = sh({"generate": 0.7, "rerank": 0.2}, 0.1)
    p95 = sh({"generate": 0.3, "rerank": 0.6}, 0.1)
    v = decide(overall, p50, p95)
    assert v.p50_stage == "generate"
    assert v.p95_stage == "rerank"
    assert len(v.lines) == 2
    assert v.lines[1] == (
        "at p95 the answer differs: rerank — 60% of the p95 turns' time (at p50: generate, 70%)"
    )


def test_verdict_without_stages_and_with_large_untraced_time() -> None:
    empty = sh({}, 1.0)
    assert decide(empty, empty, empty).stage is None
    s = sh({"generate": 0.3}, 0.7)
    v = decide(s, s, s)
    assert "the only stage" in v.lines[0]
    assert v.lines[-1].startswith("note: 70% of turn time is in no stage")


def test_report_verdict_follows_the_slow_tail(make_pipeline: Callable[..., list[Span]]) -> None:
    # generate dominates typical turns, but 6 of 100 turns have a pathological rerank
    spans = make_pipeline(94, seed=4) + make_pipeline(6, seed=5, slow={"rerank": 60.0})
    report = analyze(spans, diagnostics=Diagnostics())
    assert report.verdict.stage == "generate"
    assert report.verdict.p95_stage == "rerank"
    assert report.verdict.lines[1].startswith("at p95 the answer differs: rerank")

from __future__ import annotations

import json
from collections.abc import Callable

from rag_otel.analysis.compare import compare, render_comparison
from rag_otel.analysis.model import Diagnostics, Span
from rag_otel.analysis.report import analyze

Pipeline = Callable[..., list[Span]]


def test_a_doubled_stage_is_a_significant_regression(make_pipeline: Pipeline) -> None:
    base = analyze(make_pipeline(150, seed=1), diagnostics=Diagnostics())
    new = analyze(make_pipeline(150, seed=2, slow={"rerank": 2.0}), diagnostics=Diagnostics())
    c = compare(base, new)
    regs = c.regressions(10)
    # rerank doubled (and it drags the whole turn's p50 up with it); no other stage moved
    assert {d.stage for d in regs} - {"(turn)"} == {"rerank"}
    r50 = next(d for d in c.deltas if d.stage == "rerank" and d.quantile == "p50")
    assert 60 < r50.change_pct < 140
    assert r50.ci_low_pct > 10
    assert r50.ci_low_pct <= r50.change_pct <= r50.ci_high_pct


def test_same_distribution_is_not_a_regression(make_pipeline: Pipeline) -> None:
    base = analyze(make_pipeline(150, seed=1), diagnostics=Diagnostics())
    new = analyze(make_pipeline(150, seed=3), diagnostics=Diagnostics())
    c = compare(base, new)
    assert c.regressions(10) == []
    assert {d.stage for d in c.deltas} >= {"embed", "rerank", "generate", "(turn)"}


def test_compare_is_reproducible_and_renders(make_pipeline: Pipeline) -> None:
    base = analyze(make_pipeline(80, seed=1), diagnostics=Diagnostics())
    new = analyze(make_pipeline(80, seed=2, slow={"embed": 3.0}), diagnostics=Diagnostics())
    assert compare(base, new) == compare(base, new)
    c = compare(base, new)
    doc = json.loads(render_comparison(c, "json", 10))
    assert any(d["regression"] and d["stage"] == "embed" for d in doc["deltas"])
    assert "REGRESSION" in render_comparison(c, "table", 10)
    assert "| embed | p50 |" in render_comparison(c, "markdown", 10)
    assert render_comparison(c, "csv").startswith("stage,quantile,")


def test_stages_in_only_one_run_are_listed(make_pipeline: Pipeline) -> None:
    spans = make_pipeline(30, seed=1)
    base = analyze(spans, diagnostics=Diagnostics())
    new = analyze([s for s in spans if s.stage != "fusion"], diagnostics=Diagnostics())
    c = compare(base, new)
    assert c.only_in_baseline == ["fusion"]
    assert c.only_in_new == []

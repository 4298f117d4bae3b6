from __future__ import annotations

import json
from collections.abc import Callable

from rag_otel.analysis.compare import compare
from rag_otel.analysis.model import Diagnostics, Span
from rag_otel.analysis.renderers import render_comparison
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


def test_bootstrap_quantiles_match_drawing_the_resamples() -> None:
    # the order-statistic shortcut has the distribution of quantiles of real resamples
    # (seeded: deterministic; an off-by-one rank moves whole percents of mass)
    import random
    from collections import Counter

    from rag_otel.analysis.compare import bootstrap_quantiles
    from rag_otel.analysis.stats import percentile

    values = [1.0, 2.0, 5.0, 11.0, 12.0]
    draws = 20_000
    for q in (0.5, 0.95, 0.3):
        fast = bootstrap_quantiles(values, q, resamples=draws, rng=random.Random(1))
        rng = random.Random(2)
        slow = [percentile(sorted(rng.choice(values) for _ in values), q) for _ in range(draws)]
        seen_fast = Counter(round(v, 9) for v in fast)
        seen_slow = Counter(round(v, 9) for v in slow)
        for value in set(seen_fast) | set(seen_slow):
            assert abs(seen_fast[value] - seen_slow[value]) / draws < 0.012, (q, value)

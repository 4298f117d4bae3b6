from __future__ import annotations

import random
import statistics

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rag_otel.analysis.stats import PERCENTILE_METHOD, QUANTILES, percentile, summarize


def test_percentile_on_known_data() -> None:
    xs = [1.0, 2.0, 3.0, 4.0]
    assert percentile(xs, 0.5) == 2.5
    assert percentile(xs, 0.9) == pytest.approx(3.7)
    assert percentile(xs, 0.0) == 1.0
    assert percentile(xs, 1.0) == 4.0
    assert percentile([7.0], 0.95) == 7.0


def test_percentile_matches_numpy_linear_and_statistics_inclusive() -> None:
    rng = random.Random(3)
    xs = sorted(rng.lognormvariate(3, 1) for _ in range(1001))
    for q in QUANTILES:
        assert percentile(xs, q) == pytest.approx(float(np.quantile(xs, q, method="linear")))
    cuts = statistics.quantiles(xs, n=100, method="inclusive")
    assert percentile(xs, 0.95) == pytest.approx(cuts[94])
    assert percentile(xs, 0.5) == pytest.approx(statistics.median(xs))


@given(st.lists(st.integers(0, 10**12), min_size=1, max_size=200), st.floats(0, 1))
def test_percentile_property_matches_numpy(values: list[int], q: float) -> None:
    xs = sorted(values)
    assert percentile(xs, q) == pytest.approx(float(np.quantile(xs, q)), rel=1e-9, abs=1e-3)


def test_percentile_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)
    with pytest.raises(ValueError, match="outside"):
        percentile([1.0], 1.5)


def test_summarize_in_milliseconds() -> None:
    ns = [10_000_000, 20_000_000, 30_000_000, 40_000_000]
    s = summarize("rerank", ns, count=5, turns=4, errors=1)
    assert (s.count, s.turns, s.timed, s.errors) == (5, 4, 4, 1)
    assert s.mean_ms == 25.0
    assert s.p50_ms == 25.0
    assert s.max_ms == 40.0
    assert s.p95_ms == pytest.approx(38.5)
    empty = summarize("x", [], count=2, turns=0, errors=0)
    assert empty.p50_ms is None
    assert empty.count == 2


def test_method_is_named() -> None:
    assert "type 7" in PERCENTILE_METHOD
    assert "quantile_cont" in PERCENTILE_METHOD

"""`rag-otel compare`'s bootstrap: plain Python order statistics vs numpy resampling.

`compare` draws each resampled quantile from two order statistics (two random numbers,
whatever the sample size; no numpy). The baseline is the textbook numpy bootstrap it
replaced: build every resample (``resamples x n`` indices), then take its quantiles.
Both compute the p50 and p95 interval of one stage from 1000 resamples, at n = 100 (about
the turns of a demo run), 1000 and 4000 samples per side; the ratio is numpy / plain.
"""

from __future__ import annotations

import random

from _harness import Result, time_calls
from rag_otel.analysis.compare import RESAMPLES, bootstrap_quantiles

TITLE = "compare's bootstrap (bench_compare: 1000 resamples, p50 + p95, one stage, both sides)"
SIZES = (100, 1000, 4000)


def _samples(n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return sorted(rng.lognormvariate(17.0, 0.4) for _ in range(n))


def _plain(base: list[float], new: list[float]) -> None:
    rng = random.Random(0)
    for q in (0.5, 0.95):
        bootstrap_quantiles(base, q, resamples=RESAMPLES, rng=rng)
        bootstrap_quantiles(new, q, resamples=RESAMPLES, rng=rng)


def _numpy(base: list[float], new: list[float]) -> None:
    import numpy as np

    rng = np.random.default_rng(0)
    for values in (np.asarray(base), np.asarray(new)):
        n = len(values)
        np.quantile(values[rng.integers(0, n, (RESAMPLES, n))], [0.5, 0.95], axis=1)


def results(quick: bool) -> list[Result]:
    try:
        import numpy  # noqa: F401
    except ImportError:
        return [Result("numpy baseline", 0.0, "", note="numpy not installed: no baseline")]
    out: list[Result] = []
    number, repeats = (2, 2) if quick else (5, 3)
    for n in SIZES:
        base, new = _samples(n, 1), _samples(n, 2)
        timings = time_calls(
            {
                "numpy": lambda b=base, w=new: _numpy(b, w),
                "plain": lambda b=base, w=new: _plain(b, w),
            },
            number=number,
            repeats=repeats,
        )
        plain, baseline = timings["plain"].median, timings["numpy"].median
        out.append(Result(f"numpy resampling, n={n}", baseline / 1e6, "ms"))
        out.append(
            Result(
                f"order statistics (compare), n={n}",
                plain / 1e6,
                "ms",
                baseline=f"numpy resampling, n={n}",
                ratio=plain / baseline,
                note="cost independent of n",
            )
        )
    return out

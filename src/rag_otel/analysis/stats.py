"""Latency statistics on lists of durations: pure functions.

Percentiles use linear interpolation between closest ranks: for ``n`` sorted
values the ``q`` quantile sits at rank ``h = (n - 1) q`` and is
``x[floor(h)] + (h - floor(h)) (x[floor(h) + 1] - x[floor(h)])``. This is
Hyndman & Fan's type 7, numpy's default (``method="linear"``), DuckDB's
``quantile_cont`` and ``statistics.quantiles(..., method="inclusive")``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

PERCENTILE_METHOD = (
    "linear interpolation between closest ranks (Hyndman-Fan type 7: "
    "numpy 'linear', DuckDB quantile_cont)"
)
QUANTILES: tuple[float, ...] = (0.5, 0.9, 0.95, 0.99)

_NS_PER_MS = 1_000_000.0


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0 <= q <= 1) of already sorted values, type 7."""
    n = len(sorted_values)
    if n == 0:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile {q} outside [0, 1]")
    h = (n - 1) * q
    lo = math.floor(h)
    if lo + 1 >= n:
        return float(sorted_values[-1])
    x0 = sorted_values[lo]
    return float(x0 + (h - lo) * (sorted_values[lo + 1] - x0))


@dataclass(frozen=True, slots=True)
class LatencyStats:
    """One row of the latency table; times in milliseconds (None when nothing was timed)."""

    name: str
    count: int
    """Spans seen, timed or not."""
    turns: int
    """Turns the stage appears in."""
    timed: int
    """Spans with a duration (the samples behind the times)."""
    errors: int
    mean_ms: float | None
    p50_ms: float | None
    p90_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    kind: str | None = None
    """The stage's kind (`conventions.STAGE_KINDS`); None for whole turns and histograms."""
    source: str | None = None
    """Convention the stage (or the turns) was recognised from: `conventions.SOURCE_*`."""


def summarize(
    name: str,
    durations_ns: Sequence[int],
    *,
    count: int,
    turns: int,
    errors: int,
    kind: str | None = None,
    source: str | None = None,
) -> LatencyStats:
    """Stats of one stage (or of whole turns) from its durations in nanoseconds."""
    if not durations_ns:
        return LatencyStats(
            name, count, turns, 0, errors, None, None, None, None, None, None, kind, source
        )
    xs = sorted(durations_ns)
    p50, p90, p95, p99 = (percentile(xs, q) / _NS_PER_MS for q in QUANTILES)
    return LatencyStats(
        name,
        count,
        turns,
        len(xs),
        errors,
        sum(xs) / len(xs) / _NS_PER_MS,
        p50,
        p90,
        p95,
        p99,
        xs[-1] / _NS_PER_MS,
        kind,
        source,
    )

"""``rag-otel compare BASELINE NEW``: did a stage get slower, and is it real?

For each stage, whole turns and the time to first token (``(first token)``: from a
turn's start to its first streamed chunk), when present in both reports, the p50 and
p95 of the new run are compared with the baseline's: the relative change, and a
bootstrap confidence interval for it (percentile bootstrap: both samples are
resampled with replacement and the quantile ratio computed on each resample;
the seed is fixed, so the result is reproducible).

The bootstrap needs no resample to be drawn. The q quantile of a resample of n
sorted values only depends on two of its order statistics, and the k-th smallest
of n draws with replacement is ``x[floor(n U)]`` where U, the k-th smallest of n
uniforms, follows Beta(k, n - k + 1); the next one is the smallest of the
n - k uniforms above U. Each resampled quantile is then two random numbers and
two lookups, exact and O(1) whatever the sample size: plain Python, no numpy,
and every sample is used.

A *regression* is a change slower than the threshold whose confidence interval
lies entirely above zero: the slowdown is larger than the noise. A `Comparison` is
rendered like a report, by `rag_otel.analysis.renderers` (``render_comparison``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from rag_otel.analysis.report import FIRST_TOKEN_ROW, TURN_ROW, Report
from rag_otel.analysis.stats import percentile

RESAMPLES = 1000
CONFIDENCE = 0.95
COMPARED_QUANTILES: tuple[tuple[str, float], ...] = (("p50", 0.5), ("p95", 0.95))


@dataclass(frozen=True, slots=True)
class Delta:
    stage: str
    quantile: str
    """"p50" or "p95"."""
    baseline_ms: float
    new_ms: float
    change_pct: float
    """(new / baseline - 1) * 100: positive is slower."""
    ci_low_pct: float
    ci_high_pct: float
    baseline_n: int
    new_n: int

    def is_regression(self, threshold_pct: float) -> bool:
        return self.change_pct > threshold_pct and self.ci_low_pct > 0


@dataclass(frozen=True, slots=True)
class Comparison:
    baseline: str
    new: str
    deltas: list[Delta]
    only_in_baseline: list[str]
    only_in_new: list[str]
    confidence: float = CONFIDENCE
    resamples: int = RESAMPLES

    def regressions(self, threshold_pct: float) -> list[Delta]:
        return [d for d in self.deltas if d.is_regression(threshold_pct)]

    @property
    def method(self) -> str:
        return (
            f"{100 * self.confidence:g}% percentile-bootstrap interval of the change, "
            f"{self.resamples} seeded resamples of all samples per side"
        )


def _uniform_order_statistic(rng: random.Random, *, k: int, n: int) -> float:
    """The k-th smallest (1-based) of n independent uniforms on [0, 1): Beta(k, n - k + 1)."""
    below = rng.gammavariate(k, 1.0)
    above = rng.gammavariate(n - k + 1, 1.0)
    return below / (below + above)


def _at(sorted_values: Sequence[float], u: float) -> float:
    """The value a uniform draw `u` picks when drawing one of the values with replacement."""
    n = len(sorted_values)
    return float(sorted_values[min(int(u * n), n - 1)])


def bootstrap_quantiles(
    sorted_values: Sequence[float], q: float, *, resamples: int, rng: random.Random
) -> list[float]:
    """The type-7 `q` quantile of each of `resamples` bootstrap resamples of `sorted_values`.

    Drawn exactly from the order statistics of the resample (see the module docstring), so
    the cost does not depend on the number of values.
    """
    n = len(sorted_values)
    h = (n - 1) * q
    lo = math.floor(h)
    frac = h - lo
    out: list[float] = []
    for _ in range(resamples):
        u = _uniform_order_statistic(rng, k=lo + 1, n=n)
        x0 = _at(sorted_values, u)
        if frac == 0.0 or lo + 1 >= n:
            out.append(x0)
            continue
        # the (lo + 2)-th smallest: the least of the n - lo - 1 uniforms above u
        u_next = u + (1.0 - u) * (1.0 - rng.random() ** (1.0 / (n - lo - 1)))
        out.append(x0 + frac * (_at(sorted_values, u_next) - x0))
    return out


def _interval(
    baseline: Sequence[float],
    new: Sequence[float],
    q: float,
    *,
    alpha: float,
    resamples: int,
    rng: random.Random,
) -> tuple[float, float]:
    """(low, high) bootstrap interval of new_q / baseline_q; NaN when no ratio is finite."""
    b_boot = bootstrap_quantiles(baseline, q, resamples=resamples, rng=rng)
    n_boot = bootstrap_quantiles(new, q, resamples=resamples, rng=rng)
    ratios = sorted(nq / bq for bq, nq in zip(b_boot, n_boot, strict=True) if bq > 0)
    if not ratios:
        return float("nan"), float("nan")
    return percentile(ratios, alpha), percentile(ratios, 1 - alpha)


def compare(
    baseline: Report,
    new: Report,
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Comparison:
    rng = random.Random(seed)
    base_names = [s.name for s in baseline.stages if len(baseline.samples.get(s.name, ())) > 0]
    new_names = {s.name for s in new.stages if len(new.samples.get(s.name, ())) > 0}
    names = [n for n in base_names if n in new_names]
    only_base = [n for n in base_names if n not in new_names]
    only_new = sorted(new_names.difference(base_names))
    for row in (TURN_ROW, FIRST_TOKEN_ROW):
        in_base, in_new = len(baseline.samples.get(row, ())), len(new.samples.get(row, ()))
        if in_base and in_new:
            names.append(row)
        elif row == FIRST_TOKEN_ROW and (in_base or in_new):  # streaming started or stopped
            (only_base if in_base else only_new).append(row)
    alpha = (1 - confidence) / 2
    deltas: list[Delta] = []
    for name in names:
        b_all = sorted(float(x) for x in baseline.samples[name])
        n_all = sorted(float(x) for x in new.samples[name])
        for label, q in COMPARED_QUANTILES:
            bq, nq = percentile(b_all, q), percentile(n_all, q)
            low, high = _interval(b_all, n_all, q, alpha=alpha, resamples=resamples, rng=rng)
            change = (nq / bq - 1) * 100 if bq > 0 else float("inf") if nq > 0 else 0.0
            deltas.append(
                Delta(
                    stage=name,
                    quantile=label,
                    baseline_ms=bq / 1e6,
                    new_ms=nq / 1e6,
                    change_pct=change,
                    ci_low_pct=(low - 1) * 100,
                    ci_high_pct=(high - 1) * 100,
                    baseline_n=len(b_all),
                    new_n=len(n_all),
                )
            )
    return Comparison(
        baseline=", ".join(baseline.sources) or "baseline",
        new=", ".join(new.sources) or "new",
        deltas=deltas,
        only_in_baseline=only_base,
        only_in_new=only_new,
        confidence=confidence,
        resamples=resamples,
    )

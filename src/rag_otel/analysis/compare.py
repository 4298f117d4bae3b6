"""``rag-otel compare BASELINE NEW``: did a stage get slower, and is it real?

For each stage, whole turns and the time to first token (``(first token)``: from a
turn's start to its first streamed chunk), when present in both reports, the p50 and
p95 of the new run are compared with the baseline's: the relative change, and a
bootstrap confidence interval for it (percentile bootstrap: both samples are
resampled with replacement, the quantile ratio computed on each resample; the
seed is fixed and large samples are first subsampled, without replacement, to
`MAX_SAMPLES`, so the run time is bounded and the result reproducible).

A *regression* is a change slower than the threshold whose confidence interval
lies entirely above zero: the slowdown is larger than the noise.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from rag_otel.analysis.report import FIRST_TOKEN_ROW, TURN_ROW, Report

if TYPE_CHECKING:
    import numpy as np
    from rich.console import Console

RESAMPLES = 1000
MAX_SAMPLES = 4000
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
            f"{self.resamples} seeded resamples of at most {MAX_SAMPLES} samples per side"
        )


def compare(
    baseline: Report,
    new: Report,
    *,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> Comparison:
    import numpy as np

    rng = np.random.default_rng(seed)
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
        b_all = np.asarray(baseline.samples[name], dtype=np.float64)
        n_all = np.asarray(new.samples[name], dtype=np.float64)
        b = _bounded(b_all, rng)
        n = _bounded(n_all, rng)
        qs = [q for _, q in COMPARED_QUANTILES]
        b_boot = np.quantile(b[rng.integers(0, len(b), (resamples, len(b)))], qs, axis=1)
        n_boot = np.quantile(n[rng.integers(0, len(n), (resamples, len(n)))], qs, axis=1)
        for i, (label, q) in enumerate(COMPARED_QUANTILES):
            bq, nq = float(np.quantile(b_all, q)), float(np.quantile(n_all, q))
            with np.errstate(divide="ignore", invalid="ignore"):
                ratios = n_boot[i] / b_boot[i]
            ratios = ratios[np.isfinite(ratios)]
            low, high = (
                (float(x) for x in np.quantile(ratios, [alpha, 1 - alpha]))
                if len(ratios)
                else (float("nan"), float("nan"))
            )
            change = (nq / bq - 1) * 100 if bq > 0 else float("inf") if nq > 0 else 0.0
            deltas.append(
                Delta(
                    name,
                    label,
                    bq / 1e6,
                    nq / 1e6,
                    change,
                    (low - 1) * 100,
                    (high - 1) * 100,
                    len(b_all),
                    len(n_all),
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


def _bounded(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if len(values) <= MAX_SAMPLES:
        return values
    return rng.choice(values, MAX_SAMPLES, replace=False)


# --- rendering ------------------------------------------------------------------------------


def _row(d: Delta) -> list[str]:
    return [
        d.stage,
        d.quantile,
        f"{d.baseline_ms:.3g}",
        f"{d.new_ms:.3g}",
        f"{d.change_pct:+.1f}%",
        f"[{d.ci_low_pct:+.1f}%, {d.ci_high_pct:+.1f}%]",
        f"{d.baseline_n}/{d.new_n}",
    ]


_HEADER = ("stage", "q", "baseline ms", "new ms", "change", "CI", "n base/new")


def _verdict_lines(c: Comparison, threshold: float | None) -> list[str]:
    lines = []
    if threshold is not None:
        regs = c.regressions(threshold)
        if regs:
            worst = max(regs, key=lambda d: d.change_pct)
            lines.append(
                f"REGRESSION: {len(regs)} stage quantile(s) slower by more than {threshold:g}% "
                f"(worst: {worst.stage} {worst.quantile} {worst.change_pct:+.1f}%, "
                f"CI [{worst.ci_low_pct:+.1f}%, {worst.ci_high_pct:+.1f}%])"
            )
        else:
            lines.append(f"no stage p50 or p95 significantly slower by more than {threshold:g}%")
    if c.only_in_baseline:
        lines.append(f"only in baseline: {', '.join(c.only_in_baseline)}")
    if c.only_in_new:
        lines.append(f"only in new: {', '.join(c.only_in_new)}")
    lines.append(f"CI: {c.method}")
    return lines


def print_comparison(c: Comparison, console: Console, threshold: float | None = None) -> None:
    from rich.table import Table

    table = Table(title=f"{c.baseline} → {c.new}", title_justify="left")
    table.add_column("stage", no_wrap=True)
    for h in _HEADER[1:]:
        table.add_column(h, justify="left" if h == "q" else "right", no_wrap=True)
    for d in c.deltas:
        style = None
        if threshold is not None and d.is_regression(threshold):
            style = "bold red"
        elif d.ci_high_pct < 0:
            style = "green"
        table.add_row(*_row(d), style=style)
    console.print(table)
    for line in _verdict_lines(c, threshold):
        console.print(line, highlight=False, markup=False)


def render_comparison(c: Comparison, fmt: str, threshold: float | None = None) -> str:
    if fmt == "json":
        doc = {
            "baseline": c.baseline,
            "new": c.new,
            "method": c.method,
            "threshold_pct": threshold,
            "deltas": [
                {**asdict(d), "regression": threshold is not None and d.is_regression(threshold)}
                for d in c.deltas
            ],
            "only_in_baseline": c.only_in_baseline,
            "only_in_new": c.only_in_new,
        }
        return json.dumps(doc, indent=2) + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        fields: Sequence[str] = list(Delta.__dataclass_fields__)
        w.writerow([*fields, "regression"])
        for d in c.deltas:
            reg = threshold is not None and d.is_regression(threshold)
            w.writerow([*(getattr(d, f) for f in fields), reg])
        return buf.getvalue()
    if fmt == "markdown":
        out = [f"## {c.baseline} → {c.new}", ""]
        out.append("| " + " | ".join(_HEADER) + " |")
        out.append("|---|---|" + "---:|" * (len(_HEADER) - 2))
        out += ["| " + " | ".join(_row(d)) + " |" for d in c.deltas]
        out += ["", *_verdict_lines(c, threshold)]
        return "\n".join(out) + "\n"
    if fmt == "table":
        from rich.console import Console

        buf = io.StringIO()
        print_comparison(c, Console(file=buf, width=110, color_system=None), threshold)
        return buf.getvalue()
    raise ValueError(f"unknown format {fmt!r}")

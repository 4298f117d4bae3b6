"""``--plot FILE.png``: per-stage latency distributions and critical-path shares in one figure.

Left: each stage's durations on a log scale (box from p25 to p75, whiskers to
p5 and p99, markers at p50 and p95, every sample as a faint dot), then whole turns
and, when turns streamed, the time to first token. Right: one stacked bar per turn
set (all turns, the p50 turns, the p95 turns) splitting turn time between the stages
on the critical path and the untraced remainder; below them the same three bars for
the time to first token (the path ending at the first chunk).
Needs the ``plot`` extra (matplotlib); the Agg backend, so no display is needed.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import TYPE_CHECKING

from rag_otel.analysis.renderers import attribution_rows
from rag_otel.analysis.report import FIRST_TOKEN_ROW, REMAINDER_ROW, TURN_ROW, Attributions, Report
from rag_otel.analysis.stats import percentile

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_MAX_DOTS = 400  # per stage: enough to see the shape, few enough to stay readable


def _ms(x: float) -> str:
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def plot_report(report: Report, path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = report_figure(report)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report_figure(report: Report) -> Figure:
    """The figure `plot_report` saves (the caller closes it: ``pyplot.close(fig)``)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    names = [s.name for s in report.stages if report.samples.get(s.name)]
    rows = names + [r for r in (TURN_ROW, FIRST_TOKEN_ROW) if report.samples.get(r)]
    palette = plt.get_cmap("tab10")
    colour = {name: palette(i % 10) for i, name in enumerate(names)}
    colour[TURN_ROW] = (0.3, 0.3, 0.3, 1.0)
    colour[FIRST_TOKEN_ROW] = (0.55, 0.1, 0.45, 1.0)
    colour[REMAINDER_ROW] = (0.82, 0.82, 0.82, 1.0)

    fig, (ax, bx) = plt.subplots(
        1,
        2,
        figsize=(13, max(3.8, 0.55 * len(rows) + 2.2)),
        gridspec_kw={"width_ratios": [3, 2]},
        layout="constrained",
    )

    rng = random.Random(0)
    lo, hi = float("inf"), 0.0
    for y, name in enumerate(reversed(rows)):
        xs = sorted(v / 1e6 for v in report.samples[name] if v > 0)
        if not xs:
            continue
        c = colour[name]
        lo, hi = min(lo, xs[0]), max(hi, xs[-1])
        dots = xs if len(xs) <= _MAX_DOTS else rng.sample(xs, _MAX_DOTS)
        ax.scatter(
            dots, [y + rng.uniform(-0.28, 0.28) for _ in dots], s=4, color=c, alpha=0.25, lw=0
        )
        p5, p25, p50, p75, p95, p99 = (
            percentile(xs, q) for q in (0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
        )
        ax.plot([p5, p99], [y, y], color=c, lw=1.2)
        ax.barh(y, p75 - p25, left=p25, height=0.5, color=c, alpha=0.35, edgecolor=c)
        ax.plot([p50, p50], [y - 0.25, y + 0.25], color="black", lw=2)
        ax.plot([p95], [y], marker="v", color="crimson", ms=7)
        ax.annotate(
            f"p50 {_ms(p50)}  p95 {_ms(p95)} ms",
            (p99, y),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(range(len(rows)), list(reversed(rows)))
    ax.set_xscale("log")
    ax.set_xlabel("duration (ms, log scale)")
    ax.set_title("latency per stage: box p25-p75, whiskers p5-p99, | p50, ▼ p95", fontsize=10)
    ax.grid(axis="x", which="both", alpha=0.25)
    if hi > 0:
        ax.set_xlim(lo / 2, hi * 6)  # room for the labels

    panels: list[tuple[str, Attributions]] = [("", report.attribution)]
    fa = report.first_token_attribution
    if fa is not None and fa.overall.turns:
        panels.append(("first token: ", fa))
    legend: dict[str, None] = {}
    for prefix, a in panels:
        sets = [
            (f"{prefix}all turns\n({a.overall.turns})", 1),
            (f"{prefix}p50 turns\n({a.at_p50.turns})", 2),
            (f"{prefix}p95 turns\n({a.at_p95.turns})", 3),
        ]
        share_rows = attribution_rows(report, a)
        legend.update((name, None) for name, *vals in share_rows if any(vals))
        for label, col in sets:
            left = 0.0
            for name, *vals in share_rows:
                v = vals[col - 1] or 0.0
                if v <= 0:
                    continue
                bx.barh(
                    label, 100 * v, left=left, color=colour.get(name, "grey"), edgecolor="white"
                )
                if v >= 0.1:
                    bx.text(
                        left + 50 * v, label, f"{name}\n{100 * v:.0f}%",
                        ha="center", va="center", fontsize=8,
                    )  # fmt: skip
                left += 100 * v
    bx.invert_yaxis()
    bx.set_xlim(0, 100)
    if len(panels) > 1:
        bx.set_xlabel("share on the critical path (%)")
        bx.set_title("where turn time and the time to first token go", fontsize=10)
    else:
        bx.set_xlabel("share of turn time on the critical path (%)")
        bx.set_title("where turn time goes (critical path)", fontsize=10)
    handles = [Rectangle((0, 0), 1, 1, color=colour.get(name, "grey")) for name in legend]
    bx.legend(
        handles,
        list(legend),
        loc="upper center",
        bbox_to_anchor=(0.5, -0.1),
        ncol=4,
        fontsize=8,
        frameon=False,
    )
    fig.suptitle("\n".join(report.verdict.lines[:2]), fontsize=11, fontweight="bold")
    return fig

"""Inline SVG charts for the HTML report, drawn here in Python: no script runs in the page.

    axis = Axis.fit([samples_a, samples_b], [p99_a_ms, p99_b_ms])   # log when they span decades
    svg = distributions([DistRow("retrieve", "#4e79a7", samples, markers)], axis)
    svg = share_bars([ShareBar("all turns (120)", [("retrieve", "#4e79a7", 0.61)])])

Durations arrive in nanoseconds (the `Report.samples` arrays) and are drawn in
milliseconds. Only binned counts reach the page (`BINS` per row), never the samples,
so a chart's size does not grow with the input. Every text is escaped; colours, sizes
and coordinates are numbers formatted here.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

from rag_otel.analysis.tables import ms_text

BINS = 48
WIDTH = 760
LABEL_W = 170
PLOT_W = WIDTH - LABEL_W - 20
ROW_H = 46
AXIS_H = 28
LOG_WHEN_RATIO = 100.0
"""Use a log axis when the largest time drawn is this many times the smallest (two decades)."""
MARKERS: tuple[str, ...] = ("p50", "p95", "p99")

PALETTE: tuple[str, ...] = (
    "#4e79a7",
    "#f28e2b",
    "#59a14f",
    "#e15759",
    "#76b7b2",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#6b8fd6",
)
UNTRACED_COLOUR = "#9aa0a6"


def colour(i: int) -> str:
    """The colour of the i-th stage (the same stage has the same colour in every chart)."""
    return PALETTE[i % len(PALETTE)]


@dataclass(frozen=True, slots=True)
class Axis:
    """A time axis in milliseconds, linear or log."""

    lo: float
    hi: float
    log: bool

    @staticmethod
    def fit(samples: Sequence[Sequence[int]], extra_ms: Sequence[float | None] = ()) -> Axis:
        """An axis covering every sample (ns) and the extra times (ms, e.g. percentiles)."""
        values = [v / 1e6 for xs in samples if len(xs) for v in (min(xs), max(xs))]
        values += [v for v in extra_ms if v is not None]
        positive = [v for v in values if v > 0]
        if not positive:
            return Axis(0.0, 1.0, False)
        lo, hi = min(positive), max(positive)
        if hi / lo >= LOG_WHEN_RATIO:
            return Axis(lo, hi, True)
        low = min(values)
        return Axis(0.0 if low >= 0 else low, hi if hi > 0 else 1.0, False)

    def x(self, ms: float) -> float:
        """The x coordinate (0 to PLOT_W) of a time in milliseconds, clamped to the axis."""
        if self.log:
            lo, hi = math.log10(self.lo), math.log10(self.hi)
            v = math.log10(ms) if ms > 0 else lo
            f = 0.5 if hi == lo else (v - lo) / (hi - lo)
        else:
            f = 0.5 if self.hi == self.lo else (ms - self.lo) / (self.hi - self.lo)
        return PLOT_W * min(max(f, 0.0), 1.0)

    def ticks(self) -> list[float]:
        if self.log:
            first = math.floor(math.log10(self.lo))
            last = math.ceil(math.log10(self.hi))
            steps = (1,) if last - first > 3 else (1, 2, 5)
            out = [
                m * 10.0**e
                for e in range(first, last + 1)
                for m in steps
                if self.lo <= m * 10.0**e <= self.hi
            ]
            return out or [self.lo, self.hi]
        span = self.hi - self.lo
        if span <= 0:
            return [self.lo]
        step = 10 ** math.floor(math.log10(span / 5))
        for m in (1, 2, 5, 10):
            if span / (m * step) <= 6:
                step *= m
                break
        first = math.ceil(self.lo / step) * step
        return [first + i * step for i in range(int((self.hi - first) / step) + 1)]

    def caption(self) -> str:
        return "ms, log scale" if self.log else "ms"


def histogram(samples: Sequence[int], axis: Axis, bins: int = BINS) -> list[int]:
    """Counts of the samples (ns) in `bins` equal-width bins of the axis (log-width on a log one)."""
    counts = [0] * bins
    if axis.log:
        lo, hi = math.log10(axis.lo * 1e6), math.log10(axis.hi * 1e6)
        width = (hi - lo) / bins or 1.0
        log10 = math.log10
        for v in samples:
            i = int((log10(v) - lo) / width) if v > 0 else 0
            counts[min(max(i, 0), bins - 1)] += 1
    else:
        lo_ns, hi_ns = axis.lo * 1e6, axis.hi * 1e6
        width = (hi_ns - lo_ns) / bins or 1.0
        for v in samples:
            i = int((v - lo_ns) / width)
            counts[min(max(i, 0), bins - 1)] += 1
    return counts


@dataclass(frozen=True, slots=True)
class DistRow:
    """One row of a distribution chart: a histogram (when there are samples) and its markers."""

    name: str
    colour: str
    samples: Sequence[int]
    markers: dict[str, float | None]
    """``p50`` / ``p95`` / ``p99`` in ms: the values the tables print."""
    overlay: Sequence[int] | None = None
    """A second run's samples, drawn as an outline over the first (compare)."""
    overlay_markers: dict[str, float | None] = field(default_factory=dict)


def _f(x: float) -> str:
    return f"{x:.1f}"


def _bars(counts: list[int], top: float, height: float, cls: str, fill: str | None) -> str:
    peak = max(counts) or 1
    w = PLOT_W / len(counts)
    d = []
    for i, c in enumerate(counts):
        if c:
            h = max(height * c / peak, 1.0)
            d.append(f"M{_f(LABEL_W + i * w)} {_f(top + height - h)}h{_f(w)}v{_f(h)}h{_f(-w)}z")
    style = f' fill="{fill}"' if fill else ""
    return f'<path class="{cls}"{style} d="{"".join(d)}"/>' if d else ""


def _outline(counts: list[int], top: float, height: float, cls: str) -> str:
    peak = max(counts) or 1
    w = PLOT_W / len(counts)
    pts = [f"M{_f(LABEL_W)} {_f(top + height)}"]
    for i, c in enumerate(counts):
        y = top + height - height * c / peak
        pts.append(f"V{_f(y)}H{_f(LABEL_W + (i + 1) * w)}")
    pts.append(f"V{_f(top + height)}")
    return f'<path class="{cls}" d="{"".join(pts)}"/>'


def _markers(
    markers: dict[str, float | None], axis: Axis, top: float, cls: str, left: bool = False
) -> str:
    """p50/p95/p99 as lines with their labels one under the other; ``left`` puts the labels
    left of their lines (a second run's, so that close markers of two runs stay readable)."""
    out = []
    anchor = ' text-anchor="end"' if left else ""
    for n, label in enumerate(MARKERS):
        ms = markers.get(label)
        if ms is None:
            continue
        x = LABEL_W + axis.x(ms)
        text = f"{label} {ms_text(ms)} ms"
        out.append(
            f'<g class="{cls}"><title>{escape(text)}</title>'
            f'<line x1="{_f(x)}" x2="{_f(x)}" y1="{_f(top)}" y2="{_f(top + ROW_H - 8)}"/>'
            f'<text x="{_f(x - 2 if left else x + 2)}" y="{_f(top + 8 + 9 * n)}"{anchor}>'
            f"{label}</text></g>"
        )
    return "".join(out)


def distributions(rows: Sequence[DistRow], axis: Axis, title: str) -> str:
    """Small multiples sharing one time axis: per row a histogram with p50/p95/p99 marked
    (only the markers when a source has no samples, e.g. Prometheus histograms)."""
    height = len(rows) * ROW_H + AXIS_H
    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, row in enumerate(rows):
        top = i * ROW_H + 4
        bar_h = ROW_H - 14
        out.append(
            f'<text class="label" x="{LABEL_W - 8}" y="{_f(top + bar_h / 2 + 4)}" '
            f'text-anchor="end">{escape(_clip(row.name))}<title>{escape(row.name)}</title></text>'
        )
        out.append(
            f'<line class="base" x1="{LABEL_W}" x2="{LABEL_W + PLOT_W}" '
            f'y1="{_f(top + bar_h)}" y2="{_f(top + bar_h)}"/>'
        )
        if len(row.samples):
            out.append(_bars(histogram(row.samples, axis), top, bar_h, "bars", row.colour))
        else:
            out.append(_box(row.markers, axis, top, bar_h, row.colour))
        if row.overlay is not None and len(row.overlay):
            out.append(_outline(histogram(row.overlay, axis), top, bar_h, "overlay"))
            out.append(_markers(row.overlay_markers, axis, top, "marker new", left=True))
        out.append(_markers(row.markers, axis, top, "marker"))
    out.append(_axis(axis, len(rows) * ROW_H))
    out.append("</svg>")
    return "".join(out)


def _box(markers: dict[str, float | None], axis: Axis, top: float, h: float, fill: str) -> str:
    """Percentiles only: a bar from p50 to p99, thicker up to p95."""
    p50, p95, p99 = (markers.get(k) for k in MARKERS)
    if p50 is None:
        return ""
    x50 = LABEL_W + axis.x(p50)
    x95 = LABEL_W + axis.x(p95 if p95 is not None else p50)
    x99 = LABEL_W + axis.x(p99 if p99 is not None else p50)
    mid = top + h / 2
    return (
        f'<g class="box"><line stroke="{fill}" x1="{_f(x50)}" x2="{_f(x99)}" y1="{_f(mid)}" '
        f'y2="{_f(mid)}"/><rect fill="{fill}" x="{_f(x50)}" y="{_f(mid - 6)}" '
        f'width="{_f(max(x95 - x50, 2))}" height="12"/></g>'
    )


def _axis(axis: Axis, y: float) -> str:
    out = [f'<line class="axis" x1="{LABEL_W}" x2="{LABEL_W + PLOT_W}" y1="{_f(y)}" y2="{_f(y)}"/>']
    for t in axis.ticks():
        x = LABEL_W + axis.x(t)
        out.append(
            f'<line class="axis" x1="{_f(x)}" x2="{_f(x)}" y1="{_f(y)}" y2="{_f(y + 4)}"/>'
            f'<text class="tick" x="{_f(x)}" y="{_f(y + 15)}" text-anchor="middle">'
            f"{ms_text(t)}</text>"
        )
    out.append(
        f'<text class="tick" x="{LABEL_W + PLOT_W}" y="{_f(y + 26)}" text-anchor="end">'
        f"{axis.caption()}</text>"
    )
    return "".join(out)


def _clip(name: str, n: int = 24) -> str:
    return name if len(name) <= n else name[: n - 1] + "…"


@dataclass(frozen=True, slots=True)
class ShareBar:
    """One stacked bar: (stage, colour, share) segments, in the order drawn."""

    label: str
    segments: list[tuple[str, str, float]]


def share_bars(bars: Sequence[ShareBar], title: str) -> str:
    """Stacked bars of critical-path shares (each adds up to 100 %)."""
    bar_h, gap = 22, 10
    height = len(bars) * (bar_h + gap) + 4
    out = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
    ]
    for i, bar in enumerate(bars):
        top = 4 + i * (bar_h + gap)
        out.append(
            f'<text class="label" x="{LABEL_W - 8}" y="{top + 15}" text-anchor="end">'
            f"{escape(bar.label)}</text>"
        )
        x = float(LABEL_W)
        for name, fill, share in bar.segments:
            w = PLOT_W * max(share, 0.0)
            if w <= 0:
                continue
            text = f"{name}: {100 * share:.1f}%"
            out.append(
                f'<rect fill="{fill}" x="{_f(x)}" y="{top}" width="{_f(w)}" height="{bar_h}">'
                f"<title>{escape(text)}</title></rect>"
            )
            if w > 60:
                out.append(
                    f'<text class="inbar" x="{_f(x + 4)}" y="{top + 15}">'
                    f"{escape(_clip(name, int(w / 7)))} {100 * share:.1f}%</text>"
                )
            x += w
    out.append("</svg>")
    return "".join(out)

"""The HTML page of ``rag-otel compare``: per-stage p50/p95 changes with their intervals.

    page = comparison_html(comparison, baseline, new, threshold=10.0)

Built from the dict ``compare --format json`` prints (so the numbers agree), plus both
runs' samples for the overlaid distributions: the baseline filled, the new run as an
outline, each with its p50 and p95 marked; and under each run's verdict the waterfalls of
its p50 and p95 exemplar turns (one colour per stage across the page).
"""

from __future__ import annotations

from html import escape
from typing import Any

from rag_otel.analysis.compare import Comparison, Delta
from rag_otel.analysis.html.charts import Axis, DistRow, colour, distributions
from rag_otel.analysis.html.page import document, paragraphs, table
from rag_otel.analysis.html.report_page import WATERFALL_NOTE, stage_colours
from rag_otel.analysis.html.waterfall import waterfalls
from rag_otel.analysis.renderers import (
    DELTA_HEADER,
    comparison_dict,
    comparison_lines,
    delta_cells,
    is_regression,
)
from rag_otel.analysis.report import Report

EXEMPLARS = ("p50", "p95")
"""The exemplar turns drawn for each run."""


def _row_class(d: Delta, threshold: float | None) -> str:
    if is_regression(d, threshold):
        return "regression"
    if d.ci_high_pct < 0:
        return "faster"
    return ""


def comparison_html(
    comparison: Comparison,
    baseline: Report,
    new: Report,
    *,
    threshold: float | None = None,
    trace_url: str | None = None,
) -> str:
    """The HTML page of a comparison: both runs' distributions overlaid, each run's p50 and
    p95 turns drawn; ``trace_url`` (holding ``{trace_id}``) links the trace ids."""
    doc = comparison_dict(comparison, threshold)
    title = f"rag-otel compare: {doc['baseline']} → {doc['new']}"
    deltas: list[dict[str, Any]] = doc["deltas"]
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<div class="verdict">{paragraphs(comparison_lines(comparison, threshold))}</div>',
        "<h2>p50 and p95 change per stage</h2>",
        table(
            DELTA_HEADER,
            [delta_cells(d) for d in comparison.deltas],
            row_classes=[_row_class(d, threshold) for d in comparison.deltas],
            left=2,
        ),
        '<p class="dim">red: a regression (slower by more than the threshold, interval above '
        "zero); green: faster (interval below zero)</p>",
    ]
    names = list(dict.fromkeys(d["stage"] for d in deltas))
    if names:
        by = {(d["stage"], d["quantile"]): d for d in deltas}
        rows = [
            DistRow(
                name,
                colour(i),
                baseline.samples.get(name, ()),
                {q: by.get((name, q), {}).get("baseline_ms") for q in ("p50", "p95")},
                overlay=new.samples.get(name, ()),
                overlay_markers={q: by.get((name, q), {}).get("new_ms") for q in ("p50", "p95")},
            )
            for i, name in enumerate(names)
        ]
        axis = Axis.fit(
            [r.samples for r in rows] + [r.overlay or () for r in rows],
            [m for d in deltas for m in (d["baseline_ms"], d["new_ms"])],
        )
        body.append("<h2>Distributions: baseline (filled) and new (outline, red markers)</h2>")
        body.append(distributions(rows, axis, "baseline and new distributions"))
    body.append("<h2>Each run's verdict and its p50 and p95 turns</h2>")
    colours = stage_colours(s.name for r in (baseline, new) for s in r.stages)
    for label, report in (("baseline", baseline), ("new", new)):
        body.append(f"<h3>{escape(label)}: {escape(', '.join(report.sources) or label)}</h3>")
        body.append(f'<div class="verdict">{paragraphs(report.verdict.lines)}</div>')
        shown = [e for e in report.exemplars if e.label in EXEMPLARS]
        if shown:
            body.append(waterfalls(shown, colours, trace_url, run=label))
    if baseline.exemplars or new.exemplars:
        body.append(f'<p class="dim">{WATERFALL_NOTE}</p>')
    body.append("<h2>About this comparison</h2>" + paragraphs([f"CI: {doc['method']}"]))
    return document(title, "".join(body), doc)

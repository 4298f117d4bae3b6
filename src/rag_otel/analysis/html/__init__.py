"""The HTML report: one self-contained file to look at and pass around.

    from rag_otel.analysis.html import comparison_html, report_html

    Path("report.html").write_text(report_html(report, trace_url="http://localhost:16686/trace/{trace_id}"))
    Path("compare.html").write_text(comparison_html(comparison, baseline, new, threshold=10))

The page is built from the dict ``--format json`` prints (`report_page`), with inline SVG
charts drawn in Python (`charts`) and waterfalls of the exemplar turns (`waterfall`). It
works from ``file://`` with no network and runs no script; every string from a trace is
escaped.
"""

from __future__ import annotations

from rag_otel.analysis.html.compare_page import comparison_html
from rag_otel.analysis.html.report_page import report_page
from rag_otel.analysis.html.waterfall import check_template
from rag_otel.analysis.report import Report


def report_html(report: Report, *, trace_url: str | None = None) -> str:
    """The HTML page of a report; ``trace_url`` (holding ``{trace_id}``) links the trace ids."""
    return report_page(
        report.to_dict(), samples=report.samples, exemplars=report.exemplars, trace_url=trace_url
    )


__all__ = ["check_template", "comparison_html", "report_html"]

"""Per-stage latency analysis of RAG traces: readers -> span model -> stats and critical path -> renderers.

    from rag_otel.analysis import analyze_sources, render

    report = analyze_sources(["rag-otel-spans.jsonl"])
    print(render(report, "markdown"))
    print(report.verdict.lines[0])

Any source the command line takes (files, Jaeger, Phoenix, Prometheus, ClickHouse, chDB):
`load` (`rag_otel.analysis.sources`, the one table of sources). Each step is usable on its
own: `read_spans` / `read_many` (readers), `analyze` (spans -> `Report`), `render` (a
`Report` -> table, JSON, CSV or Markdown), `parse_change` (a ``--what-if`` change for
``load(..., what_if=[...])``).
"""

from rag_otel.analysis.model import Diagnostics, InputError, Span
from rag_otel.analysis.pipeline import analyze_sources
from rag_otel.analysis.readers import read_many, read_spans
from rag_otel.analysis.renderers import render
from rag_otel.analysis.report import Report, analyze
from rag_otel.analysis.sources import load
from rag_otel.analysis.whatif import parse_change

__all__ = [
    "Diagnostics",
    "InputError",
    "Report",
    "Span",
    "analyze",
    "analyze_sources",
    "load",
    "parse_change",
    "read_many",
    "read_spans",
    "render",
]

"""``rag-otel analyze`` and ``rag-otel compare``: thin wrappers over `rag_otel.analysis`.

    rag-otel analyze spans.jsonl                          # table in the terminal
    rag-otel analyze a.json b.json.gz - --format markdown --output report.md
    rag-otel analyze http://127.0.0.1:16686 --service faq-bot --since 1h --plot stages.png
    rag-otel analyze phoenix+http://127.0.0.1:6006/my-project --limit 200
    rag-otel analyze observations.json                    # Phoenix or Langfuse exports too
    rag-otel analyze spans.jsonl --stage-key component.name --kind-map '*Retriever=retrieval'
    rag-otel compare baseline.jsonl new.jsonl --fail-if-slower 10
    rag-otel analyze clickhouse://127.0.0.1:8123/otel --service faq-bot --since 1h
    rag-otel compare 'chdb:///data?since=2h&until=1h' 'chdb:///data?since=1h'

Exit codes: 0 ok, 1 regression found by ``compare --fail-if-slower``, 2 bad input or usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag_otel.analysis.report import Report

# the reader's formats, without importing the analysis at CLI start-up
FORMATS = (
    "otlp",
    "otlp-jsonl",
    "jaeger",
    "jaeger-v3",
    "jaeger-live",
    "phoenix",
    "phoenix-live",
    "langfuse",
)

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_BAD_INPUT = 2

OUTPUT_FORMATS = ("table", "json", "csv", "markdown")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "analyze",
        help="per-stage latency percentiles and the stage to optimise next",
        description=(
            "Per-stage count, mean, p50/p90/p95/p99, max and errors from trace files (OTLP, "
            "Jaeger, Phoenix or Langfuse JSON) or a live Jaeger or Phoenix, critical-path "
            "shares of turn time, and the stage to optimise next."
        ),
    )
    p.add_argument(
        "sources",
        nargs="+",
        metavar="SOURCE",
        help=(
            "OTLP JSON (lines), Jaeger, Phoenix or Langfuse JSON file (gzip ok), '-' for stdin, "
            "a Jaeger URL, phoenix+http://HOST:PORT/PROJECT, prometheus+http://HOST:PORT, "
            "clickhouse://[USER@]HOST[:PORT]/[DB][?table=...] or chdb:///DATADIR"
        ),
    )
    _input_options(p)
    p.add_argument(
        "--all-spans",
        action="store_true",
        help="treat every span as a stage (by its recognised stage name, else its span name), "
        "not only the spans a tracing convention recognises",
    )
    _recognition_options(p)
    _output_options(p)
    p.add_argument("--plot", metavar="FILE.png", help="also write a PNG: distributions and shares")
    _html_options(p)
    _what_if_option(p)
    p.set_defaults(handler=run_analyze)

    c = subparsers.add_parser(
        "compare",
        help="per-stage p50/p95 change between two runs, with confidence intervals (CI gate)",
        description=(
            "Compare per-stage p50 and p95 of NEW against BASELINE with a seeded bootstrap "
            "confidence interval, and the same for whole turns and the time to first token "
            "(turns that streamed a first chunk). With --fail-if-slower PCT, exit 1 when a "
            "stage, the whole turn or the time to first token is slower by more than PCT "
            "percent and the interval lies above zero."
        ),
    )
    c.add_argument("baseline", metavar="BASELINE", help="trace file, '-', Jaeger or Phoenix URL")
    c.add_argument("new", metavar="NEW", help="trace file, '-', Jaeger or Phoenix URL")
    _input_options(c)
    c.add_argument(
        "--all-spans",
        action="store_true",
        help="treat every span as a stage (default: every span a tracing convention recognises)",
    )
    _recognition_options(c)
    _output_options(c)
    c.add_argument(
        "--fail-if-slower",
        type=_percent,
        metavar="PCT",
        help=(
            "exit 1 if a p50 or p95 (of a stage, the turn, or the time to first token) is "
            "significantly slower by more than PCT percent"
        ),
    )
    _html_options(c, compare=True)
    c.set_defaults(handler=run_compare)


def _what_if_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--what-if",
        action="append",
        default=[],
        metavar="CHANGE",
        help=(
            "predict turn and first-token p50/p95 were CHANGE made, on each turn's trace tree: "
            "STAGE=0.5 (twice as fast; 0 removes it), STAGE=-40ms, parallel:A,B (start "
            "sibling stages together), A=0.5+B=0.5 (several at once); repeat for more, each "
            "evaluated on its own"
        ),
    )


def _percent(text: str) -> float:
    try:
        value = float(text.rstrip("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a percentage, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a percentage >= 0, got {text!r}")
    return value


def _input_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("input")
    g.add_argument(
        "--input-format",
        choices=FORMATS,
        help="force the input format (default: detected from the content)",
    )
    g.add_argument("--service", help="live Jaeger, Prometheus, ClickHouse: service name")
    g.add_argument(
        "--since",
        help=(
            "live Jaeger, Phoenix, Prometheus or ClickHouse: look back this far, e.g. 1h, 30m (or a timestamp)"
        ),
    )
    g.add_argument(
        "--until",
        help="live Jaeger, Phoenix, Prometheus or ClickHouse: end of the time range (default now)",
    )
    g.add_argument(
        "--limit",
        type=int,
        metavar="N",
        help="live Jaeger, Phoenix or ClickHouse: at most N traces",
    )


# --- --stage-key / --kind-map: the user's own recognition (rag_otel.analysis.overrides) ---


def _recognition_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("recognition, for spans no tracing convention names")
    g.add_argument(
        "--stage-key",
        metavar="ATTR",
        help="a span carrying attribute ATTR is a stage named by its value "
        "(e.g. a framework's component name)",
    )
    g.add_argument(
        "--kind-map",
        action="append",
        default=[],
        metavar="PATTERN=KIND",
        help="set the kind of stages whose name or type matches the glob PATTERN "
        "(repeatable, first match wins; KIND: embedding, retrieval, fusion, rerank, "
        "generation, tool, other)",
    )


def _recognition(args: argparse.Namespace) -> dict[str, Any]:
    return {"stage_key": args.stage_key, "kind_map": args.kind_map}


def _output_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("output")
    g.add_argument("--format", choices=OUTPUT_FORMATS, default="table", help="default: table")
    g.add_argument("--output", "-o", metavar="FILE", help="write there instead of stdout")


def _html_options(p: argparse.ArgumentParser, *, compare: bool = False) -> None:
    """--html FILE and --trace-url TEMPLATE: the self-contained HTML report."""
    g = p.add_argument_group("HTML report")
    shows = (
        "changes, overlaid distributions, each run's p50/p95 turns"
        if compare
        else "charts, exemplar turn waterfalls"
    )
    g.add_argument(
        "--html", metavar="FILE", help=f"also write a self-contained HTML report there ({shows})"
    )
    g.add_argument(
        "--trace-url",
        metavar="TEMPLATE",
        help="link trace ids in the HTML report, e.g. http://localhost:16686/trace/{trace_id}",
    )


def _html_check(args: argparse.Namespace) -> str | None:
    """Why the HTML options cannot work (checked before reading anything)."""
    template = args.trace_url
    if template is None:
        return None
    if not args.html:
        return "--trace-url links the trace ids of the HTML report: add --html FILE"
    from rag_otel.analysis.html import check_template

    return check_template(template)


def _error(message: str) -> int:
    print(f"rag-otel: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _load(sources: list[str], args: argparse.Namespace, *, attributes: bool = False) -> Report:
    """Read and analyse; raises InputError (fatal input problems, or no spans at all).
    ``attributes``: keep every span attribute (the HTML report's waterfalls show them)."""
    from rag_otel.analysis.sources import Options, load
    from rag_otel.analysis.whatif import parse_change

    what_if = tuple(parse_change(text) for text in getattr(args, "what_if", None) or ())

    return load(
        sources,
        Options(
            format=args.input_format,
            all_spans=args.all_spans,
            service=args.service,
            since=args.since,
            until=args.until,
            limit=args.limit,
            keep_attributes=attributes,
            what_if=what_if,
            **_recognition(args),
        ),
    )


def _write(text: str, output: str | None) -> None:
    if output is None:
        sys.stdout.write(text)
    else:
        Path(output).write_text(text, encoding="utf-8")


def run_analyze(args: argparse.Namespace) -> int:
    from rag_otel.analysis.model import InputError
    from rag_otel.cli.extras import require_extra

    problem = _html_check(args)
    if problem is not None:
        return _error(problem)
    if args.plot:  # before reading anything: a missing extra should not cost a full analysis
        missing = require_extra("analyze --plot", "plot")
        if missing is not None:
            return missing
    if args.plot:
        from rag_otel.analysis.sources import source_of

        if not all(source_of(s).spans for s in args.sources):
            return _error("--plot needs spans; a prometheus+ source has only histograms")
    try:
        report = _load(args.sources, args, attributes=bool(args.html))
    except InputError as exc:
        return _error(str(exc))
    try:
        if args.format == "table" and args.output is None:
            from rich.console import Console

            from rag_otel.analysis.renderers import print_table

            print_table(report, Console(highlight=False))
        else:
            from rag_otel.analysis.renderers import render

            _write(render(report, args.format), args.output)
        if args.plot:
            from rag_otel.analysis.plot import plot_report

            plot_report(report, args.plot)
        if args.html:
            from rag_otel.analysis.html import report_html

            Path(args.html).write_text(
                report_html(report, trace_url=args.trace_url), encoding="utf-8"
            )
    except OSError as exc:
        return _error(f"{exc.filename or args.output}: cannot write ({exc.strerror or exc})")
    return EXIT_OK


def run_compare(args: argparse.Namespace) -> int:
    from rag_otel.analysis.compare import compare
    from rag_otel.analysis.model import InputError
    from rag_otel.analysis.renderers import print_comparison, render_comparison

    problem = _html_check(args)
    if problem is not None:
        return _error(problem)
    try:
        baseline = _load([args.baseline], args, attributes=bool(args.html))
        new = _load([args.new], args, attributes=bool(args.html))
    except InputError as exc:
        return _error(str(exc))
    comparison = compare(baseline, new)
    threshold: float | None = args.fail_if_slower
    try:
        if args.format == "table" and args.output is None:
            from rich.console import Console

            print_comparison(comparison, Console(highlight=False), threshold)
        else:
            _write(render_comparison(comparison, args.format, threshold), args.output)
        if args.html:
            from rag_otel.analysis.html import comparison_html

            page = comparison_html(
                comparison, baseline, new, threshold=threshold, trace_url=args.trace_url
            )
            Path(args.html).write_text(page, encoding="utf-8")
    except OSError as exc:
        return _error(f"{exc.filename or args.output}: cannot write ({exc.strerror or exc})")
    if threshold is not None and comparison.regressions(threshold):
        return EXIT_REGRESSION
    return EXIT_OK

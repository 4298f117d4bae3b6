"""Render a `Report`, or a `Comparison` of two: a terminal table (rich), JSON, CSV or Markdown.

text = render(report, "markdown")     # or "table", "json", "csv"
print_table(report, Console())        # coloured, straight to a terminal
text = render_comparison(comparison, "markdown", threshold=10)   # rag-otel compare
print_comparison(comparison, Console(), threshold=10)
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, TypeVar

from rag_otel.analysis.compare import Comparison, Delta
from rag_otel.analysis.critical_path import Shares
from rag_otel.analysis.predictions import WhatIf
from rag_otel.analysis.readers import WARNINGS as READER_WARNINGS
from rag_otel.analysis.report import FIRST_TOKEN_ROW, REMAINDER_ROW, Attributions, Report
from rag_otel.analysis.stats import LatencyStats
from rag_otel.analysis.tables import TITLE_STYLE, FitTable, ms_text
from rag_otel.analysis.traces import WARNINGS as TRACE_WARNINGS

if TYPE_CHECKING:
    from rich.console import Console

FORMATS: tuple[str, ...] = ("table", "json", "csv", "markdown")

# One sentence per warning code, whether the reader or the trace assembly counted it.
WARNINGS: dict[str, str] = {**READER_WARNINGS, **TRACE_WARNINGS}

_LATENCY_COLUMNS = ("count", "turns", "mean", "p50", "p90", "p95", "p99", "max", "errors")
_KIND_COLUMNS = ("kind", "from")
"""What each stage is and the convention it was recognised from (for the turn row: how turns were found)."""


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _kind_cells(s: LatencyStats) -> list[str]:
    return [s.kind or "-", s.source or "-"]


def _latency_cells(s: LatencyStats) -> list[str]:
    return [
        str(s.count),
        str(s.turns),
        ms_text(s.mean_ms),
        ms_text(s.p50_ms),
        ms_text(s.p90_ms),
        ms_text(s.p95_ms),
        ms_text(s.p99_ms),
        ms_text(s.max_ms),
        str(s.errors),
    ]


def attribution_rows(
    report: Report, attribution: Attributions | None = None
) -> list[tuple[str, float | None, float | None, float | None]]:
    """(stage, overall share, share at the p50 turns, at the p95 turns), largest first, then
    untraced; of turn time, or of another `Attributions` (the time to first token's)."""
    a = attribution if attribution is not None else report.attribution
    names = [name for name, _ in a.overall.ranked()]
    names += [s.name for s in report.stages if s.name not in a.overall.stages]

    def get(s: Shares, name: str) -> float | None:
        return s.stages.get(name, 0.0) if s.turns else None

    rows = [(n, get(a.overall, n), get(a.at_p50, n), get(a.at_p95, n)) for n in names]
    rest = [s.remainder if s.turns else None for s in (a.overall, a.at_p50, a.at_p95)]
    rows.append((REMAINDER_ROW, rest[0], rest[1], rest[2]))
    return rows


WHAT_IF_TITLE = "what if: turn and first-token times predicted from each turn's trace tree"
_WHAT_IF_COLUMNS = (
    "share",
    "turn p50",
    "turn p95",
    "saves p50",
    "saves p95",
    "TTFT p50",
    "TTFT p95",
)


def what_if_columns(report: Report) -> tuple[str, ...]:
    """The what-if table's columns after ``change``: TTFT only when some turn streamed."""
    if any(w.first_token_p50_ms is not None for w in report.what_if):
        return _WHAT_IF_COLUMNS
    return _WHAT_IF_COLUMNS[:-2]


def what_if_rows(report: Report) -> list[tuple[str, ...]]:
    """The what-if table: (change, share, predicted turn p50, p95, saving at p50 (ms and %),
    at p95[, predicted TTFT p50, p95]), as text; the default rows first, ranked by saving."""
    width = 1 + len(what_if_columns(report))

    def saving(ms: float, pct: float) -> str:
        return f"{ms_text(ms)} ({-100 * pct:+.0f}%)" if ms else "0"

    def row(w: WhatIf) -> tuple[str, ...]:
        return (
            w.change,
            _pct(w.share),
            ms_text(w.turn_p50_ms),
            ms_text(w.turn_p95_ms),
            saving(w.saving_p50_ms, w.saving_p50_pct),
            saving(w.saving_p95_ms, w.saving_p95_pct),
            ms_text(w.first_token_p50_ms),
            ms_text(w.first_token_p95_ms),
        )

    return [row(w)[:width] for w in report.what_if]


def _what_if_footer(report: Report) -> list[str]:
    if report.what_if_note is not None:
        return [report.what_if_note]
    if not report.what_if:
        return []
    return [
        "what if: STAGE=0.5 is the stage twice as fast (with what runs inside it); measured "
        f"turn p50 {ms_text(report.turn.p50_ms)} ms, p95 {ms_text(report.turn.p95_ms)} ms; "
        "more with --what-if"
    ]


def warning_lines(doc: Mapping[str, Any]) -> list[str]:
    """The warnings summary of a report's dict (`Report.to_dict`): one line per diagnostic
    code, with its first example (the terminal, markdown and the HTML page)."""
    lines = []
    warnings: Mapping[str, Any] = doc.get("warnings") or {}
    for code, w in sorted(warnings.items(), key=lambda kv: (-kv[1]["count"], kv[0])):
        what = WARNINGS.get(code, "")
        line = f"{w['count']} x {code}" + (f": {what}" if what else "")
        if w.get("examples"):
            line += f" (e.g. {w['examples'][0]})"
        lines.append(line)
    return lines


def footer_lines(doc: Mapping[str, Any]) -> list[str]:
    """The notes under a report, from its dict (`Report.to_dict`): the terminal's footer
    and the HTML page's "About this report"."""
    half = 100 * doc["critical_path"]["band_half_width"]
    lines = [
        f"times in ms; percentiles: {doc['percentile_method']}",
        f"p50 / p95 turns: the turns ranked within ±{half:g} percentile points of p50 / p95",
    ]
    ft = doc.get("first_token")
    if ft is not None:
        missing = max(0, ft["turns"] - ft["timed"])
        lines.append(
            f"{FIRST_TOKEN_ROW}: from a turn's start to its first streamed chunk; "
            f"{ft['timed']} of {ft['turns']} turns have one"
            + (f" ({missing} streamed nothing: no time to first token)" if missing else "")
        )
    sample = doc.get("critical_path_sample")
    if sample is not None:
        lines.append(
            f"critical path, verdict and first-token attribution on a sample of "
            f"{sample['traces']:,} traces ({sample['turns']:,} of {sample['of_turns']:,} turns); "
            "the statistics on all spans"
        )
    return lines


def _latency_rows(report: Report) -> list[LatencyStats]:
    """The stages, then the whole turn, then the time to first token (when measured)."""
    rows = [*report.stages, report.turn]
    if report.first_token is not None:
        rows.append(report.first_token)
    return rows


def _first_token_shares(report: Report) -> Attributions | None:
    """The first token's critical-path shares, when any turn has a time to first token."""
    fa = report.first_token_attribution
    return fa if fa is not None and fa.overall.turns else None


def print_table(report: Report, console: Console) -> None:
    title = "per-stage latency (ms)"
    if report.sources:
        title += f" — {', '.join(report.sources)}"
    lat = FitTable(title, title_style=TITLE_STYLE)
    lat.add_column("stage", key=True, justify="left", style="bold")
    for col in _KIND_COLUMNS:
        lat.add_column(col, justify="left")
    for col in _LATENCY_COLUMNS:
        lat.add_column(col)
    for s in report.stages:
        lat.add_row(s.name, *_kind_cells(s), *_latency_cells(s))
    lat.add_section()
    for s in _latency_rows(report)[len(report.stages) :]:
        lat.add_row(s.name, *_kind_cells(s), *_latency_cells(s), style="italic")
    lat.print(console)

    tables = [("share of turn time on the critical path", report.attribution, report.verdict.stage)]
    fa = _first_token_shares(report)
    if fa is not None:
        tables.append(("share of time to first token", fa, report.verdict.first_token_stage))
    for title, a, chosen in tables:
        cp = FitTable(title, title_style=TITLE_STYLE)
        cp.add_column("stage", key=True, justify="left", style="bold")
        cp.add_column(f"all turns ({a.overall.turns})")
        cp.add_column(f"p50 turns ({a.at_p50.turns})")
        cp.add_column(f"p95 turns ({a.at_p95.turns})")
        for name, overall, p50, p95 in attribution_rows(report, a):
            style = "bold green" if name == chosen else None
            cp.add_row(name, _pct(overall), _pct(p50), _pct(p95), style=style)
        cp.print(console)

    if report.what_if:
        wi = FitTable(WHAT_IF_TITLE, title_style=TITLE_STYLE)
        wi.add_column("change", key=True, justify="left", style="bold")
        for col in what_if_columns(report):
            wi.add_column(col)
        saving = report.verdict.saving
        chosen = saving.change if saving is not None else None
        for cells in what_if_rows(report):
            wi.add_row(*cells, style="bold green" if cells[0] == chosen else None)
        wi.print(console)

    first, *rest = report.verdict.lines
    console.print(f"[bold]{first}[/bold]", highlight=False)
    for line in rest:
        console.print(line, highlight=False)
    for line in report.suggestions:
        console.print(f"[cyan]{line}[/cyan]", highlight=False)
    doc = report.to_dict()
    warnings = warning_lines(doc)
    if warnings:
        console.print(f"[yellow]warnings ({sum(report.diagnostics.counts.values())}):[/yellow]")
        for line in warnings:
            # soft_wrap: file paths and span ids in the examples stay whole
            console.print(f"  {line}", highlight=False, markup=False, soft_wrap=True)
    for line in [*footer_lines(doc), *_what_if_footer(report)]:
        console.print(line, style="dim", highlight=False)


def render_table(report: Report, width: int = 110) -> str:
    return _captured(lambda console: print_table(report, console), width)


def _captured(print_to: Callable[[Console], None], width: int) -> str:
    """What `print_to` prints on a plain console `width` columns wide, as text."""
    from rich.console import Console

    buf = io.StringIO()
    print_to(Console(file=buf, width=width, color_system=None, highlight=False))
    return buf.getvalue()


def render_json(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


CSV_HEADER: tuple[str, ...] = (
    "stage",
    "kind",
    "source",
    "count",
    "turns",
    "timed",
    "errors",
    "mean_ms",
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "critical_path_share",
    "critical_path_share_p50_turns",
    "critical_path_share_p95_turns",
    "first_token_share",
    "first_token_share_p50_turns",
    "first_token_share_p95_turns",
    "saving_p50_ms",
    "saving_p95_ms",
)
"""Per-stage rows, then one row per what-if change (stage ``what if: CHANGE``, kind
``what-if``): its predicted turn p50/p95 in p50_ms/p95_ms, the saving in saving_*."""

WHAT_IF_ROW = "what if: "


def render_csv(report: Report) -> str:
    """One row per stage, then the whole turn, the time to first token, and the untraced
    remainder (shares only). Shares of turn time, then of the time to first token."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_HEADER)
    none: list[float | None] = [None, None, None]
    shares = {name: rest for name, *rest in attribution_rows(report)}
    fa = _first_token_shares(report)
    ft_shares = {name: rest for name, *rest in attribution_rows(report, fa)} if fa else {}
    shares[report.turn.name] = [1.0] * 3
    ft_shares[FIRST_TOKEN_ROW] = [1.0] * 3 if fa else none

    def num(x: float | None) -> str:
        return "" if x is None else repr(x)

    for s in _latency_rows(report):
        w.writerow(
            [
                s.name,
                s.kind or "",
                s.source or "",
                s.count,
                s.turns,
                s.timed,
                s.errors,
                *(num(x) for x in (s.mean_ms, s.p50_ms, s.p90_ms, s.p95_ms, s.p99_ms, s.max_ms)),
                *(num(x) for x in shares.get(s.name, none)),
                *(num(x) for x in ft_shares.get(s.name, none)),
                "",
                "",
            ]
        )
    w.writerow(
        [
            REMAINDER_ROW,
            *[""] * 12,
            *(num(x) for x in shares[REMAINDER_ROW]),
            *(num(x) for x in ft_shares.get(REMAINDER_ROW, none)),
            "",
            "",
        ]
    )
    for wi in report.what_if:
        w.writerow(
            [
                WHAT_IF_ROW + wi.change,
                "what-if",
                "",
                *[""] * 5,
                num(wi.turn_p50_ms),
                "",
                num(wi.turn_p95_ms),
                "",
                "",
                num(wi.share),
                *[""] * 5,
                num(wi.saving_p50_ms),
                num(wi.saving_p95_ms),
            ]
        )
    return buf.getvalue()


def render_markdown(report: Report) -> str:
    out = ["## Per-stage latency (ms)", ""]
    out.append("| stage | " + " | ".join((*_KIND_COLUMNS, *_LATENCY_COLUMNS)) + " |")
    out.append("|---|" + "---|" * len(_KIND_COLUMNS) + "---:|" * len(_LATENCY_COLUMNS))
    out += [
        f"| {s.name} | " + " | ".join((*_kind_cells(s), *_latency_cells(s))) + " |"
        for s in _latency_rows(report)
    ]
    tables = [("Share of turn time on the critical path", report.attribution)]
    fa = _first_token_shares(report)
    if fa is not None:
        tables.append(("Share of time to first token", fa))
    for title, a in tables:
        out += ["", f"## {title}", ""]
        out.append(
            f"| stage | all turns ({a.overall.turns}) | p50 turns ({a.at_p50.turns}) "
            f"| p95 turns ({a.at_p95.turns}) |"
        )
        out.append("|---|---:|---:|---:|")
        for name, overall, p50, p95 in attribution_rows(report, a):
            out.append(f"| {name} | {_pct(overall)} | {_pct(p50)} | {_pct(p95)} |")
    if report.what_if:
        out += ["", "## What if", ""]
        columns = what_if_columns(report)
        out.append("| change | " + " | ".join(columns) + " |")
        out.append("|---|" + "---:|" * len(columns))
        out += ["| " + " | ".join(cells) + " |" for cells in what_if_rows(report)]
    out += ["", *(f"**{line}**" if i == 0 else line for i, line in enumerate(report.verdict.lines))]
    out += [f"- {line}" for line in report.suggestions]
    doc = report.to_dict()
    warnings = warning_lines(doc)
    if warnings:
        out += ["", "Warnings:", "", *(f"- {line}" for line in warnings)]
    out += ["", *(f"_{line}_  " for line in [*footer_lines(doc), *_what_if_footer(report)])]
    return "\n".join(out) + "\n"


RENDERERS: dict[str, Callable[[Report], str]] = {
    "table": render_table,
    "json": render_json,
    "csv": render_csv,
    "markdown": render_markdown,
}


def render(report: Report, fmt: str = "table") -> str:
    return _renderer(RENDERERS, fmt)(report)


_R = TypeVar("_R")


def _renderer(renderers: Mapping[str, _R], fmt: str) -> _R:
    try:
        return renderers[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}") from None


# --- comparisons (rag-otel compare) ----------------------------------------------------------

DELTA_HEADER = ("stage", "q", "baseline ms", "new ms", "change", "CI", "n base/new")
_DELTA_KEYS = ("stage", "q")  # repeated in each part when the table is split


def delta_cells(d: Delta) -> list[str]:
    """One comparison row's cells, as every format prints them (`DELTA_HEADER`)."""
    return [
        d.stage,
        d.quantile,
        ms_text(d.baseline_ms),
        ms_text(d.new_ms),
        f"{d.change_pct:+.1f}%",
        f"[{d.ci_low_pct:+.1f}%, {d.ci_high_pct:+.1f}%]",
        f"{d.baseline_n}/{d.new_n}",
    ]


def comparison_lines(c: Comparison, threshold: float | None) -> list[str]:
    """The verdict under a comparison: the regressions past `threshold` (when given), the
    rows only one side has, and how the intervals were computed."""
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
    table = FitTable(f"{c.baseline} → {c.new}", title_style=TITLE_STYLE)
    for h in DELTA_HEADER:
        table.add_column(h, key=h in _DELTA_KEYS, justify="left" if h in _DELTA_KEYS else "right")
    for d in c.deltas:
        style = None
        if is_regression(d, threshold):
            style = "bold red"
        elif d.ci_high_pct < 0:
            style = "green"
        table.add_row(*delta_cells(d), style=style)
    table.print(console)
    for line in comparison_lines(c, threshold):
        console.print(line, highlight=False, markup=False)


def is_regression(d: Delta, threshold: float | None) -> bool:
    return threshold is not None and d.is_regression(threshold)


def comparison_table(c: Comparison, threshold: float | None = None, width: int = 110) -> str:
    return _captured(lambda console: print_comparison(c, console, threshold), width)


def comparison_dict(c: Comparison, threshold: float | None = None) -> dict[str, Any]:
    """What ``compare --format json`` prints (the HTML page embeds the same)."""
    return {
        "baseline": c.baseline,
        "new": c.new,
        "method": c.method,
        "threshold_pct": threshold,
        "deltas": [{**asdict(d), "regression": is_regression(d, threshold)} for d in c.deltas],
        "only_in_baseline": c.only_in_baseline,
        "only_in_new": c.only_in_new,
    }


def comparison_json(c: Comparison, threshold: float | None = None) -> str:
    return json.dumps(comparison_dict(c, threshold), indent=2, ensure_ascii=False) + "\n"


def comparison_csv(c: Comparison, threshold: float | None = None) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    fields: Sequence[str] = list(Delta.__dataclass_fields__)
    w.writerow([*fields, "regression"])
    for d in c.deltas:
        w.writerow([*(getattr(d, f) for f in fields), is_regression(d, threshold)])
    return buf.getvalue()


def comparison_markdown(c: Comparison, threshold: float | None = None) -> str:
    out = [f"## {c.baseline} → {c.new}", ""]
    out.append("| " + " | ".join(DELTA_HEADER) + " |")
    out.append("|---|---|" + "---:|" * (len(DELTA_HEADER) - 2))
    out += ["| " + " | ".join(delta_cells(d)) + " |" for d in c.deltas]
    out += ["", *comparison_lines(c, threshold)]
    return "\n".join(out) + "\n"


COMPARISON_RENDERERS: dict[str, Callable[[Comparison, float | None], str]] = {
    "table": comparison_table,
    "json": comparison_json,
    "csv": comparison_csv,
    "markdown": comparison_markdown,
}


def render_comparison(c: Comparison, fmt: str = "table", threshold: float | None = None) -> str:
    """`c` in one of `FORMATS`; deltas past `threshold` (percent) are marked as regressions."""
    return _renderer(COMPARISON_RENDERERS, fmt)(c, threshold)

"""The HTML page of one report, built from the dict ``--format json`` prints.

    page = report_page(report.to_dict(), samples=report.samples, exemplars=report.exemplars)

Every number on the page is read from that dict and formatted as the terminal table
formats it (`tables.ms_text`, shares to 0.1 %), so the page and the JSON report agree;
the samples only shape the histograms, and the exemplar turns only draw the waterfalls.
Keys a newer report adds (``what_if``, ``suggestions``) are shown when present.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from rag_otel.analysis.exemplars import Exemplar
from rag_otel.analysis.html.charts import (
    UNTRACED_COLOUR,
    Axis,
    DistRow,
    ShareBar,
    colour,
    distributions,
    share_bars,
)
from rag_otel.analysis.html.page import document, legend, paragraphs, table
from rag_otel.analysis.html.waterfall import waterfalls
from rag_otel.analysis.renderers import footer_lines, warning_lines
from rag_otel.analysis.report import FIRST_TOKEN_ROW, REMAINDER_ROW
from rag_otel.analysis.tables import ms_text

LATENCY_HEADERS = (
    "stage",
    "kind",
    "from",
    "count",
    "turns",
    "mean",
    "p50",
    "p90",
    "p95",
    "p99",
    "max",
    "errors",
)


WATERFALL_NOTE = (
    "the turn nearest each percentile (within 2.2 %); one row per span, parallel spans on rows "
    "of their own; black: on the critical path; purple line: the first streamed chunk (thick "
    "on the span that streamed it); click a row for its attributes"
)


def pct(x: float | None) -> str:
    """A share as the tables print it."""
    return "-" if x is None else f"{100 * x:.1f}%"


def _ms(x: Any) -> str:
    return ms_text(x) if isinstance(x, int | float) else "-"


def latency_row(s: Mapping[str, Any]) -> list[str]:
    return [
        str(s["name"]),
        str(s.get("kind") or "-"),
        str(s.get("source") or "-"),
        str(s["count"]),
        str(s["turns"]),
        *(_ms(s.get(k)) for k in ("mean_ms", "p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms")),
        str(s["errors"]),
    ]


def markers(s: Mapping[str, Any]) -> dict[str, float | None]:
    return {k: s.get(f"{k}_ms") for k in ("p50", "p95", "p99")}


def stage_colours(names: Iterable[str]) -> dict[str, str]:
    """A colour per stage name, in order (the untraced remainder grey): one stage has one
    colour in every chart and waterfall of a page."""
    out = {name: colour(i) for i, name in enumerate(dict.fromkeys(names))}
    out[REMAINDER_ROW] = UNTRACED_COLOUR
    return out


def share_rows(doc: Mapping[str, Any], cp: Mapping[str, Any]) -> list[list[str]]:
    """(stage, all turns, p50 turns, p95 turns): largest first, then the untraced remainder."""
    parts = (cp["overall"], cp["p50_turns"], cp["p95_turns"])
    names = list(parts[0]["stages"])
    names += [s["name"] for s in doc["stages"] if s["name"] not in parts[0]["stages"]]
    rows = [
        [n, *(pct(p["stages"].get(n, 0.0) if p["turns"] else None) for p in parts)] for n in names
    ]
    rows.append([REMAINDER_ROW, *(pct(p["untraced"] if p["turns"] else None) for p in parts)])
    return rows


def _share_section(
    doc: Mapping[str, Any], cp: Mapping[str, Any], title: str, chosen: str | None
) -> str:
    colours = stage_colours(str(s["name"]) for s in doc["stages"])
    parts = [("all turns", cp["overall"]), ("p50 turns", cp["p50_turns"])]
    parts.append(("p95 turns", cp["p95_turns"]))
    bars = [
        ShareBar(
            f"{label} ({p['turns']})",
            [(n, colours.get(n, UNTRACED_COLOUR), float(v)) for n, v in p["stages"].items()]
            + [(REMAINDER_ROW, UNTRACED_COLOUR, float(p["untraced"]))],
        )
        for label, p in parts
    ]
    rows = share_rows(doc, cp)
    headers = ["stage", *(f"{label} ({p['turns']})" for label, p in parts)]
    classes = ["chosen" if r[0] == chosen else "" for r in rows]
    return (
        f"<h3>{escape(title)}</h3>"
        + share_bars(bars, title)
        + table(headers, rows, row_classes=classes)
    )


def _headline(doc: Mapping[str, Any]) -> str:
    out = [f'<div class="verdict">{paragraphs(doc["verdict"]["lines"])}</div>']
    what_if = doc.get("what_if") or []
    if what_if:
        rows = []
        for w in what_if:
            turn, saving = w.get("turn") or {}, w.get("saving") or {}
            ft = w.get("first_token") or {}
            rows.append(
                [
                    str(w.get("change", "")),
                    _ms(saving.get("p50_ms")),
                    _ms(saving.get("p95_ms")),
                    _ms(turn.get("p50_ms")),
                    _ms(turn.get("p95_ms")),
                    _ms(ft.get("p50_ms")),
                    _ms(ft.get("p95_ms")),
                ]
            )
        headers = ["what if", "saves p50", "saves p95", "turn p50", "turn p95"]
        headers += ["first token p50", "first token p95"]
        out.append("<h3>What if (ms)</h3>" + table(headers, rows))
    suggestions = doc.get("suggestions") or []
    if suggestions:
        out.append('<h3>Suggestions</h3><ul class="suggestions">')
        out += [f"<li>{escape(str(s))}</li>" for s in suggestions]
        out.append("</ul>")
    return "".join(out)


def about_lines(doc: Mapping[str, Any]) -> list[str]:
    lines = [f"inputs: {', '.join(doc['sources']) or '-'}"]
    span = doc.get("time_range")
    if span:
        lines.append(f"time range: {span['start']} to {span['end']}")
    lines += footer_lines(doc)
    if doc.get("all_spans"):
        lines.append("every span counted as a stage (--all-spans)")
    return lines


def report_page(
    doc: Mapping[str, Any],
    *,
    samples: Mapping[str, Sequence[int]] | None = None,
    exemplars: Sequence[Exemplar] = (),
    trace_url: str | None = None,
) -> str:
    """The self-contained HTML page of a report dict (see the module docstring)."""
    samples = samples or {}
    colours = stage_colours(str(s["name"]) for s in doc["stages"])
    stages: list[Mapping[str, Any]] = doc["stages"]
    totals = [doc["turn"]] + ([doc["first_token"]] if doc.get("first_token") else [])
    title = "rag-otel report: " + (", ".join(doc["sources"]) or "spans")
    body = [f"<h1>{escape(title)}</h1>", _headline(doc)]

    body.append("<h2>Per-stage latency (ms)</h2>")
    rows = [latency_row(s) for s in [*stages, *totals]]
    classes = [""] * len(stages) + ["total"] * len(totals)
    body.append(table(LATENCY_HEADERS, rows, row_classes=classes, left=3))
    if stages:
        dist = [
            DistRow(s["name"], colours[s["name"]], samples.get(s["name"], ()), markers(s))
            for s in stages
        ]
        axis = Axis.fit([r.samples for r in dist], [m for s in stages for m in markers(s).values()])
        body.append(distributions(dist, axis, "per-stage latency distributions"))

    body.append("<h2>Critical path</h2>")
    chosen = doc["verdict"].get("stage")
    body.append(_share_section(doc, doc["critical_path"], "share of turn time", chosen))
    fcp = doc.get("first_token_critical_path")
    if fcp is not None and fcp["overall"]["turns"]:
        chosen = doc["verdict"].get("first_token_stage")
        body.append(_share_section(doc, fcp, "share of time to first token", chosen))
    body.append(legend([(n, c) for n, c in colours.items()]))

    body.append("<h2>Turns and time to first token</h2>")
    total_rows = [
        DistRow(
            str(s["name"]), colour(len(stages) + i), samples.get(str(s["name"]), ()), markers(s)
        )
        for i, s in enumerate(totals)
    ]
    axis = Axis.fit(
        [r.samples for r in total_rows], [m for s in totals for m in markers(s).values()]
    )
    body.append(distributions(total_rows, axis, "turn and time-to-first-token distributions"))
    if doc.get("first_token") is None or not doc["first_token"]["timed"]:
        body.append(f'<p class="dim">{FIRST_TOKEN_ROW}: no turn streamed a first chunk</p>')

    body.append("<h2>Exemplar turns</h2>")
    ex_rows = [
        [
            e["label"],
            str(e["trace_id"]),
            str(e.get("turn_id") or "-"),
            _ms(e["duration_ms"]),
        ]
        for e in doc.get("exemplars") or []
    ]
    if ex_rows:
        body.append(table(["exemplar", "trace id", "turn id", "duration ms"], ex_rows, left=3))
        body.append(f'<p class="dim">{WATERFALL_NOTE}</p>')
        body.append(waterfalls(exemplars, colours, trace_url))
    else:
        body.append('<p class="dim">no turn trees in this source (percentiles only)</p>')

    warnings = warning_lines(doc)
    if warnings:
        body.append(f"<h2>Warnings ({sum(w['count'] for w in doc['warnings'].values())})</h2>")
        body.append(
            '<ul class="warnings">' + "".join(f"<li>{escape(w)}</li>" for w in warnings) + "</ul>"
        )
    body.append("<h2>About this report</h2>" + paragraphs(about_lines(doc)))
    return document(title, "".join(body), doc)

"""The HTML document around a report: one self-contained file, no script, no network.

    html = document("rag-otel report", body_html, data={"turn": ...})

The style sheet is inline and follows the reader's light or dark scheme
(``prefers-color-scheme``) and prints in colour on white. The page runs no script:
hovering uses ``title``, clicking uses ``<details>``. The dict the page was built from
(the ``--format json`` report) rides along in a ``<script type="application/json">``
block that no browser executes, with ``<``, ``>`` and ``&`` escaped so that no string
in it (a span named ``</script>``) can close the block.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from typing import Any

from rag_otel._version import __version__

DATA_ID = "rag-otel-report"
"""The id of the JSON block holding the report dict."""

CSS = """
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--dim:#59636e;--line:#d1d9e0;
--card:#f6f8fa;--cp:#111;--good:#1a7f37;--bad:#cf222e;--fc:#8250df;--warn:#9a6700}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--dim:#9198a1;
--line:#3d444d;--card:#151b23;--cp:#f0f6fc;--good:#3fb950;--bad:#f85149;--fc:#d2a8ff;
--warn:#d29922}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1100px;padding:1.2rem 1.4rem 3rem;background:var(--bg);
color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
h1{font-size:1.45rem;margin:.2rem 0 .6rem}h2{font-size:1.15rem;margin:1.8rem 0 .5rem;
border-bottom:1px solid var(--line);padding-bottom:.2rem}h3{font-size:1rem;margin:1.2rem 0 .2rem}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
.dim{color:var(--dim);font-weight:normal}.facts{margin:.1rem 0;color:var(--dim)}
.verdict{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.6rem .9rem}
.verdict p{margin:.25rem 0}.verdict p:first-child{font-weight:600;font-size:1.05rem}
table{border-collapse:collapse;margin:.4rem 0;font-variant-numeric:tabular-nums}
th,td{padding:.2rem .55rem;border-bottom:1px solid var(--line);text-align:right;white-space:nowrap}
th{font-weight:600}th:first-child,td:first-child,td.l,th.l{text-align:left}
tr.total td{font-style:italic}tr.chosen td{font-weight:700;color:var(--good)}
tr.regression td{color:var(--bad);font-weight:700}tr.faster td{color:var(--good)}
.scroll{overflow-x:auto}
svg.chart{width:100%;max-width:760px;height:auto;display:block;margin:.3rem 0}
svg text{fill:var(--fg);font:11px system-ui,sans-serif}svg text.tick{fill:var(--dim)}
svg text.inbar{fill:#fff;font-size:10.5px}
svg .axis,svg .base{stroke:var(--line)}svg .bars{opacity:.85}
svg .overlay{fill:none;stroke:var(--fg);stroke-width:1.4}
svg .marker line{stroke:var(--fg);stroke-width:1.2}svg .marker text{font-size:9.5px}
svg .marker.new line{stroke:var(--bad);stroke-dasharray:3 2}svg .marker.new text{fill:var(--bad)}
svg .box line{stroke-width:2}
.legend span{display:inline-block;margin-right:1rem}.legend i{display:inline-block;width:.8em;
height:.8em;margin-right:.3em;vertical-align:-.05em;border-radius:2px}
.wf{border:1px solid var(--line);border-radius:6px;padding:.3rem 0;margin:.4rem 0}
.wf-row summary{display:grid;grid-template-columns:minmax(9rem,16rem) 1fr 4.5rem;gap:.5rem;
align-items:center;padding:1px .6rem;cursor:pointer;list-style:none}
.wf-row summary::-webkit-details-marker{display:none}
.wf-row summary:hover{background:var(--card)}
.wf-name{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.wf-row.cp .wf-name{font-weight:600}.wf-row.err .wf-name{color:var(--bad)}
.wf-track{position:relative;height:14px}
.wf-bar{position:absolute;top:2px;height:10px;min-width:1px;border-radius:2px;opacity:.55}
.wf-row.cp .wf-bar{opacity:.9}
.wf-cp{position:absolute;top:5px;height:4px;min-width:1px;background:var(--cp)}
.wf-fc{position:absolute;top:0;height:14px;border-left:1px dashed var(--fc)}
.wf-fc.first{border-left:3px solid var(--fc)}
.wf-ms{text-align:right;font-variant-numeric:tabular-nums}
.wf-attrs{display:grid;grid-template-columns:max-content 1fr;gap:.1rem .8rem;margin:.2rem .6rem .5rem 2rem;
padding:.4rem .6rem;background:var(--card);border-radius:4px}
.wf-attrs dt{color:var(--dim)}.wf-attrs dd{margin:0;overflow-wrap:anywhere;white-space:pre-wrap}
.warnings li{color:var(--warn)}
footer{margin-top:2rem;color:var(--dim);font-size:12px}
@media print{:root{--bg:#fff;--fg:#000;--dim:#444;--line:#bbb;--card:#f3f3f3;--cp:#000}
body{max-width:none;padding:0;font-size:11px}*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
section,table,svg,.wf-row{break-inside:avoid}.wf-row[open] .wf-attrs{display:none}}
"""


def json_block(data: Any) -> str:
    """`data` as JSON inside a non-executed script block, safe whatever strings it holds."""
    # NaN / Infinity as `--format json` writes them (a change from a zero baseline)
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return f'<script type="application/json" id="{DATA_ID}">{text}</script>'


def document(title: str, body: str, data: Any) -> str:
    """The whole page: `body` is already escaped HTML; `data` is embedded as JSON."""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta name="generator" content="rag-otel {escape(__version__)}">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head>"
        f"<body>{body}<footer>made by rag-otel {escape(__version__)} · "
        "one self-contained file: no script, no network</footer>"
        f"{json_block(data)}</body></html>\n"
    )


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    row_classes: Sequence[str] | None = None,
    left: int = 1,
) -> str:
    """An escaped HTML table; the first `left` columns are left-aligned (names), the rest numbers."""
    head = "".join(
        f'<th class="l">{escape(h)}</th>' if i < left else f"<th>{escape(h)}</th>"
        for i, h in enumerate(headers)
    )
    body = []
    for n, row in enumerate(rows):
        cls = row_classes[n] if row_classes else ""
        cells = "".join(
            f'<td class="l">{escape(c)}</td>' if i < left else f"<td>{escape(c)}</td>"
            for i, c in enumerate(row)
        )
        body.append(f'<tr class="{escape(cls)}">{cells}</tr>' if cls else f"<tr>{cells}</tr>")
    return (
        f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def legend(items: Sequence[tuple[str, str]]) -> str:
    """Colour keys: (name, colour) pairs."""
    return (
        '<p class="legend">'
        + "".join(f'<span><i style="background:{c}"></i>{escape(n)}</span>' for n, c in items)
        + "</p>"
    )


def paragraphs(lines: Sequence[str]) -> str:
    return "".join(f"<p>{escape(line)}</p>" for line in lines)

"""Waterfalls of the exemplar turns: one row per span, the critical path highlighted.

    html = waterfalls(report.exemplars, colours={"retrieve": "#4e79a7"}, trace_url=None)

Each span of the turn gets a row of its own, indented under its parent and ordered by
start, so stages that ran in parallel sit on rows of their own, side by side in time::

    turn          |=====================================|
      retrieve      |###########|                            ### on the critical path
        vector      |###########|
        bm25        |=====|
      generate                  |######*################|    * first streamed chunk

Hovering a row shows its times; clicking it (a ``<details>`` element: no script) opens
its span's fields and attributes. The trace id is shown, and linked when a trace URL
template (``http://localhost:16686/trace/{trace_id}``) is given. Bounded output: at most
`MAX_ROWS` rows and `ATTRIBUTE_BUDGET` characters of attribute values per turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any
from urllib.parse import quote

from rag_otel.analysis.critical_path import critical_path, first_token_path
from rag_otel.analysis.exemplars import Exemplar
from rag_otel.analysis.html.charts import UNTRACED_COLOUR
from rag_otel.analysis.readers.common import SPAN_KINDS
from rag_otel.analysis.tables import ms_text
from rag_otel.analysis.traces import Node, Turn

MAX_ROWS = 250
"""Spans drawn per turn; the rest are counted in a note."""
ATTRIBUTE_BUDGET = 60_000
"""Characters of attribute values shown per turn; later spans show their fields only."""
MAX_VALUE = 300
"""Characters of one attribute value shown."""
TRACE_ID_FIELD = "{trace_id}"
_SPAN_KINDS = tuple(SPAN_KINDS)  # names by the model's kind constants, 0 to 5


def trace_link(template: str | None, trace_id: str) -> str | None:
    """The URL of a trace from a template holding ``{trace_id}`` (None without a template).

    The id is percent-encoded; only http(s) templates are accepted (`check_template`)."""
    if template is None:
        return None
    return template.replace(TRACE_ID_FIELD, quote(trace_id, safe=""))


def check_template(template: str) -> str | None:
    """Why a trace URL template is unusable (None when it is fine)."""
    if TRACE_ID_FIELD not in template:
        return f"--trace-url: expected a URL holding {TRACE_ID_FIELD}, got {template!r}"
    if not template.lower().startswith(("http://", "https://")):
        return f"--trace-url: expected an http:// or https:// URL, got {template!r}"
    return None


def waterfalls(
    exemplars: Sequence[Exemplar],
    colours: dict[str, str],
    trace_url: str | None,
    *,
    run: str = "",
) -> str:
    """One waterfall per distinct exemplar turn (a turn that is several exemplars, as in
    a small run, is drawn once under all its labels). ``run`` names the run on a page that
    draws several (in the titles and the anchors: ``#exemplar-new-p95``)."""
    groups: list[tuple[list[str], Turn]] = []
    for ex in exemplars:
        for labels, turn in groups:
            if turn is ex.turn:
                labels.append(ex.label)
                break
        else:
            groups.append(([ex.label], ex.turn))
    return "".join(_waterfall(labels, turn, colours, trace_url, run) for labels, turn in groups)


def _rows(root: Node) -> list[tuple[Node, int]]:
    """(node, depth) in depth-first order, children by start time."""
    out: list[tuple[Node, int]] = []
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        out.append((node, depth))
        kids = sorted(node.children, key=lambda n: (n.start, n.end), reverse=True)
        stack.extend((kid, depth + 1) for kid in kids)
    return out


def _pct(x: float) -> str:
    return f"{100 * x:.3f}%"


def _waterfall(
    labels: list[str], turn: Turn, colours: dict[str, str], url: str | None, run: str
) -> str:
    root = turn.root
    t0, total = root.start, max(root.end - root.start, 1)
    on_path: dict[int, list[tuple[int, int]]] = {}
    path = critical_path(turn)
    for node, lo, hi in path:
        on_path.setdefault(id(node), []).append((lo, hi))
    found = first_token_path(turn)
    first_at = found[1] if found is not None else None
    first_node = found[0][-1] if found is not None else None
    span = turn.span
    tid = span.trace_id
    link = trace_link(url, tid)
    tid_html = (
        f'<a href="{escape(link)}" rel="noreferrer"><code>{escape(tid)}</code></a>'
        if link
        else f"<code>{escape(tid)}</code>"
    )
    facts = [f"trace {tid_html}"]
    if span.turn_id:
        facts.append(f"turn id <code>{escape(span.turn_id)}</code>")
    if first_at is not None:
        facts.append(f"first chunk at {ms_text((first_at - t0) / 1e6)} ms")
    stages = [n.key for n, lo, hi in path if n.key is not None and hi > lo]
    path_text = " → ".join(dict.fromkeys(stages)) or "(untraced)"
    title = (f"{run}: " if run else "") + " = ".join(labels)
    anchor = "-".join(x for x in ("exemplar", run, labels[0]) if x)
    out = [
        f'<section class="exemplar" id="{escape(anchor)}">'
        f"<h3>{escape(title)} turn: {ms_text(turn.duration_ns / 1e6)} ms "
        f'<span class="dim">{escape(span.name)}</span></h3>'
        f'<p class="facts">{" · ".join(facts)}</p>'
        f'<p class="facts">critical path: {escape(path_text)}</p>'
        f'<div class="wf" role="list">'
    ]
    rows = _rows(root)
    budget = ATTRIBUTE_BUDGET
    for node, depth in rows[:MAX_ROWS]:
        colour = colours.get(node.key or "", UNTRACED_COLOUR)
        spent, details = _details(node, t0, budget)
        budget -= spent
        out.append(
            _row(
                node,
                depth,
                t0,
                total,
                colour,
                on_path.get(id(node), ()),
                first_at,
                node is first_node,
                details,
            )
        )
    if len(rows) > MAX_ROWS:
        out.append(f'<p class="dim">{len(rows) - MAX_ROWS} more spans not drawn</p>')
    out.append("</div></section>")
    return "".join(out)


def _row(
    node: Node,
    depth: int,
    t0: int,
    total: int,
    colour: str,
    path: Sequence[tuple[int, int]],
    first_at: int | None,
    streams_first: bool,
    details: str,
) -> str:
    span = node.span
    dur = node.end - node.start
    left, width = (node.start - t0) / total, dur / total
    name = span.name if node.span.stage in (None, span.name) else f"{span.name} · {span.stage}"
    hover = f"{span.name}: {ms_text(dur / 1e6)} ms from +{ms_text((node.start - t0) / 1e6)} ms"
    marks = "".join(
        f'<span class="wf-cp" style="left:{_pct((lo - t0) / total)};'
        f'width:{_pct((hi - lo) / total)}"></span>'
        for lo, hi in path
        if hi > lo
    )
    if first_at is not None:
        cls = "wf-fc first" if streams_first else "wf-fc"
        marks += f'<span class="{cls}" style="left:{_pct((first_at - t0) / total)}"></span>'
    classes = "wf-row" + (" cp" if path else "") + (" err" if span.error else "")
    return (
        f'<details class="{classes}" role="listitem"><summary title="{escape(hover)}">'
        f'<span class="wf-name" style="padding-left:{0.9 * depth:.1f}em">{escape(name)}</span>'
        f'<span class="wf-track"><span class="wf-bar" style="left:{_pct(left)};'
        f'width:{_pct(width)};background:{colour}"></span>{marks}</span>'
        f'<span class="wf-ms">{ms_text(dur / 1e6)}</span></summary>{details}</details>'
    )


def _details(node: Node, t0: int, budget: int) -> tuple[int, str]:
    """(characters of attribute values spent, the ``<dl>`` of a span's fields and attributes)."""
    span = node.span
    fields: list[tuple[str, Any]] = [
        ("span id", span.span_id),
        ("parent id", span.parent_id),
        ("stage", span.stage),
        ("stage kind", span.stage_kind),
        ("recognised from", span.stage_source),
        ("service", span.service),
        ("span kind", _SPAN_KINDS[span.kind] if 0 <= span.kind < len(_SPAN_KINDS) else span.kind),
        ("status", "error" if span.error else None),
        ("start", f"+{ms_text((node.start - t0) / 1e6)} ms"),
        ("duration", f"{ms_text((node.end - node.start) / 1e6)} ms"),
        ("follows from", "yes" if span.follows_from else None),
    ]
    if span.first_chunk_ns is not None:
        fields.append(("first chunk", f"+{ms_text((span.first_chunk_ns - t0) / 1e6)} ms"))
    spent = 0
    attrs = span.attributes or {}
    if attrs and budget > 0:
        for key in sorted(attrs):
            value = _value(attrs[key])
            spent += len(key) + len(value)
            fields.append((key, value))
            if spent >= budget:
                fields.append(("…", "further attributes not shown"))
                break
    elif attrs:
        fields.append(("…", f"{len(attrs)} attributes not shown (size budget)"))
    items = "".join(
        f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in fields if v is not None
    )
    return spent, f'<dl class="wf-attrs">{items}</dl>'


def _value(v: Any) -> str:
    text = v if isinstance(v, str) else repr(v)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"

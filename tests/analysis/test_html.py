"""The HTML report as text: numbers as the JSON report has them, escaping, bounds, the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rag_otel.analysis.compare import compare
from rag_otel.analysis.html import comparison_html, report_html
from rag_otel.analysis.html.page import DATA_ID
from rag_otel.analysis.html.report_page import latency_row, report_page, share_rows
from rag_otel.analysis.html.waterfall import MAX_ROWS
from rag_otel.analysis.model import Span
from rag_otel.analysis.pipeline import analyze_sources
from rag_otel.analysis.report import analyze
from rag_otel.analysis.tables import ms_text
from rag_otel.cli import main

from .conftest import MS, pipeline, span, to_otlp_line

EVIL = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "</script><b>x</b>"]


def embedded(html: str) -> dict:
    m = re.search(rf'<script type="application/json" id="{DATA_ID}">(.*?)</script>', html, re.S)
    assert m is not None
    return json.loads(m.group(1))


def test_every_number_is_the_json_reports_as_the_table_prints_it() -> None:
    report = analyze(pipeline(200, first_chunk=0.3))
    html = report_html(report)
    doc = report.to_dict()
    assert embedded(html) == json.loads(json.dumps(doc))
    for s in [*doc["stages"], doc["turn"], doc["first_token"]]:
        row = latency_row(s)
        assert "<td>" + "</td><td>".join(row[3:]) + "</td>" in html
        assert row[6] == ms_text(s["p50_ms"])
    for cp in (doc["critical_path"], doc["first_token_critical_path"]):
        for row in share_rows(doc, cp):
            assert "</td><td>".join(row[1:]) in html
    for line in doc["verdict"]["lines"]:
        assert f"<p>{line}</p>" in html
    for e in doc["exemplars"]:
        assert e["trace_id"] in html
    assert doc["time_range"]["start"] in html


PEERS = Path(__file__).resolve().parents[1] / "fixtures" / "peers"


@pytest.mark.parametrize(
    "name",
    [
        "openinference-parallel.otlp.jsonl",  # OTLP, OpenInference
        "phoenix-spans.json",  # Phoenix's REST export
        "langfuse-observations-v2.json",  # Langfuse
        "genai-latest.otlp.jsonl",  # OTel GenAI
    ],
)
def test_every_source_gets_its_page(name: str) -> None:
    report = analyze_sources([str(PEERS / name)], keep_attributes=True, workers=1)
    html = report_html(report)
    assert embedded(html) == json.loads(json.dumps(report.to_dict()))
    for s in report.stages:
        assert f">{s.name}<" in html
    assert len(report.exemplars) == 4
    drawn = {e.turn.span.span_id for e in report.exemplars}
    assert html.count('<section class="exemplar"') == len(drawn)
    assert "<dl" in html


def test_what_if_and_suggestions_are_shown_when_the_report_has_them() -> None:
    report = analyze(pipeline(50))
    doc = report.to_dict()
    doc["what_if"] = [
        {
            "change": "rerank=0.5",
            "turn": {"p50_ms": 401.5, "p95_ms": 612.25},
            "first_token": None,
            "saving": {"p50_ms": 17.25, "p95_ms": 1234.5},
        }
    ]
    doc["suggestions"] = ["vector_search and bm25 could run in parallel <b>"]
    html = report_page(doc, samples=report.samples, exemplars=report.exemplars)
    assert "rerank=0.5" in html
    for ms in (401.5, 612.25, 17.25, 1234.5):
        assert f"<td>{ms_text(ms)}</td>" in html
    assert "could run in parallel &lt;b&gt;" in html
    assert embedded(html)["what_if"][0]["change"] == "rerank=0.5"


def evil_spans() -> list[Span]:
    spans = [
        span("root", None, 0, 100, turn=True, name=EVIL[0]),
        span("a", "root", 1, 40, stage=EVIL[1], name=EVIL[1]),
        span("b", "root", 40, 99, stage="generate", name=EVIL[2], first_chunk_ms=50),
    ]
    spans[1].attributes = {EVIL[0]: EVIL[1], "k": EVIL[2]}
    spans[0].turn_id = EVIL[2]
    return spans


def test_strings_from_traces_are_escaped_everywhere() -> None:
    report = analyze(evil_spans(), sources=[EVIL[0]])
    html = report_html(report, trace_url="https://x.test/t/{trace_id}?a=1&b=2")
    for evil in EVIL:
        assert evil not in html
    assert "<img" not in html
    assert html.count("<script") == 1  # the JSON block, never executed
    assert html.count("</script>") == 1
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert embedded(html)["sources"] == [EVIL[0]]
    assert 'href="https://x.test/t/t1?a=1&amp;b=2"' in html


def test_trace_ids_in_links_are_percent_encoded() -> None:
    spans = [span("r", None, 0, 10, turn=True, trace='"><x y="/../?#')]
    html = report_html(analyze(spans), trace_url="http://j.test/trace/{trace_id}")
    assert 'href="http://j.test/trace/%22%3E%3Cx%20y%3D%22%2F..%2F%3F%23"' in html


def test_a_huge_turn_is_drawn_within_bounds() -> None:
    spans = [span("root", None, 0, 10_000, turn=True)]
    for i in range(5000):
        s = span(f"s{i}", "root", i, i + 2, stage=f"stage{i % 40}")
        s.attributes = {"blob": "x" * 5000, "n": i}
        spans.append(s)
    html = report_html(analyze(spans))
    assert html.count('class="wf-row') <= MAX_ROWS
    assert f"{5001 - MAX_ROWS} more spans not drawn" in html
    assert len(html) < 400_000


def test_a_source_without_samples_gets_percentiles_only() -> None:
    report = analyze(pipeline(30))
    report.samples = {}
    report.exemplars = []
    html = report_html(report)
    assert 'class="box"' in html
    assert "no turn trees in this source" in html


def test_comparison_page_highlights_regressions() -> None:
    base = analyze(pipeline(300, seed=1), sources=["base.jsonl"])
    new = analyze(pipeline(300, seed=2, slow={"rerank": 2.0}), sources=["new.jsonl"])
    c = compare(base, new, resamples=200)
    html = comparison_html(c, base, new, threshold=10)
    doc = embedded(html)
    rerank = [d for d in doc["deltas"] if d["stage"] == "rerank"]
    assert rerank
    assert all(d["regression"] for d in rerank)
    assert '<tr class="regression"><td class="l">rerank</td>' in html
    assert 'class="overlay"' in html
    assert "REGRESSION" in html
    # the two runs' percentile labels sit on either side of their lines: close markers of
    # the two runs do not print over each other
    first = re.findall(r'<g class="marker">.*?<text ([^>]*)>(p\d\d)</text>', html)
    second = re.findall(r'<g class="marker new">.*?<text ([^>]*)>(p\d\d)</text>', html)
    assert first
    assert second
    assert all("text-anchor" not in attrs for attrs, _ in first)
    assert all('text-anchor="end"' in attrs for attrs, _ in second)


def test_a_change_from_zero_is_shown_as_the_table_shows_it() -> None:
    def run(stage_ms: float) -> list[Span]:
        out = []
        for i in range(5):
            t = f"t{i}"
            out.append(span("r", None, 0, 10, turn=True, trace=t))
            out.append(span("s", "r", 1, 1 + stage_ms * (1 + i / 10), stage="cache", trace=t))
        return out

    base, new = analyze(run(0.0)), analyze(run(2.0))
    c = compare(base, new, resamples=50)
    assert any(d.change_pct == float("inf") for d in c.deltas)
    html = comparison_html(c, base, new)
    assert "<td>+inf%</td>" in html
    assert embedded(html)["deltas"][0]["change_pct"] == float("inf")


def test_cli_writes_the_html_besides_any_format(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    spans = tmp_path / "spans.jsonl"
    spans.write_text("".join(to_otlp_line(s) + "\n" for s in pipeline(40, first_chunk=0.2)))
    out = tmp_path / "report.html"
    code = main(["analyze", str(spans), "--format", "json", "--html", str(out)])
    assert code == 0
    printed = json.loads(capsys.readouterr().out)
    assert embedded(out.read_text())["exemplars"] == printed["exemplars"]
    other = tmp_path / "other.jsonl"
    other.write_text(spans.read_text())
    cmp_out = tmp_path / "compare.html"
    assert main(["compare", str(spans), str(other), "--html", str(cmp_out)]) == 0
    assert "p50 and p95 change per stage" in cmp_out.read_text()


def test_comparison_page_draws_each_runs_p50_and_p95_turns() -> None:
    base = analyze(pipeline(300, seed=1), sources=["base.jsonl"])
    new = analyze(pipeline(300, seed=2, slow={"rerank": 2.0}), sources=["new.jsonl"])
    html = comparison_html(
        compare(base, new, resamples=50), base, new, trace_url="http://jaeger/trace/{trace_id}"
    )
    anchors = re.findall(r'<section class="exemplar" id="([^"]+)">', html)
    assert len(anchors) == len(set(anchors))  # one page, unique anchors
    for run, report in (("baseline", base), ("new", new)):
        for e in report.exemplars:
            if e.label in ("p50", "p95"):
                assert f'href="http://jaeger/trace/{e.trace_id}"' in html
                assert any(a.startswith(f"exemplar-{run}-") for a in anchors)
        assert not any(a.endswith(("-p99", "-max")) for a in anchors)
    # one colour per stage on the page: rerank's bars have the same fill in both runs
    bar = r'>rag\.rerank · rerank</span><span class="wf-track"><span class="wf-bar" style="[^"]*background:([^;"]+)'
    fills = re.findall(bar, html)
    assert len(fills) >= 4  # baseline and new, p50 and p95
    assert len(set(fills)) == 1, fills


def test_cli_refuses_a_trace_url_it_cannot_use(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    spans = tmp_path / "spans.jsonl"
    spans.write_text("".join(to_otlp_line(s) + "\n" for s in pipeline(3)))
    html = str(tmp_path / "r.html")
    assert (
        main(["analyze", str(spans), "--html", html, "--trace-url", "javascript:{trace_id}"]) == 2
    )
    assert main(["analyze", str(spans), "--html", html, "--trace-url", "http://x/"]) == 2
    assert main(["analyze", str(spans), "--trace-url", "http://x/{trace_id}"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3
    assert all(line.startswith("rag-otel: --trace-url") for line in err)


def test_timestamps_are_utc() -> None:
    report = analyze([span("r", None, 0, 1.5, turn=True)])
    assert report.to_dict()["time_range"] == {
        "start": "1970-01-01T00:00:00.000000Z",
        "end": "1970-01-01T00:00:00.001500Z",
    }
    assert MS == 1_000_000


def test_each_waterfall_names_its_critical_path_in_time_order() -> None:
    report = analyze(pipeline(50, first_chunk=0.3))
    html = report_html(report)
    paths = re.findall(r'<p class="facts">critical path: (.*?)</p>', html)
    assert len(paths) == len({e.trace_id for e in report.exemplars}) > 0
    for text in paths:
        stages = text.split(" → ")
        assert "(untraced)" not in stages
        assert stages[-1] == report.stages[-1].name  # the last stage of the pipeline ends it

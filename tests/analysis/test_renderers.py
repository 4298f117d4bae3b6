from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from rag_otel.analysis.model import Diagnostics, Span
from rag_otel.analysis.plot import plot_report
from rag_otel.analysis.renderers import CSV_HEADER, FORMATS, render
from rag_otel.analysis.report import Report, analyze


@pytest.fixture
def report(make_pipeline: Callable[..., list[Span]], mk: Callable[..., Span]) -> Report:
    spans = [*make_pipeline(50), mk("o", "gone", 0, 1, stage="embed", trace="x")]
    return analyze(spans, diagnostics=Diagnostics(), sources=["synthetic.jsonl"])


def test_json_parses_and_holds_everything(report: Report) -> None:
    doc = json.loads(render(report, "json"))
    assert [s["name"] for s in doc["stages"]] == [
        "embed",
        "bm25",
        "vector_search",
        "fusion",
        "rerank",
        "generate",
    ]
    assert doc["turn"]["count"] == 50
    cp = doc["critical_path"]["overall"]
    assert sum(cp["stages"].values()) + cp["untraced"] == pytest.approx(1.0)
    assert doc["verdict"]["stage"] == "generate"
    assert doc["warnings"]["orphan-span"]["count"] == 1
    assert "type 7" in doc["percentile_method"]


def test_csv_parses_with_one_row_per_stage(report: Report) -> None:
    every = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert tuple(every[0]) == CSV_HEADER
    rows = [r for r in every if r["kind"] != "what-if"]
    what_if = [r for r in every if r["kind"] == "what-if"]
    assert [r["stage"] for r in what_if] == [f"what if: {w.change}" for w in report.what_if]
    assert float(what_if[0]["saving_p50_ms"]) == pytest.approx(report.what_if[0].saving_p50_ms)
    names = [r["stage"] for r in rows]
    assert names[-3:] == ["(turn)", "(first token)", "(untraced)"]
    assert len(names) == 9
    shares = [
        float(r["critical_path_share"])
        for r in rows
        if r["stage"] not in ("(turn)", "(first token)")
    ]
    assert sum(shares) == pytest.approx(1.0)
    gen = next(r for r in rows if r["stage"] == "generate")
    assert float(gen["p95_ms"]) >= float(gen["p50_ms"]) > 0


def test_markdown_has_both_tables_and_the_verdict(report: Report) -> None:
    md = render(report, "markdown")
    assert (
        "| stage | kind | from | count | turns | mean | p50 | p90 | p95 | p99 | max | errors |"
        in md
    )
    assert "| generate |" in md
    assert "| (untraced) |" in md
    assert "**optimise this next: generate" in md
    assert "orphan-span" in md
    assert "type 7" in md


def test_table_is_plain_text_with_verdict_and_warnings(report: Report) -> None:
    text = render(report, "table")
    assert "per-stage latency" in text
    assert "critical path" in text
    assert "optimise this next: generate" in text
    assert "1 x orphan-span" in text
    assert "\x1b[" not in text


def test_every_format_renders(report: Report) -> None:
    for fmt in FORMATS:
        assert render(report, fmt)
    with pytest.raises(ValueError, match="unknown format"):
        render(report, "yaml")


def test_plot_writes_a_png(report: Report, tmp_path: Path) -> None:
    out = tmp_path / "stages.png"
    plot_report(report, out)
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 20_000


def test_empty_report_renders(tmp_path: Path) -> None:
    report = analyze([], diagnostics=Diagnostics())
    for fmt in FORMATS:
        assert "no stage on the critical path" in render(report, fmt) or fmt == "csv"
    plot_report(report, tmp_path / "empty.png")

"""The HTML report at scale: its size at 1M spans, what --html adds to an analysis, render time.

An OTLP JSON-lines file of 1M spans (`bench_analysis.generate`: turns of 7 spans, every
stage with its attributes) is analysed twice in this process, on one core: as plain
``rag-otel analyze`` does (the baseline) and as ``--html`` does (every attribute kept for
the exemplar turns), then the page is built. The page must stay under 1.5 MB whatever the
input (aggregates, binned histograms and four exemplar turns only) and render in headless
Chromium (Debian's, when installed) in under 1 s.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from _harness import Result
from bench_analysis import generate
from rag_otel.analysis.html import report_html
from rag_otel.analysis.pipeline import analyze_sources

TITLE = "HTML report (bench_html: 1M spans, one process; --quick: 100k)"
SIZE_LIMIT_MB = 1.5
RENDER_LIMIT_S = 1.0


def _render_seconds(page: Path) -> float | None:
    """Load to first paint of the page's last element in headless Chromium (None: no browser)."""
    chromium = Path("/usr/bin/chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not chromium.exists():
        return None
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=["--no-sandbox"])
        try:
            tab = browser.new_page()
            tab.goto("about:blank")
            start = time.perf_counter()
            tab.goto(page.as_uri(), wait_until="load")
            tab.evaluate("new Promise(r => requestAnimationFrame(() => r(0)))")
            return time.perf_counter() - start
        finally:
            browser.close()


def results(quick: bool) -> list[Result]:
    n = 100_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spans.jsonl"
        spans = generate(path, n)
        t = time.perf_counter()
        analyze_sources([str(path)], workers=1)
        plain = time.perf_counter() - t
        t = time.perf_counter()
        report = analyze_sources([str(path)], workers=1, keep_attributes=True)
        kept = time.perf_counter() - t
        t = time.perf_counter()
        page = report_html(report)
        build = time.perf_counter() - t
        html = Path(tmp) / "report.html"
        html.write_text(page, encoding="utf-8")
        size_mb = html.stat().st_size / 1e6
        render = _render_seconds(html)
    label = f"{spans:,} spans"
    out = [
        Result(f"analyze, {label}", plain, "s"),
        Result(
            f"analyze keeping attributes (--html), {label}",
            kept,
            "s",
            baseline=f"analyze, {label}",
            ratio=kept / plain,
        ),
        Result(f"build the page, {label}", build, "s"),
        Result(
            f"page size, {label}",
            size_mb,
            "MB",
            target=f"< {SIZE_LIMIT_MB} MB",
            ok=size_mb < SIZE_LIMIT_MB,
        ),
    ]
    if render is not None:
        out.append(
            Result(
                "render in headless Chromium (load + first frame)",
                render,
                "s",
                target=f"< {RENDER_LIMIT_S:g} s",
                ok=render < RENDER_LIMIT_S,
            )
        )
    else:
        out.append(Result("render in headless Chromium", 0.0, "s", note="no Chromium: skipped"))
    return out

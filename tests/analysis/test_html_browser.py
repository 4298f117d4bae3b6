"""The HTML report in headless Chromium: loads from file:// with no network and no errors,
shows every stage, the verdict and the exemplar trace ids, draws something, and renders
hostile span names as text."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag_otel.analysis.compare import compare
from rag_otel.analysis.html import comparison_html, report_html
from rag_otel.analysis.report import analyze

from .browser import demo_report_html, missing, open_page, pixel_spread
from .conftest import pipeline
from .test_html import EVIL, embedded, evil_spans

WHY = missing()
pytestmark = pytest.mark.skipif(WHY is not None, reason=WHY or "")


def test_report_loads_offline_and_shows_what_the_json_has(tmp_path: Path) -> None:
    path = demo_report_html(tmp_path / "report.html")
    doc = embedded(path.read_text(encoding="utf-8"))
    with open_page(path) as loaded:
        page = loaded.page
        text = page.inner_text("body")
        assert loaded.errors == []
        assert loaded.requests == [path.resolve().as_uri()]  # the file itself, nothing else
        for s in doc["stages"]:
            assert s["name"] in text
        assert doc["verdict"]["lines"][0] in text
        for e in doc["exemplars"]:
            assert e["trace_id"] in text
        links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
        assert f"http://localhost:16686/trace/{doc['exemplars'][0]['trace_id']}" in links
        # attributes open on click (a <details> row, no script)
        row = page.locator("details.wf-row").nth(1)
        assert not row.locator("dl").is_visible()
        row.locator("summary").click()
        assert row.locator("dl").is_visible()
        assert "span id" in row.locator("dl").inner_text()
        assert pixel_spread(page.screenshot(full_page=True)) > 20
    with open_page(path, scheme="dark") as loaded:
        bg = loaded.page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert bg == "rgb(13, 17, 23)"
        assert pixel_spread(loaded.page.screenshot()) > 20
        loaded.page.emulate_media(media="print")  # prints black on white, whatever the scheme
        bg = loaded.page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert bg == "rgb(255, 255, 255)"
        assert len(loaded.page.pdf()) > 10_000
    with open_page(path, script=False) as loaded:  # nothing needs a script
        text = loaded.page.inner_text("body")
        assert doc["verdict"]["lines"][0] in text
        assert all(s["name"] in text for s in doc["stages"])
        assert loaded.page.locator("table").count() >= 4


def test_hostile_span_names_render_as_text(tmp_path: Path) -> None:
    path = tmp_path / "evil.html"
    report = analyze(evil_spans(), sources=[EVIL[0]])
    path.write_text(report_html(report, trace_url="http://localhost:16686/trace/{trace_id}"))
    with open_page(path) as loaded:
        page = loaded.page
        page.locator("details.wf-row summary").nth(1).click()
        page.wait_for_timeout(200)
        text = page.inner_text("body")
        for evil in EVIL:
            assert evil in text
        assert loaded.dialogs == []
        assert page.locator("img").count() == 0
        assert page.locator("[onerror]").count() == 0
        assert page.locator("b").count() == 0
        assert page.locator("script").count() == 1  # the JSON block only
        assert loaded.errors == []
        assert loaded.requests == [path.resolve().as_uri()]


def test_comparison_page(tmp_path: Path) -> None:
    base = analyze(pipeline(200, seed=1), sources=["base.jsonl"])
    new = analyze(pipeline(200, seed=2, slow={"rerank": 2.0}), sources=["new.jsonl"])
    path = tmp_path / "compare.html"
    path.write_text(comparison_html(compare(base, new, resamples=200), base, new, threshold=10))
    with open_page(path) as loaded:
        page = loaded.page
        assert loaded.errors == []
        assert loaded.requests == [path.resolve().as_uri()]
        assert "REGRESSION" in page.inner_text(".verdict")
        red = page.locator("tr.regression").first.evaluate(
            "e => getComputedStyle(e.cells[0]).color"
        )
        assert red == "rgb(207, 34, 46)"
        for s in base.stages:
            assert s.name in page.inner_text("body")
        assert pixel_spread(page.screenshot(full_page=True)) > 20

"""Headless Chromium for the HTML report tests: Debian's /usr/bin/chromium via Playwright.

    with open_page(path) as page:          # a loaded file:// page, with what it did recorded
        assert page.errors == [] and page.requests == [path.as_uri()]

Also the script behind ``docs/report.png``: ``python tests/analysis/browser.py docs/report.png``
writes a report of a demo-shaped run and its screenshot.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("RAG_OTEL_CHROMIUM", "/usr/bin/chromium")


def missing() -> str | None:
    """Why the browser tests cannot run here (None when they can)."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install playwright)"
    return None


@dataclass
class Loaded:
    page: Any
    errors: list[str] = field(default_factory=list)
    """Console errors and uncaught page errors."""
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)


@contextmanager
def open_page(
    path: Path, *, width: int = 1100, scheme: str = "light", script: bool = True
) -> Iterator[Loaded]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = b.new_page(
                viewport={"width": width, "height": 900},
                color_scheme=scheme,
                java_script_enabled=script,
            )
            loaded = Loaded(page)
            page.on(
                "console",
                lambda m: loaded.errors.append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: loaded.errors.append(str(e)))
            page.on("request", lambda r: loaded.requests.append(r.url))

            def dialog(d: Any) -> None:
                loaded.dialogs.append(d.message)
                d.dismiss()

            page.on("dialog", dialog)
            page.goto(path.resolve().as_uri(), wait_until="load")
            yield loaded
        finally:
            b.close()


def pixel_spread(png: bytes) -> float:
    """The standard deviation of the screenshot's grey levels (0: one flat colour)."""
    import io

    from PIL import Image, ImageStat

    return float(ImageStat.Stat(Image.open(io.BytesIO(png)).convert("L")).stddev[0])


def demo_report_html(out: Path) -> Path:
    """A report of 300 demo-shaped turns (parallel retrieval, streamed generation)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from analysis.conftest import pipeline, to_otlp_line
    from rag_otel.analysis.html import report_html
    from rag_otel.analysis.pipeline import analyze_sources

    spans = out.with_suffix(".jsonl")
    spans.write_text("".join(to_otlp_line(s) + "\n" for s in pipeline(300, first_chunk=0.2)))
    report = analyze_sources([str(spans)], keep_attributes=True)
    html = report_html(report, trace_url="http://localhost:16686/trace/{trace_id}")
    out.write_text(html.replace(str(spans), "spans.jsonl"), encoding="utf-8")
    spans.unlink()
    return out


if __name__ == "__main__":
    import tempfile

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/report.png")
    with tempfile.TemporaryDirectory() as tmp:
        page_path = demo_report_html(Path(tmp) / "report.html")
        with open_page(page_path, width=1000) as loaded:
            png = loaded.page.screenshot(full_page=True)
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=96)
    image.save(target, optimize=True)  # a palette PNG: a third of the size, same look
    print(f"wrote {target}")

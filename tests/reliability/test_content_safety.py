"""Content safety: no query, passage or answer text is exported unless capture is on.

A full demo run (real MiniLM embeddings, Chroma, BM25, fusion, rerank, extractive answers)
writes its spans with the file exporter; every string anywhere in the exported JSON
(attribute keys and values, event names and attributes, span names, resource, status) is
scanned for every 40-character window of every question and passage of the corpus the run
used (answers are extracted from passages). The same scan over a run with capture on must
find them, so the scanner is shown able to fail. With capture on, the redaction hook sees
every captured string before export and the length bound applies.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_helpers import ROOT, child_env

from rag_otel._config import TRUNCATION_MARK
from rag_otel.demo.corpus import load_corpus

WINDOW = 40
FAQ, DISTRACTORS, QUESTIONS = 40, 20, 5


def strings(obj: Any) -> Iterator[str]:
    """Every string in a JSON value: dict keys and values, list items, nested."""
    if isinstance(obj, str):
        yield obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield key
            yield from strings(value)
    elif isinstance(obj, list):
        for item in obj:
            yield from strings(item)


def exported_windows(path: Path) -> tuple[set[str], int]:
    """All WINDOW-char substrings of every exported string; and how many strings there were."""
    windows: set[str] = set()
    count = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        for text in strings(json.loads(line)):
            count += 1
            windows.update(text[i : i + WINDOW] for i in range(len(text) - WINDOW + 1))
            if len(text) < WINDOW:
                windows.add(text)
    return windows, count


def leaked(texts: list[str], windows: set[str]) -> list[str]:
    """The texts of which some WINDOW-char window (or, if shorter, the whole) was exported."""
    out = []
    for text in texts:
        probes = (
            [text]
            if len(text) < WINDOW
            else (text[i : i + WINDOW] for i in range(len(text) - WINDOW + 1))
        )
        if any(p in windows for p in probes):
            out.append(text)
    return out


def run_demo(tmp: Path, cache: Path, capture: bool) -> Path:
    spans = tmp / "spans.jsonl"
    env = child_env(RAG_OTEL_CAPTURE_CONTENT="true" if capture else "false")
    cmd = [sys.executable, "-m", "rag_otel", "demo", "--questions", str(QUESTIONS)]
    cmd += ["--faq", str(FAQ), "--distractors", str(DISTRACTORS), "--rerank", "cosine"]
    cmd += ["--cache-dir", str(cache), "--spans", str(spans), "--out-dir", str(tmp)]
    proc = subprocess.run(cmd, env=env, cwd=tmp, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    return spans


@pytest.fixture(scope="module")
def corpus_texts() -> list[str]:
    corpus = load_corpus(FAQ, DISTRACTORS)
    return [q.text for q in corpus.questions] + [p.text for p in corpus.passages]


@pytest.fixture(scope="module")
def demo_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("demo-cache")


def test_no_content_reaches_the_exporter_by_default(
    tmp_path: Path, demo_cache: Path, corpus_texts: list[str]
) -> None:
    windows, count = exported_windows(run_demo(tmp_path, demo_cache, capture=False))
    assert count > 1000  # a real run: spans with many attributes were exported
    assert leaked(corpus_texts, windows) == []


def test_the_scan_finds_content_when_capture_is_on(
    tmp_path: Path, demo_cache: Path, corpus_texts: list[str]
) -> None:
    windows, _ = exported_windows(run_demo(tmp_path, demo_cache, capture=True))
    found = leaked(corpus_texts, windows)
    # The asked questions and the passages they retrieved are captured (and only bounded).
    assert len(found) >= QUESTIONS * 2, len(found)


REDACTION_APP = textwrap.dedent(
    """
    import json, re
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    import rag_otel

    seen = []
    def redact(text):
        seen.append(len(text))
        return re.sub(r"[\\w.]+@[\\w.]+", "[email]", text)

    memory = InMemorySpanExporter()
    config = rag_otel.configure(exporter="none", span_exporter=memory, capture_content=True,
                                redact=redact, max_content_length=200)
    secret = "jane.doe@example.com"
    long = "x" * 150 + " mail " + secret + " " + "y" * 5000   # the e-mail straddles the bound
    with rag_otel.turn(session_id="s") as t:
        t.set_input(long)
        with rag_otel.stage("retrieve", kind="retrieval") as s:
            s.set_query(long)
            s.record_documents(["d1", "d2"], [0.9, 0.8], contents=[long, secret])
        with rag_otel.stage("rerank", kind="rerank") as s:
            s.record_input_documents(["d1"], [0.5], contents=[long])
            s.record_documents(["d1"], [0.7], contents=[long])
        with rag_otel.stage("generate", kind="generation") as s:
            s.set_input({"prompt": long})
            s.set_output(long)
        t.set_output(secret)
    config.force_flush()
    values = []
    for span in memory.get_finished_spans():
        for key, value in span.attributes.items():
            values.append([key, value])
        for event in span.events:
            for key, value in (event.attributes or {}).items():
                values.append([key, value])
    print("RESULT " + json.dumps({"seen": seen, "values": values}))
    """
)


def _run_redaction_app(code: str) -> dict[str, Any]:
    """Run the redaction app in a clean interpreter; its ``RESULT {...}`` line, parsed."""
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=child_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    return result


def test_redaction_runs_before_export_and_lengths_are_bounded() -> None:
    result = _run_redaction_app(REDACTION_APP)
    values = [(k, v) for k, v in result["values"]]
    texts = [v for _, v in values if isinstance(v, str)]
    assert not any("jane.doe" in v or "example.com" in v for v in texts), values
    assert any("[email]" in v for v in texts)  # captured, redacted
    # The hook saw the whole strings (before truncation), at least one per captured value.
    assert max(result["seen"]) >= 5000
    assert len(result["seen"]) >= 8
    for key, value in values:
        if isinstance(value, str) and "x" * 50 in value:
            # A captured text field is bounded; the JSON document list may hold several.
            if key.startswith("gen_ai.retrieval.documents"):
                assert len(value) < 3 * (200 + len(TRUNCATION_MARK)) + 200, key
            elif key in ("gen_ai.input.messages", "gen_ai.output.messages"):
                # the GenAI parts JSON stays valid: each part's content is bounded
                for message in json.loads(value):
                    for part in message["parts"]:
                        assert len(part["content"]) <= 200 + len(TRUNCATION_MARK), key
            else:
                assert len(value) <= 200 + len(TRUNCATION_MARK), (key, len(value))


def test_a_failing_redaction_hook_exports_nothing_and_raises_nothing() -> None:
    app = REDACTION_APP.replace(
        "def redact(text):", "def redact(text):\n    raise RuntimeError('hook bug')"
    )
    texts = [v for _, v in _run_redaction_app(app)["values"] if isinstance(v, str)]
    assert not any("jane.doe" in v or "x" * 50 in v for v in texts)

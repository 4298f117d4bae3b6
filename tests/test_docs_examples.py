"""Every ```python block in README.md and docs/*.md runs as printed.

Each block runs in a fresh interpreter in its own temporary folder, which holds a
`spans.jsonl` (and `spans.jsonl.gz`) written by rag-otel's own file exporter for a
service `faq-bot` with the usual stages, and a `tests` link to this repository's tests,
so examples that read those run as a user would run them. A block that needs a
service we cannot start here says so in its first line (`# needs: ...`) and is only
compiled.
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```python\n(.*?)```", re.S)

MAKE_SPANS = """
import rag_otel

rag_otel.configure(service_name="faq-bot", exporter="file", file_path="spans.jsonl")

@rag_otel.stage("embed", kind="embedding")
def embed(q): return [0.0] * 8

@rag_otel.stage("retrieve", kind="retrieval")
def retrieve(v): return ["a", "b"]

@rag_otel.stage("rerank", kind="rerank")
def rerank(hits): return hits

@rag_otel.stage("generate", kind="generation")
def generate(hits): return "answer"

for i in range(20):
    with rag_otel.turn(session_id=f"user-{i}"):
        generate(rerank(retrieve(embed("question"))))
rag_otel.shutdown()
"""


def _blocks() -> list[tuple[str, str]]:
    found = []
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text[: match.start()].count("\n") + 1
            found.append((f"{doc.relative_to(ROOT)}:{line}", match.group(1)))
    return found


BLOCKS = _blocks()


@pytest.fixture(scope="module")
def spans_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("spans")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAG_OTEL_"))}
    subprocess.run([sys.executable, "-c", MAKE_SPANS], cwd=folder, env=env, check=True, timeout=120)
    return folder / "spans.jsonl"


def test_the_docs_have_examples() -> None:
    assert len(BLOCKS) >= 10


@pytest.mark.parametrize(("where", "code"), BLOCKS, ids=[w for w, _ in BLOCKS])
def test_example_runs(where: str, code: str, tmp_path: Path, spans_file: Path) -> None:
    compile(code, where, "exec")  # every block is at least valid Python
    if code.lstrip().startswith("# needs:"):
        return
    shutil.copy(spans_file, tmp_path / "spans.jsonl")
    (tmp_path / "spans.jsonl.gz").write_bytes(gzip.compress(spans_file.read_bytes()))
    (tmp_path / "tests").symlink_to(ROOT / "tests")
    (tmp_path / "example.py").write_text(code, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAG_OTEL_"))}
    env["MPLBACKEND"] = "Agg"
    result = subprocess.run(
        [sys.executable, "example.py"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{where} failed:\n{result.stdout}\n{result.stderr}"

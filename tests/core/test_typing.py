"""Decorated functions keep their static types: mypy sees through stage() and turn()."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from core_helpers import ROOT

SNIPPET = """
from collections.abc import AsyncIterator, Iterator
import rag_otel

@rag_otel.stage("embed", kind="embedding")
def embed(text: str, *, normalize: bool = True) -> list[float]:
    return [0.0]

@rag_otel.stage
async def retrieve(query: str, k: int = 5) -> list[str]:
    return []

@rag_otel.stage("generate", kind="generation")
def stream(prompt: str) -> Iterator[str]:
    yield prompt

@rag_otel.stage("agenerate", kind="generation")
async def astream(prompt: str) -> AsyncIterator[str]:
    yield prompt

@rag_otel.turn(session_id="s")
def answer(question: str) -> str:
    return question

reveal_type(embed)
reveal_type(retrieve)
reveal_type(stream)
reveal_type(astream)
reveal_type(answer)
with rag_otel.stage("x", kind="retrieval") as s:
    reveal_type(s)
with rag_otel.turn(session_id="s") as t:
    reveal_type(t.turn_id)
reveal_type(rag_otel.current_stage())
reveal_type(rag_otel.current_turn())
rag_otel.current_stage().set_top_k(3)  # never None: no guard needed
embed(1)
rag_otel.configure("svc", exporter="none", metrics_port="9464")
"""


@pytest.mark.slow
def test_mypy_sees_through_the_decorators(tmp_path: Path) -> None:
    module = tmp_path / "typed_app.py"
    module.write_text(SNIPPET)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "cache"),
            str(module),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"MYPYPATH": str(ROOT / "src"), "PATH": ""},
        timeout=280,
    )
    out = result.stdout
    revealed = [
        line.split("Revealed type is ", 1)[1] for line in out.splitlines() if "Revealed" in line
    ]
    assert revealed == [
        '"def (text: str, *, normalize: bool =) -> list[float]"',
        '"def (query: str, k: int =) -> typing.Coroutine[Any, Any, list[str]]"',
        '"def (prompt: str) -> typing.Iterator[str]"',
        '"def (prompt: str) -> typing.AsyncIterator[str]"',
        '"def (question: str) -> str"',
        '"rag_otel.spans.handles.StageHandle"',
        '"str"',
        '"rag_otel.spans.handles.StageHandle"',
        '"rag_otel.spans.handles.TurnHandle"',
    ], out
    # ... and it still catches a wrong argument type through the decorator.
    assert 'Argument 1 to "embed" has incompatible type "int"; expected "str"' in out
    # configure() has real keyword parameters, declared once (rag_otel.options.Arguments)
    assert 'Argument "metrics_port" to "configure" has incompatible type "str"' in out

"""Forked workers: every child's spans reach the collector and nothing deadlocks.

``fork_app.py`` runs in a fresh interpreter, configured from the environment, and forks
children (``multiprocessing`` with the fork start method, a fork Pool, ``os.fork``) while its
own batch thread is busy. The spans are counted at a real OTLP/HTTP receiver on 127.0.0.1 or
read back from the file exporter's file. Every run is bounded by a timeout.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from reliability_helpers import HERE, HttpReceiver, child_env, iter_otlp_json_spans

from rag_otel import semconv as sc

SPANS_PER_TURN = 4
TIMEOUT_S = 60


def run_fork_app(env: dict[str, str], *args: str, timeout: float = TIMEOUT_S) -> dict[str, Any]:
    """Run fork_app.py in its own process group; on a deadlock kill that group (ours)."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "fork_app.py"), *args],
        env=env,
        cwd=str(HERE),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError(f"fork_app {args} deadlocked (no exit in {timeout}s)") from None
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # a child left behind, if any
    assert proc.returncode == 0, err[-3000:]
    line = next(x for x in out.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    result["stderr"] = err
    assert result["codes"] == [0] * len(result["codes"]), result
    return result


def turns_by_session(spans: list[tuple[str, str, str, dict[str, Any]]]) -> Counter[str]:
    """Complete turns per session: a rag.turn span whose trace has all its stage spans."""
    per_trace = Counter(trace_id for trace_id, _, _, _ in spans)
    sessions: Counter[str] = Counter()
    for trace_id, name, _, attrs in spans:
        if name == sc.TURN_SPAN_NAME and per_trace[trace_id] == SPANS_PER_TURN:
            sessions[attrs["session.id"]] += 1
    return sessions


def http_spans(receiver: HttpReceiver) -> list[tuple[str, str, str, dict[str, Any]]]:
    return [
        (t, name, s, {k: v.string_value for k, v in attrs.items()})
        for t, s, _, name, attrs in receiver.received.spans
    ]


def file_spans(path: Path) -> list[tuple[str, str, str, dict[str, Any]]]:
    out = []
    for span in iter_otlp_json_spans(path):
        attrs = {
            a["key"]: next(iter(a["value"].values()), None) for a in span.get("attributes", ())
        }
        out.append((span["traceId"], span["name"], span["spanId"], attrs))
    return out


def otlp_env(receiver: HttpReceiver) -> dict[str, str]:
    return child_env(
        RAG_OTEL_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{receiver.port}",
        OTEL_BSP_SCHEDULE_DELAY="50",
    )


@pytest.mark.parametrize("mode", ["process", "pool", "osfork"])
def test_children_spans_reach_an_otlp_receiver(mode: str) -> None:
    with HttpReceiver() as receiver:
        result = run_fork_app(otlp_env(receiver), mode)
        spans = http_spans(receiver)
    assert turns_by_session(spans) == Counter(result["expected"])
    assert len({s for _, _, s, _ in spans}) == len(spans)  # no span exported twice


@pytest.mark.parametrize("mode", ["process", "pool", "osfork"])
def test_children_spans_reach_the_file_exporter(mode: str, tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    env = child_env(RAG_OTEL_EXPORTER="file", RAG_OTEL_FILE_PATH=str(path))
    result = run_fork_app(env, mode, "--children", "4")
    # Every line is whole JSON (children append to the inherited file without interleaving).
    spans = file_spans(path)
    assert turns_by_session(spans) == Counter(result["expected"])


def test_os_fork_child_flushes_at_exit_without_help() -> None:
    # os.fork children that leave through the interpreter's normal exit run the inherited
    # atexit hook (rag_otel.shutdown), so they need no explicit flush.
    with HttpReceiver() as receiver:
        result = run_fork_app(otlp_env(receiver), "osfork", "--no-flush")
        spans = http_spans(receiver)
    assert turns_by_session(spans) == Counter(result["expected"])


@pytest.mark.parametrize("mode", ["process", "pool"])
def test_multiprocessing_children_flush_without_help(mode: str) -> None:
    with HttpReceiver() as receiver:
        result = run_fork_app(otlp_env(receiver), mode, "--no-flush")
        spans = http_spans(receiver)
    assert turns_by_session(spans) == Counter(result["expected"])


def test_fork_while_the_file_exporter_writes(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    env = child_env(RAG_OTEL_EXPORTER="file", RAG_OTEL_FILE_PATH=str(path))
    result = run_fork_app(env, "osfork", "--hold-file-lock", timeout=15)
    assert turns_by_session(file_spans(path)) == Counter(result["expected"])

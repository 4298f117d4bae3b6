"""Load: 1,000 turns/s asked of 50 asyncio tasks with parallel stages, for a bounded time.

``load_app.py`` runs in a fresh interpreter exporting over OTLP/HTTP to a real receiver on
127.0.0.1 (this process), which decodes every ExportTraceServiceRequest. Asserted: every turn
arrived with all its spans (none lost), every stage is parented to its own turn and carries
its turn's number (nothing leaked between concurrent turns), resident memory is stable. The
achieved rate is printed (``pytest -s``) and reported in docs/reliability.md, not asserted:
a shared 2-core machine may not reach 1,000 turns/s. Duration: RAG_OTEL_LOAD_SECONDS
(default 10 here, 30 in bench/bench_reliability.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from typing import Any

from reliability_helpers import HERE, HttpReceiver, child_env

from rag_otel import semconv as sc

STAGES = {"embed", "retrieve.vector", "retrieve.bm25", "fuse", "rerank", "generate"}
SECONDS = float(os.environ.get("RAG_OTEL_LOAD_SECONDS", "10"))


def run_load(receiver: HttpReceiver, seconds: float) -> dict[str, Any]:
    env = child_env(
        RAG_OTEL_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{receiver.port}",
        # Sized for the rate: 1,000 turns/s x 7 spans, exported every 200 ms in big batches.
        OTEL_BSP_MAX_QUEUE_SIZE="65536",
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE="4096",
        OTEL_BSP_SCHEDULE_DELAY="200",
        RAG_OTEL_LOAD_SECONDS=str(seconds),
    )
    proc = subprocess.run(
        [sys.executable, str(HERE / "load_app.py")],
        env=env,
        cwd=str(HERE),
        capture_output=True,
        text=True,
        timeout=seconds * 6 + 60,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line.removeprefix("RESULT "))
    result["stderr"] = proc.stderr
    return result


def check_traces(spans: list[tuple[str, str, str, str, dict[str, Any]]], turns: int) -> None:
    by_trace: dict[str, list[tuple[str, str, str, dict[str, Any]]]] = defaultdict(list)
    for trace_id, span_id, parent, name, attrs in spans:
        by_trace[trace_id].append((span_id, parent, name, attrs))
    assert len(by_trace) == turns
    for trace_id, members in by_trace.items():
        roots = [m for m in members if m[2] == sc.TURN_SPAN_NAME]
        assert len(roots) == 1, trace_id
        root_id, root_parent, _, root_attrs = roots[0]
        assert root_parent == ""
        number = root_attrs["app.turn"].int_value
        stages = [m for m in members if m[2] != sc.TURN_SPAN_NAME]
        assert {m[2] for m in stages} == STAGES, trace_id
        assert len(stages) == len(STAGES)
        for _, parent, name, attrs in stages:
            assert parent == root_id, (trace_id, name)
            if "app.turn" in attrs:
                assert attrs["app.turn"].int_value == number, (trace_id, name)


def test_load_every_span_parented_none_lost_memory_stable() -> None:
    with HttpReceiver() as receiver:
        result = run_load(receiver, SECONDS)
        spans = list(receiver.received.spans)
    print(
        "FIGURES "
        + json.dumps(
            {
                k: round(v, 2) if isinstance(v, float) else v
                for k, v in result.items()
                if k != "stderr"
            }
        )
    )
    assert result["turns"] > 0
    assert len(spans) == result["turns"] * (len(STAGES) + 1), "spans lost"
    check_traces(spans, result["turns"])
    assert "Queue full" not in result["stderr"]
    assert result["rss_last_third_mb"] <= result["rss_first_third_mb"] * 1.25, result

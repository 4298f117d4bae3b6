"""A small decorated RAG application for the end-to-end stack tests (run as a subprocess:
``configure()`` is process-global). Exports OTLP to OTEL_EXPORTER_OTLP_ENDPOINT.

    python stack_app.py SERVICE TURNS [PAUSE_S [AFTER_FIRST_S]]

AFTER_FIRST_S waits after the first turn: long enough for span metrics to be scraped once, so
that the other turns are an increase of an existing series (Prometheus' rate() starts there).

Prints one JSON line: the wall time of each turn in seconds (to show the app never blocks).
"""

from __future__ import annotations

import json
import sys
import time

import rag_otel

STAGES = ("embed", "retrieve.vector", "rerank", "generate")


@rag_otel.stage("embed", kind="embedding")
def embed(text: str) -> list[float]:
    time.sleep(0.002)
    return [0.0] * 8


@rag_otel.stage("retrieve.vector", kind="retrieval")
def search(vector: list[float]) -> list[str]:
    time.sleep(0.004)
    return ["doc-1", "doc-2"]


@rag_otel.stage("rerank", kind="rerank")
def rerank(hits: list[str]) -> list[str]:
    time.sleep(0.001)
    return hits[:1]


@rag_otel.stage("generate", kind="generation")
def generate(hits: list[str]) -> str:
    time.sleep(0.008)
    return f"answer from {hits[0]}"


def main() -> None:
    service, turns = sys.argv[1], int(sys.argv[2])
    pause = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    after_first = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    rag_otel.configure(service_name=service)
    took = []
    for i in range(turns):
        started = time.perf_counter()
        with rag_otel.turn(session_id=f"s{i % 3}"):
            generate(rerank(search(embed(f"question {i}"))))
        took.append(time.perf_counter() - started)
        time.sleep(after_first if i == 0 else pause)
    rag_otel.shutdown()
    print(json.dumps({"turn_seconds": took}))


if __name__ == "__main__":
    main()

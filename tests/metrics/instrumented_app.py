"""A traced RAG-shaped process for the Prometheus test (run as a script, not collected).

    python instrumented_app.py SPANS_FILE TURNS SEED

Configures rag-otel with spans to SPANS_FILE (OTLP JSON lines) and durations on a Prometheus
/metrics endpoint on 127.0.0.1 (a free port), runs one warm-up turn (so every series exists
before the measured run), prints ``{"port", "warmup_trace"}``, waits for a line on stdin,
runs TURNS turns of three stages sleeping for seeded log-normal times (the generation
streams two chunks, a pause before each), flushes, prints
``{"done": TURNS}``, and keeps serving /metrics until the next line on stdin.
"""

from __future__ import annotations

import json
import math
import random
import sys
import time
from collections.abc import Iterator

import rag_otel


def main() -> int:
    spans_file, turns, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    config = rag_otel.configure(
        service_name="prometheus-test",
        exporter="file",
        file_path=spans_file,
        metrics="prometheus",
        metrics_port=0,
    )
    assert config.metrics is not None
    assert config.metrics.prometheus_address is not None
    rng = random.Random(seed)

    def pause(median_s: float, sigma: float) -> None:
        time.sleep(rng.lognormvariate(math.log(median_s), sigma))

    @rag_otel.stage("embed", kind="embedding")
    def embed() -> None:
        pause(0.002, 0.5)

    @rag_otel.stage("retrieve", kind="retrieval")
    def retrieve() -> None:
        pause(0.008, 0.6)

    @rag_otel.stage("generate", kind="generation")
    def generate() -> Iterator[str]:
        pause(0.015, 0.5)  # to the first chunk
        yield "first"
        pause(0.010, 0.5)
        yield "rest"

    def one_turn(session: str) -> str:
        with rag_otel.turn(session_id=session) as t:
            embed()
            retrieve()
            assert "".join(generate()) == "firstrest"
        return f"{t.span.get_span_context().trace_id:032x}"

    warmup = one_turn("warmup")
    port = config.metrics.prometheus_address[1]
    print(json.dumps({"port": port, "warmup_trace": warmup}), flush=True)
    sys.stdin.readline()
    for i in range(turns):
        one_turn(f"user-{i}")
    config.force_flush()
    print(json.dumps({"done": turns}), flush=True)
    sys.stdin.readline()
    rag_otel.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

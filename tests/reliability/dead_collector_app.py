"""An application that traces 500 turns to the collector in OTEL_EXPORTER_OTLP_*, then ends.

Run by test_shutdown_bounds.py in a fresh interpreter::

    python dead_collector_app.py shutdown   # calls rag_otel.shutdown() and times it
    python dead_collector_app.py exit       # leaves it to the exit hook (atexit)

Prints ``SHUTDOWN_S <seconds>`` (shutdown mode) and, last, ``EXIT_AT <time.time()>`` just
before the interpreter starts to exit, so the parent can time the exit hook and teardown.
rag-otel's log goes to stderr.
"""

from __future__ import annotations

import logging
import sys
import time

import rag_otel

TURNS = 500
STAGES = ("embed", "retrieve.vector", "retrieve.bm25", "fuse", "rerank", "generate")
SPANS = TURNS * (1 + len(STAGES))


def main() -> int:
    logging.basicConfig(level=logging.WARNING, format="LOG %(name)s %(levelname)s %(message)s")
    rag_otel.configure(service_name="dead-collector-app", exporter="otlp")
    for i in range(TURNS):
        with rag_otel.turn(session_id=f"s{i % 10}"):
            for name in STAGES:
                with rag_otel.stage(name, kind="retrieval"):
                    pass
    if sys.argv[1:] == ["shutdown"]:
        started = time.monotonic()
        rag_otel.shutdown()
        print(f"SHUTDOWN_S {time.monotonic() - started:.3f}", flush=True)
    print(f"EXIT_AT {time.time():.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

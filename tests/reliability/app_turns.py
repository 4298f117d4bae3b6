"""An application that traces turns with rag-otel, configured only from the OTEL_* environment.

Run by the reliability tests in a fresh interpreter (one global provider per case)::

    python app_turns.py --seconds 1.5 --rate 400 [--sync]

It runs paced turns of six stages (each doing a little real CPU work), times every turn
as the application sees it, counts exceptions that reach it, samples RSS and the batch
queue, then times ``rag_otel.shutdown()``. Prints one line ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import statistics
import sys
import time

import psutil

import rag_otel
from rag_otel._errors import COUNTS

STAGES = (
    ("embed", "embedding"),
    ("retrieve.vector", "retrieval"),
    ("retrieve.bm25", "retrieval"),
    ("fuse", "fusion"),
    ("rerank", "rerank"),
    ("generate", "generation"),
)


WARMUP_TURNS = 200


def work(seed: bytes) -> bytes:
    digest = seed
    for _ in range(40):
        digest = hashlib.sha256(digest).digest()
    return digest


def one_turn(i: int) -> None:
    with rag_otel.turn(session_id=f"s{i % 50}") as t:
        data = str(i).encode()
        for name, kind in STAGES:
            with rag_otel.stage(name, kind=kind) as s:  # type: ignore[arg-type]
                data = work(data)
                s.set_attribute("app.bytes", len(data))
        t.set_attribute("app.done", True)


def queue_length(config: rag_otel.setup.Configuration) -> int:
    return max((p.queued() or 0 for p in config.processors), default=0)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.5)
    parser.add_argument("--rate", type=float, default=400.0)
    parser.add_argument("--shutdown-timeout-ms", type=int, default=None)
    parser.add_argument("--sync", action="store_true", help="print READY, wait for a stdin line")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="LOG %(name)s %(levelname)s %(message)s")

    config = rag_otel.configure(service_name="reliability-app")
    proc = psutil.Process()
    for i in range(WARMUP_TURNS):  # warm up (imports, first connection), paced like the run
        one_turn(i)
        time.sleep(1.0 / args.rate)
    if args.sync:  # start the timed part together with a sibling process
        print("READY", flush=True)
        sys.stdin.readline()

    rss_start = proc.memory_info().rss
    latencies: list[float] = []
    escaped = 0
    max_queue = 0
    interval = 1.0 / args.rate
    end = time.perf_counter() + args.seconds
    next_at = time.perf_counter()
    i = 0
    while True:
        now = time.perf_counter()
        if now >= end:
            break
        if now < next_at:
            time.sleep(next_at - now)
        next_at += interval
        t0 = time.perf_counter()
        try:
            one_turn(i)
        except Exception:
            escaped += 1
        latencies.append(time.perf_counter() - t0)
        i += 1
        if i % 50 == 0:
            max_queue = max(max_queue, queue_length(config))
    rss_end = proc.memory_info().rss

    t0 = time.perf_counter()
    try:
        if args.shutdown_timeout_ms is None:
            rag_otel.shutdown()
        else:
            rag_otel.shutdown(args.shutdown_timeout_ms)
        shutdown_escaped = False
    except Exception:
        shutdown_escaped = True
    shutdown_s = time.perf_counter() - t0

    latencies.sort()
    result = {
        "turns": len(latencies),
        "spans": len(latencies) * (len(STAGES) + 1),
        "median_ms": statistics.median(latencies) * 1e3,
        "p90_ms": latencies[int(len(latencies) * 0.9)] * 1e3,
        "mean_ms": statistics.fmean(latencies) * 1e3,
        "escaped": escaped,
        "shutdown_escaped": shutdown_escaped,
        "shutdown_s": shutdown_s,
        "rss_growth_mb": (rss_end - rss_start) / 2**20,
        "max_queue": max_queue,
        "counts": dict(COUNTS),
        "exporters": config.exporters,
    }
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Load: paced turns from 50 asyncio tasks with parallel stages; run by test_load.py and the bench.

    RAG_OTEL_LOAD_SECONDS=10 python load_app.py [--rate 1000] [--tasks 50]

configure() comes from the environment (OTLP/HTTP to the caller's receiver). Each task runs
turns at ``rate / tasks`` per second: an embedding stage, two retrieval stages in parallel
(``asyncio.gather``), fusion, rerank and a streamed generation (an async generator stage).
Every span carries the turn's number so a receiver can check nothing leaked between turns.
RSS is sampled every 100 ms. Prints ``RESULT {json}``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from collections.abc import AsyncIterator

import psutil

import rag_otel

SECONDS_ENV = "RAG_OTEL_LOAD_SECONDS"


@rag_otel.stage("embed", kind="embedding")
def embed(n: int) -> list[float]:
    return [float(n % 7)] * 8


@rag_otel.stage("retrieve.vector", kind="retrieval")
async def vector(n: int) -> list[int]:
    await asyncio.sleep(0)
    rag_otel.current_stage().set_attribute("app.turn", n)
    return [n, n + 1]


@rag_otel.stage("retrieve.bm25", kind="retrieval")
async def bm25(n: int) -> list[int]:
    await asyncio.sleep(0)
    rag_otel.current_stage().set_attribute("app.turn", n)
    return [n + 1, n]


@rag_otel.stage("generate", kind="generation")
async def generate(n: int) -> AsyncIterator[str]:
    for chunk in ("a", "b", "c"):
        await asyncio.sleep(0)
        yield chunk


async def one_turn(n: int) -> None:
    async with rag_otel.turn(session_id=f"s{n % 50}", **{"app.turn": n}):
        embed(n)
        hits = await asyncio.gather(vector(n), bm25(n))
        with rag_otel.stage("fuse", kind="fusion") as s:
            s.set_attribute("app.turn", n)
            fused = sorted(set(hits[0]) | set(hits[1]))
        async with rag_otel.stage("rerank", kind="rerank") as s:
            s.set_attribute("app.turn", n)
            s.record_documents([str(i) for i in fused], [1.0] * len(fused))
        async for _ in generate(n):
            pass


CONFIG: list[rag_otel.configuration.Configuration] = []


def queue_length() -> int:
    """Spans waiting in the batch processors' queues (the SDK's private deque)."""
    return sum(p.queued() or 0 for c in CONFIG for p in c.processors)


async def run(seconds: float, rate: float, tasks: int) -> dict[str, object]:
    counter = iter(range(10**9))
    per_task = tasks / rate
    end = time.perf_counter() + seconds
    done = [0]
    late = [0]

    async def worker(offset: float) -> None:
        next_at = time.perf_counter() + offset
        while next_at < end and time.perf_counter() < end:
            delay = next_at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                late[0] += 1
            await one_turn(next(counter))
            done[0] += 1
            next_at += per_task

    proc = psutil.Process()
    samples: list[int] = []
    queues: list[int] = []

    async def sample() -> None:
        while time.perf_counter() < end:
            samples.append(proc.memory_info().rss)
            queues.append(queue_length())
            await asyncio.sleep(0.1)

    t0 = time.perf_counter()
    await asyncio.gather(sample(), *(worker(i * per_task / tasks) for i in range(tasks)))
    elapsed = time.perf_counter() - t0
    third = max(1, len(samples) // 3)
    return {
        "turns": done[0],
        "elapsed_s": elapsed,
        "rate": done[0] / elapsed,
        "late": late[0],
        "rss_first_third_mb": max(samples[:third]) / 2**20,
        "rss_last_third_mb": max(samples[-third:]) / 2**20,
        "queue_first_third_max": max(queues[:third]),
        "queue_last_third_max": max(queues[-third:]),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get(SECONDS_ENV, "10")))
    args = parser.parse_args()
    CONFIG.append(rag_otel.configure(service_name="load-app"))
    result = asyncio.run(run(args.seconds, args.rate, args.tasks))
    t0 = time.perf_counter()
    rag_otel.shutdown()
    result["shutdown_s"] = time.perf_counter() - t0
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

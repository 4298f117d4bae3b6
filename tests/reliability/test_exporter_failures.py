"""The collector is down, slow, hanging or failing: the application must not notice.

Each case runs two copies of ``app_turns.py`` side by side (fresh interpreters, each
``rag_otel.configure()``-d from OTEL_* env): one exporting to a healthy receiver of the same
protocol, one to the broken collector, over real sockets on 127.0.0.1. Their timed parts
start together, so machine noise hits both alike, and the ratio of their median turn
latencies is the figure. Figures: docs/reliability.md (``pytest -s`` prints them).

The latency target (1.2x) is held by the benchmark (``bench/bench_reliability.py``), not
here: on a shared machine a burst of load can land on one twin and not the other. This
test bounds the ratio generously and, when one run misses the bound, runs the case again
(up to `LATENCY_ATTEMPTS` runs): noise does not hit three runs in a row, while a real
regression (an application thread waiting on the exporter) misses the bound in every run.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from reliability_helpers import (
    GrpcReceiver,
    HangingServer,
    HttpReceiver,
    child_env,
    run_side_by_side,
)

from netutil import free_port

EXPORT_TIMEOUT_S = 1
QUEUE = 2048  # the SDK's default queue and batch sizes
BATCH = 512
SECONDS = 2.0
RATE = 400
WARMUP_TURNS = 200
SPANS_PER_TURN = 7
# Generous for a shared 2-core machine; the measured medians are in docs/reliability.md.
LATENCY_RATIO_BOUND = 1.5
LATENCY_ATTEMPTS = 3
"""Side-by-side runs of a case before its latency ratio counts as missed."""
SHUTDOWN_BOUND_S = 2 * EXPORT_TIMEOUT_S + 1.0


def _env(protocol: str, endpoint: str) -> dict[str, str]:
    return child_env(
        RAG_OTEL_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
        OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
        OTEL_EXPORTER_OTLP_TIMEOUT=str(EXPORT_TIMEOUT_S),
        OTEL_BSP_EXPORT_TIMEOUT=str(EXPORT_TIMEOUT_S * 1000),
        OTEL_BSP_SCHEDULE_DELAY="100",
        OTEL_BSP_MAX_QUEUE_SIZE=str(QUEUE),
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE=str(BATCH),
    )


@contextlib.contextmanager
def _down() -> Iterator[str]:
    yield f"http://127.0.0.1:{free_port()}"


@contextlib.contextmanager
def _hanging() -> Iterator[str]:
    with HangingServer() as server:
        yield f"http://127.0.0.1:{server.port}"


def _http(**kw: Any) -> Callable[[], contextlib.AbstractContextManager[str]]:
    @contextlib.contextmanager
    def make() -> Iterator[str]:
        with HttpReceiver(**kw) as receiver:
            yield f"http://127.0.0.1:{receiver.port}"

    return make


def _grpc(**kw: Any) -> Callable[[], contextlib.AbstractContextManager[str]]:
    @contextlib.contextmanager
    def make() -> Iterator[str]:
        with GrpcReceiver(**kw) as receiver:
            yield receiver.endpoint

    return make


HTTP = "http/protobuf"
GRPC = "grpc"
CASES: dict[str, tuple[str, Callable[[], contextlib.AbstractContextManager[str]]]] = {
    "http-down": (HTTP, _down),
    "http-slow": (HTTP, _http(delay=2.5)),
    "http-hanging": (HTTP, _hanging),
    "http-500": (HTTP, _http(status=500)),
    "http-503": (HTTP, _http(status=503)),
    "grpc-down": (GRPC, _down),
    "grpc-slow": (GRPC, _grpc(delay=2.5)),
    "grpc-hanging": (GRPC, _hanging),
    "grpc-unavailable": (GRPC, _grpc(unavailable=True)),
}

_RESULTS: dict[tuple[str, int], dict[str, Any]] = {}


def run_case(case: str, attempt: int = 0) -> dict[str, Any]:
    """Run ``case`` once per `attempt` (cached): {'healthy': result, 'broken': result, 'log',
    'received'}."""
    if (case, attempt) not in _RESULTS:
        protocol, broken = CASES[case]
        healthy_receiver = HttpReceiver() if protocol == HTTP else GrpcReceiver()
        with healthy_receiver, broken() as broken_endpoint:
            healthy_endpoint = (
                f"http://127.0.0.1:{healthy_receiver.port}"
                if protocol == HTTP
                else healthy_receiver.endpoint
            )
            (healthy, _), (result, log) = run_side_by_side(
                [_env(protocol, healthy_endpoint), _env(protocol, broken_endpoint)],
                "--seconds",
                str(SECONDS),
                "--rate",
                str(RATE),
                "--shutdown-timeout-ms",
                str(EXPORT_TIMEOUT_S * 1000),
            )
            received = len(healthy_receiver.received.spans)
        _RESULTS[case, attempt] = {
            "healthy": healthy,
            "broken": result,
            "log": log,
            "received": received,
        }
        ratio = result["median_ms"] / healthy["median_ms"]
        figures = {
            "case": case,
            "ratio_median": round(ratio, 3),
            "ratio_p90": round(result["p90_ms"] / healthy["p90_ms"], 3),
            "healthy_median_ms": round(healthy["median_ms"], 3),
            "broken_median_ms": round(result["median_ms"], 3),
            "shutdown_s": round(result["shutdown_s"], 2),
            "healthy_shutdown_s": round(healthy["shutdown_s"], 2),
            "max_queue": result["max_queue"],
            "rss_growth_mb": round(result["rss_growth_mb"], 1),
            "turns": result["turns"],
            "counts": result["counts"],
        }
        print("FIGURES " + json.dumps(figures))
    return _RESULTS[case, attempt]


def latency_ratio(case: str) -> tuple[float, list[dict[str, Any]]]:
    """The broken twin's median turn latency over the healthy twin's: the first run's, or,
    when it misses `LATENCY_RATIO_BOUND`, the best of up to `LATENCY_ATTEMPTS` runs (with
    every run, for the message)."""
    runs: list[dict[str, Any]] = []
    best = float("inf")
    for attempt in range(LATENCY_ATTEMPTS):
        run = run_case(case, attempt)
        runs.append(run)
        best = min(best, run["broken"]["median_ms"] / run["healthy"]["median_ms"])
        if best < LATENCY_RATIO_BOUND:
            break
    return best, runs


def _healthy_delivered_all(run: dict[str, Any]) -> bool:
    healthy = run["healthy"]
    sent = (WARMUP_TURNS + healthy["turns"]) * SPANS_PER_TURN
    return run["received"] == sent and not healthy["counts"].get("queue.full", 0)


def _broken_queue_overflowed(run: dict[str, Any]) -> bool:
    return _healthy_delivered_all(run) and run["broken"]["counts"].get("queue.full", 0) > 0


def settled_run(
    case: str, settled: Callable[[dict[str, Any]], bool] = _healthy_delivered_all
) -> dict[str, Any]:
    """The first run of `case` that is `settled` (of up to `LATENCY_ATTEMPTS`; else the
    last). By default: its healthy twin delivered every span. A twin starved of CPU by other
    jobs can fall behind a healthy receiver and drop spans, or end too few spans to fill the
    broken twin's queue: such a run says nothing about the broken collector."""
    for attempt in range(LATENCY_ATTEMPTS):
        run = run_case(case, attempt)
        if settled(run):
            break
    return run


@pytest.mark.parametrize("case", list(CASES))
def test_turn_latency_unaffected_and_nothing_raised(case: str) -> None:
    run = settled_run(case)
    healthy, broken = run["healthy"], run["broken"]
    assert broken["escaped"] == 0
    assert not broken["shutdown_escaped"]
    assert healthy["escaped"] == 0
    ratio, runs = latency_ratio(case)
    assert ratio < LATENCY_RATIO_BOUND, (case, [(r["healthy"], r["broken"]) for r in runs])
    # The healthy twin lost nothing: warm-up and timed turns all arrived.
    assert run["received"] == (WARMUP_TURNS + healthy["turns"]) * SPANS_PER_TURN


@pytest.mark.parametrize("case", list(CASES))
def test_memory_stays_bounded(case: str) -> None:
    broken = run_case(case)["broken"]
    # The batch queue is the only buffer: it never holds more than OTEL_BSP_MAX_QUEUE_SIZE,
    # though ~7,000 spans were ended while the collector was unusable.
    assert broken["max_queue"] <= QUEUE
    assert broken["rss_growth_mb"] < 24, broken


# Collectors that never accept a span, so the queue fills and spans are dropped.
NEVER_ACCEPTS = [c for c in CASES if c != "http-500"]  # 500 is not retried: the queue drains


@pytest.mark.parametrize("case", NEVER_ACCEPTS)
def test_dropped_spans_counted_and_logged_once(case: str) -> None:
    run = settled_run(case, _broken_queue_overflowed)
    broken = run["broken"]
    ended = (WARMUP_TURNS + broken["turns"]) * SPANS_PER_TURN
    # ~7,000 spans ended, at most QUEUE queued plus the batches the exporter took: the rest
    # was dropped, and each drop is counted; the healthy twin dropped none.
    assert 0 < broken["counts"].get("queue.full", 0) <= ended - QUEUE, broken["counts"]
    assert run["healthy"]["counts"].get("queue.full", 0) == 0
    lines = [
        line for line in run["log"].splitlines() if "Queue full" in line or "queue is full" in line
    ]
    assert len(lines) == 1, lines


# A collector that holds each request for the whole export timeout: every queued batch
# waits OTEL_EXPORTER_OTLP_TIMEOUT, because the SDK's force_flush() ignores its timeout.
HOLDS_REQUESTS = ["http-slow", "http-hanging", "grpc-slow", "grpc-hanging"]


@pytest.mark.parametrize("case", HOLDS_REQUESTS)
def test_shutdown_bounded_by_its_timeout(case: str) -> None:
    broken = run_case(case)["broken"]
    assert broken["shutdown_s"] < SHUTDOWN_BOUND_S, broken


@pytest.mark.parametrize("case", [c for c in CASES if c not in HOLDS_REQUESTS])
def test_shutdown_bounded_when_exports_fail_fast(case: str) -> None:
    # Refused connections and error statuses give up within the export timeout per batch.
    broken = run_case(case)["broken"]
    assert broken["shutdown_s"] < QUEUE / BATCH * EXPORT_TIMEOUT_S + 2.0, broken

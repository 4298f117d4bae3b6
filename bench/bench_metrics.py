"""Stage metrics overhead: a rag_otel.stage with duration histograms on, against the same stage
with them off.

    python bench/run.py metrics          (or: python bench/bench_metrics.py [--quick])

A script (no ``results()``), so ``bench/run.py`` runs it in its own process: metrics and the
tracer provider are process-global. Everything
goes through one SDK pipeline: a TracerProvider with a BatchSpanProcessor and a discarding
exporter, and a MeterProvider with an in-memory reader. Measured in the same run, variants
in paired rounds, on an empty function, with the calling thread's CPU time (the harness and
statistics of bench_core: times are medians over rounds, ratios medians of same-round ratios):

* a decorated stage with metrics off (the baseline), and with metrics on; the same as
  ``with rag_otel.stage(...)``;
* a turn of six stages, metrics off and on;
* a stage followed by an inline SDK ``Histogram.record`` with prebuilt attributes (what the
  obvious implementation costs, for comparison);
* the aggregation done at collection time per recorded sample (on the exporter's thread or the
  Prometheus scrape, not the caller's), and stage + aggregation together (the process's whole
  CPU cost per stage with metrics on).

Target (issue 7): a stage with metrics costs at most 1.2x a stage without.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _harness import (  # noqa: E402
    Result,
    format_table,
    install_discarding_provider,
    paired_ratio,
    time_calls,
)

TITLE = "Stage metrics overhead (bench_metrics: empty function, spans + duration histograms)"
QUICK_ARGS = ["--quick"]
TARGET = 1.2
SIX = ("embed", "retrieve.vector", "retrieve.bm25", "fusion", "rerank", "generate")
KINDS = ("embedding", "retrieval", "retrieval", "fusion", "rerank", "generation")


def empty() -> None:
    pass


def _install() -> Callable[[], object]:
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    from rag_otel import metrics

    _, processor = install_discarding_provider()
    reader = InMemoryMetricReader()
    metrics.enable([], readers=[reader])

    def between() -> None:
        processor.force_flush()
        reader.get_metrics_data()  # a collection: aggregates what the last variant recorded

    return between


def measure(quick: bool) -> list[Result]:
    between = _install()

    import rag_otel
    from rag_otel import semconv as sc
    from rag_otel.metrics import recorder as metrics

    decorated = rag_otel.stage("retrieve", kind="retrieval")(empty)
    stages = [rag_otel.stage(n, kind=k)(empty) for n, k in zip(SIX, KINDS, strict=True)]  # type: ignore[arg-type]
    histogram = metrics._INSTRUMENTS.histograms[0]  # type: ignore[union-attr]
    attrs = {sc.RAG_STAGE: "retrieve", sc.RAG_STAGE_KIND: "retrieval"}
    record = histogram.record
    clock = time.perf_counter

    # Metrics are switched per call in every variant (one store, paid by all alike).
    def stage_off() -> None:
        metrics.ENABLED = False
        decorated()

    def stage_on() -> None:
        metrics.ENABLED = True
        decorated()

    def with_off() -> None:
        metrics.ENABLED = False
        with rag_otel.stage("retrieve", kind="retrieval"):
            empty()

    def with_on() -> None:
        metrics.ENABLED = True
        with rag_otel.stage("retrieve", kind="retrieval"):
            empty()

    def stage_inline_sdk() -> None:
        metrics.ENABLED = False
        t0 = clock()
        decorated()
        record(clock() - t0, attrs)

    def turn(enabled: bool) -> Callable[[], None]:
        def run() -> None:
            metrics.ENABLED = enabled
            with rag_otel.turn(session_id="user-42"):
                for stage_fn in stages:
                    stage_fn()

        return run

    # Rounds of a few hundred calls per variant, a collection after each round (untimed), as
    # the periodic exporter or a scrape would do: below MAX_PENDING pending samples (past it
    # a background thread aggregates, past MAX_BACKLOG the caller: see docs/metrics.md).
    number, repeats, batch = (2_000, 3, 200) if quick else (10_000, 6, 400)
    singles = {
        "stage, metrics off": stage_off,
        "stage, metrics on": stage_on,
        "stage + inline SDK Histogram.record": stage_inline_sdk,
        "with stage, metrics off": with_off,
        "with stage, metrics on": with_on,
    }
    turns = {"turn + 6 stages, metrics off": turn(False), "turn + 6 stages, metrics on": turn(True)}
    for fn in [*singles.values(), *turns.values()]:
        fn()  # warm-up
    between()
    timings = time_calls(singles, number=number, repeats=repeats, between=between, batch=batch)
    timings.update(
        time_calls(turns, number=number // 7, repeats=repeats, between=between, batch=batch // 7)
    )
    metrics.ENABLED = True
    drain = _aggregation_ns(batch, repeats * 5)
    med = {name: t.median for name, t in timings.items()}
    off, on = med["stage, metrics off"], med["stage, metrics on"]
    turn_off, turn_on = med["turn + 6 stages, metrics off"], med["turn + 6 stages, metrics on"]
    inline = med["stage + inline SDK Histogram.record"]
    stage_ratio = paired_ratio(timings["stage, metrics on"], timings["stage, metrics off"])
    turn_ratio = paired_ratio(
        timings["turn + 6 stages, metrics on"], timings["turn + 6 stages, metrics off"]
    )
    with_ratio = paired_ratio(timings["with stage, metrics on"], timings["with stage, metrics off"])
    inline_ratio = paired_ratio(
        timings["stage + inline SDK Histogram.record"], timings["stage, metrics off"]
    )
    target = f"<= {TARGET:.2f}x"
    return [
        Result("stage, metrics off", off, "ns/call"),
        Result(
            "stage, metrics on",
            on,
            "ns/call",
            "stage, metrics off",
            stage_ratio,
            target,
            stage_ratio <= TARGET,
        ),
        Result("with stage, metrics off", med["with stage, metrics off"], "ns/call"),
        Result(
            "with stage, metrics on",
            med["with stage, metrics on"],
            "ns/call",
            "with stage, metrics off",
            with_ratio,
            target,
            with_ratio <= TARGET,
        ),
        Result("turn + 6 stages, metrics off", turn_off, "ns/call"),
        Result(
            "turn + 6 stages, metrics on",
            turn_on,
            "ns/call",
            "turn + 6 stages, metrics off",
            turn_ratio,
            target,
            turn_ratio <= TARGET,
        ),
        Result(
            "stage + inline SDK Histogram.record",
            inline,
            "ns/call",
            "stage, metrics off",
            inline_ratio,
            note="the obvious design, for comparison",
        ),
        Result(
            "aggregation at collection",
            drain,
            "ns/sample",
            note="exporter/scrape thread, not the caller's",
        ),
        Result(
            "stage, metrics on + aggregation",
            on + drain,
            "ns/call",
            "stage, metrics off",
            (on + drain) / off,
            note="whole-process CPU per stage",
        ),
    ]


def _aggregation_ns(number: int, repeats: int) -> float:
    """CPU time per sample of handing recorded samples to the SDK histograms (median)."""
    from rag_otel.metrics import recorder as metrics

    key = metrics.stage_key("retrieve", "retrieval")
    per_sample: list[float] = []
    for _ in range(repeats):
        for i in range(number):
            metrics.record(0.001 * (1 + i % 50), key)
        gc.disable()
        try:
            start = time.thread_time_ns()
            drained = metrics.drain()
            elapsed = time.thread_time_ns() - start
        finally:
            gc.enable()
        per_sample.append(elapsed / max(1, drained))
    return statistics.median(per_sample)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    args = parser.parse_args(argv)
    out = measure(args.quick)
    print(format_table(TITLE, out), flush=True)
    return 0 if all(r.ok is not False for r in out) else 1


if __name__ == "__main__":
    sys.exit(main())

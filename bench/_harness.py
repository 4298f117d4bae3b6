"""Shared benchmark harness: timing that fights noise, results, and the printed table.

A benchmark module (``bench/bench_<topic>.py``) defines::

    TITLE = "Tracing overhead"

    def run(quick: bool) -> list[Result]: ...

``bench/run.py`` finds every such module, runs it and prints its results. Each result
is measured against a baseline measured in the same run, so ratios survive a noisy machine.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Result:
    """One line of a benchmark's table."""

    name: str
    value: float
    unit: str
    baseline: str | None = None
    """The result this one is compared with (its name), if any."""
    ratio: float | None = None
    target: str | None = None
    """What the issue asks for, e.g. ``<= 1.10x`` or ``< 1000 ns``."""
    ok: bool | None = None
    note: str = ""


@dataclass
class Timing:
    """Nanoseconds per call: best and median over the samples (one sample per batch)."""

    best: float
    median: float
    samples: list[float] = field(default_factory=list)


def paired_ratio(a: Timing, b: Timing) -> float:
    """Median over rounds of ``a``'s sample divided by ``b``'s sample of the same round.

    Variants are timed side by side in each round, so a burst of load on the machine
    scales both samples of a round alike and cancels out of their ratio.
    """
    ratios = [x / y for x, y in zip(a.samples, b.samples, strict=False) if y > 0]
    return statistics.median(ratios) if ratios else a.median / b.median


def time_calls(
    variants: dict[str, Callable[[], object]],
    *,
    number: int,
    repeats: int,
    between: Callable[[], object] | None = None,
    batch: int | None = None,
) -> dict[str, Timing]:
    """Time ``number * repeats`` calls of each variant, as rounds of ``batch`` calls (default:
    ``number``) in which every variant takes its turn, the order rotating from round to round
    (so a burst of load on the machine hits all of them). The GC is off while timing;
    ``between`` (e.g. a flush) runs after each round, untimed.

    The clock is the calling thread's CPU time (``time.thread_time_ns``): on a shared,
    loaded machine, wall time mostly measures how long the thread waited for a core.
    Work that the SDK hands to its export thread is therefore not counted; every
    variant hands it the same spans."""
    names = list(variants)
    size = max(1, min(batch or number, number))
    rounds = max(1, (number * repeats) // size)
    samples: dict[str, list[float]] = {name: [] for name in names}
    clock = time.thread_time_ns
    for round_no in range(rounds):
        shift = round_no % len(names)
        gc.collect()
        gc.disable()
        try:
            for name in names[shift:] + names[:shift]:
                fn = variants[name]
                loop = range(size)
                start = clock()
                for _ in loop:
                    fn()
                samples[name].append((clock() - start) / size)
        finally:
            gc.enable()
        if between is not None:
            between()
    return {
        name: Timing(best=min(values), median=statistics.median(values), samples=values)
        for name, values in samples.items()
    }


def format_table(title: str, results: Sequence[Result]) -> str:
    lines = [title, "-" * len(title)]
    width = max(len(r.name) for r in results)
    for r in results:
        value = f"{r.value:10.1f} {r.unit:<9}"
        ratio = f"{r.ratio:6.2f}x vs {r.baseline}" if r.ratio is not None else ""
        target = ""
        if r.target is not None:
            verdict = "" if r.ok is None else (" ok" if r.ok else " MISSED")
            target = f"  [target {r.target}{verdict}]"
        note = f"  ({r.note})" if r.note else ""
        lines.append(f"{r.name:<{width}}  {value} {ratio}{target}{note}".rstrip())
    return "\n".join(lines)


def install_discarding_provider(**batch_options: int) -> tuple[Any, Any]:
    """Install a global SDK provider whose BatchSpanProcessor exports to nowhere.

    The spans go through the whole SDK pipeline (processor queue, worker thread, exporter
    call) and are then dropped, so what a benchmark measures is the cost of making them.
    ``batch_options`` go to the BatchSpanProcessor (default: a queue big enough that no
    span is dropped, since dropping would make a variant look cheaper).
    Returns ``(provider, processor)``.
    """
    from opentelemetry import trace
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Discard(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    batch_options.setdefault("max_queue_size", 1 << 20)
    provider = TracerProvider()
    processor = BatchSpanProcessor(Discard(), **batch_options)
    provider.add_span_processor(processor)
    trace.set_tracer_provider(provider)
    return provider, processor

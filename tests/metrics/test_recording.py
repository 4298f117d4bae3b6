"""With durations on, every turn and stage records one sample, whatever its shape and outcome.

In-process against the session's SDK TracerProvider, with an InMemoryMetricReader passed
to ``rag_otel.metrics.enable`` (rag-otel's own MeterProvider, never the global one).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from metrics_helpers import by_stage, points
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import rag_otel
from rag_otel import metrics
from rag_otel import semconv as sc

STAGE = sc.METRIC_STAGE_DURATION
TURN = sc.METRIC_TURN_DURATION


@rag_otel.stage("embed", kind="embedding")
def embed(text: str) -> list[float]:
    time.sleep(0.002)
    return [0.0]


@rag_otel.stage("retrieve", kind="retrieval")
async def retrieve(query: str) -> list[str]:
    await asyncio.sleep(0.002)
    return ["a"]


@rag_otel.stage("stream", kind="generation")
def stream() -> Iterator[str]:
    yield "a"
    time.sleep(0.002)
    yield "b"


@rag_otel.stage("astream", kind="generation")
async def astream() -> AsyncIterator[str]:
    yield "a"
    await asyncio.sleep(0.002)
    yield "b"


@rag_otel.stage("fail", kind="rerank")
def fail() -> None:
    raise ValueError("bad")


async def one_turn(i: int) -> None:
    with rag_otel.turn(session_id=f"s{i}"):
        embed("q")
        await retrieve("q")
        assert list(stream()) == ["a", "b"]
        assert [c async for c in astream()] == ["a", "b"]
        with rag_otel.stage("fuse", kind="fusion"):
            sum(range(10_000))
        async with rag_otel.stage("afuse", kind="fusion"):
            await asyncio.sleep(0.001)
        with pytest.raises(ValueError, match="bad"):
            fail()
        with rag_otel.operation("chroma.add"):
            pass


async def test_every_turn_and_stage_records_its_duration(
    metric_reader: InMemoryMetricReader, span_exporter: InMemorySpanExporter
) -> None:
    for i in range(5):
        await one_turn(i)

    stages = by_stage(points(metric_reader, STAGE))
    names = ["embed", "retrieve", "stream", "astream", "fuse", "afuse"]
    assert sorted(stages) == sorted([*((n, None) for n in names), ("fail", "ValueError")])
    for name in names:
        point = stages[(name, None)]
        assert point.count == 5, name
        assert point.attributes[sc.RAG_STAGE_KIND] in sc.STAGE_KINDS
    assert stages[("fail", "ValueError")].attributes == {
        sc.RAG_STAGE: "fail",
        sc.RAG_STAGE_KIND: "rerank",
        sc.GEN_AI_OPERATION_NAME: "rerank",
        sc.ERROR_TYPE: "ValueError",
    }
    turns = points(metric_reader, TURN)
    assert [(p.attributes, p.count) for p in turns] == [({}, 5)]

    # The histograms time the same thing as the spans: sums agree to within a few percent.
    spans = span_exporter.get_finished_spans()
    for name in names:
        span_total = (
            sum((s.end_time or 0) - (s.start_time or 0) for s in spans if s.name == name) / 1e9
        )
        assert stages[(name, None)].sum == pytest.approx(span_total, rel=0.1), name
    turn_total = sum((s.end_time or 0) - (s.start_time or 0) for s in spans if s.name == "rag.turn")
    assert turns[0].sum == pytest.approx(turn_total / 1e9, rel=0.1)


async def test_cancellation_and_early_close_are_not_errors(
    metric_reader: InMemoryMetricReader,
) -> None:
    started = asyncio.Event()

    @rag_otel.stage("slow", kind="retrieval")
    async def slow() -> None:
        started.set()
        await asyncio.sleep(10)

    task = asyncio.create_task(slow())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    gen = stream()
    next(gen)
    gen.close()

    stages = by_stage(points(metric_reader, STAGE))
    assert stages[("slow", None)].count == 1
    assert stages[("stream", None)].count == 1
    assert all(error is None for _, error in stages)


def test_error_type_of_a_non_builtin_exception_is_qualified(
    metric_reader: InMemoryMetricReader,
) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), rag_otel.stage("boom"):
        raise Boom
    [(key, point)] = by_stage(points(metric_reader, STAGE)).items()
    assert key == ("boom", f"{__name__}.{Boom.__qualname__}")
    assert point.count == 1


def test_nothing_is_recorded_when_metrics_are_off(span_exporter: InMemorySpanExporter) -> None:
    assert not metrics.ENABLED
    before = len(metrics._PENDING)
    for _ in range(10):
        embed("q")
    assert len(span_exporter.get_finished_spans()) == 10  # traced, not timed
    assert len(metrics._PENDING) == before == 0


def test_explicit_buckets_by_default_on_a_reader_that_asks_nothing(
    metric_reader: InMemoryMetricReader,
) -> None:
    embed("q")
    [point] = points(metric_reader, STAGE)
    assert tuple(point.data.explicit_bounds) == metrics.DEFAULT_BUCKETS
    bounds = metrics.DEFAULT_BUCKETS
    assert bounds[0] == 0.0001
    assert bounds[-1] == 82.0
    assert max(b / a for a, b in itertools.pairwise(bounds)) <= 1.25 + 1e-9  # bounded width


def test_exponential_histograms_when_the_reader_prefers_them() -> None:
    from opentelemetry.sdk.metrics import Histogram
    from opentelemetry.sdk.metrics.export import ExponentialHistogramDataPoint
    from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation

    reader = InMemoryMetricReader(
        preferred_aggregation={Histogram: ExponentialBucketHistogramAggregation()}
    )
    metrics.enable([], readers=[reader])
    try:
        for _ in range(3):
            embed("q")
        [point] = points(reader, STAGE)
        assert isinstance(point.data, ExponentialHistogramDataPoint)
        assert point.count == 3
    finally:
        metrics.disable()


def test_a_long_queue_is_aggregated_in_the_background(
    metric_reader: InMemoryMetricReader,
) -> None:
    key = metrics.stage_key("bulk", "other")
    n = metrics.MAX_PENDING + 100
    for _ in range(n):
        metrics.record(0.001, key)
    deadline = time.monotonic() + 30
    while len(metrics._PENDING) > metrics.MAX_PENDING and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(metrics._PENDING) <= metrics.MAX_PENDING  # no collection ran: the drainer did
    [point] = points(metric_reader, STAGE)
    assert point.count == n


def test_past_the_backlog_the_caller_aggregates_and_nothing_is_lost(
    metric_reader: InMemoryMetricReader,
) -> None:
    key = metrics.stage_key("bulk", "other")
    n = metrics.MAX_BACKLOG + 1000
    longest = 0
    for _ in range(n):
        metrics.record(0.001, key)
        longest = max(longest, len(metrics._PENDING))
    assert longest <= metrics.MAX_BACKLOG + 1  # memory stays bounded
    [point] = points(metric_reader, STAGE)
    assert point.count == n


def test_samples_from_many_threads_are_all_counted(metric_reader: InMemoryMetricReader) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def work(_: int) -> None:
        for _ in range(200):
            embed("q")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(work, range(4)))
    [point] = points(metric_reader, STAGE)
    assert point.count == 800


def test_a_broken_histogram_never_reaches_the_caller(metric_reader: InMemoryMetricReader) -> None:
    from rag_otel._errors import COUNTS

    class Broken:
        def record(self, *args: object) -> None:
            raise RuntimeError("exporter bug")

    instruments = metrics._INSTRUMENTS
    assert instruments is not None
    saved = instruments.histograms
    instruments.histograms = (Broken(), Broken())  # type: ignore[assignment]
    before = COUNTS["metrics-record"]
    try:
        assert embed("q") == [0.0]
        metric_reader.get_metrics_data()
    finally:
        instruments.histograms = saved
    assert COUNTS["metrics-record"] == before + 1


def test_recording_on_the_applications_meter_provider() -> None:
    from opentelemetry.sdk.metrics import MeterProvider

    reader = InMemoryMetricReader()
    app_provider = MeterProvider(metric_readers=[reader])
    config = metrics.enable([], meter_provider=app_provider)
    try:
        assert not config.created_provider
        embed("q")
        [point] = points(reader, STAGE)
        assert point.count == 1
    finally:
        metrics.disable()
    embed("q")  # off again: not recorded, and the application's provider still works
    [point] = points(reader, STAGE)
    assert point.count == 1
    app_provider.shutdown()


def test_metric_keys_follow_the_genai_names() -> None:
    from rag_otel import metrics

    assert metrics.stage_key("g", "generation", "openai").attributes == {
        sc.RAG_STAGE: "g",
        sc.RAG_STAGE_KIND: "generation",
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_PROVIDER_NAME: "openai",
    }
    assert metrics.stage_key("f", "fusion").attributes[sc.GEN_AI_OPERATION_NAME] == "fusion"
    assert metrics.turn_key(None).attributes == {}  # no made-up workflow name
    named = metrics.turn_key("faq-bot")
    assert named.attributes == {sc.GEN_AI_WORKFLOW_NAME: "faq-bot"}
    assert metrics.turn_key("faq-bot") is named  # built once per name
    assert sc.METRIC_TURN_DURATION == "gen_ai.invoke_workflow.duration"

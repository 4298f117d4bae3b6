"""The four duration histograms: their bucket bounds, aggregation, and creation on a meter.

Usage::

    from rag_otel.metrics.histograms import DEFAULT_BUCKETS, aggregation, create_instruments

    agg = aggregation("explicit", DEFAULT_BUCKETS)   # or "exponential" (bounds unused)
    instruments = create_instruments(meter, bounds=DEFAULT_BUCKETS, custom_buckets=False)
    instruments.histograms[0]                        # rag.stage.duration

Four histograms, named and united per the OpenTelemetry conventions (unit ``s``):
``rag.stage.duration``, ``gen_ai.invoke_workflow.duration`` (a turn),
``gen_ai.client.operation.time_to_first_chunk`` (a streamed generation stage; the GenAI
conventions' bucket advice, `GEN_AI_BUCKETS`, unless buckets are given) and
``rag.turn.time_to_first_chunk`` (a turn's time to first token). `create_instruments` also
registers the observable gauge whose callback drains the recorder before every collection.

Histograms are base-2 exponential (bounded relative error, no bucket list to tune) wherever
the exporter supports them (OTLP, console); the Prometheus text exposition has no exponential
histograms, so the ``/metrics`` endpoint uses the explicit `DEFAULT_BUCKETS`.
``histogram="explicit"`` selects them for every exporter (for backends without exponential
histograms).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from rag_otel import semconv as sc
from rag_otel._config import env_first
from rag_otel.metrics.recorder import Instruments, collect_hook

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter
    from opentelemetry.sdk.metrics.view import Aggregation

__all__ = [
    "DEFAULT_BUCKETS",
    "GEN_AI_BUCKETS",
    "HISTOGRAMS",
    "HISTOGRAM_ENV",
    "aggregation",
    "bucket_bounds",
    "create_instruments",
    "histogram_choice",
]

HISTOGRAM_ENV: Final = "RAG_OTEL_METRICS_HISTOGRAM"
"""``exponential`` (default) or ``explicit``."""
HISTOGRAMS: Final = ("exponential", "explicit")

_E12: Final = (1.0, 1.2, 1.5, 1.8, 2.2, 2.7, 3.3, 3.9, 4.7, 5.6, 6.8, 8.2)
DEFAULT_BUCKETS: Final[tuple[float, ...]] = tuple(
    round(m * 10.0**e, 6) for e in range(-4, 2) for m in _E12
)
"""Explicit bucket bounds in seconds: the E12 series (12 per decade) from 0.1 ms to 82 s,
for RAG latencies from sub-millisecond fusion to tens of seconds of generation. Neighbouring
bounds differ by at most 25%, which bounds the relative error of a quantile estimated by
interpolating inside a bucket (Prometheus ``histogram_quantile``): within 25% of the true one."""

GEN_AI_BUCKETS: Final[tuple[float, ...]] = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
"""The bucket advice the GenAI conventions give ``gen_ai.client.operation.time_to_first_chunk``
(and ``gen_ai.client.operation.duration``), in seconds."""


def histogram_choice(histogram: str | None) -> str | None:
    """``exponential``/``explicit`` from the argument or ``RAG_OTEL_METRICS_HISTOGRAM``; None
    when neither says (then the exporters' own defaults and environment apply)."""
    value = histogram if histogram is not None else env_first(HISTOGRAM_ENV)
    if value is None:
        return None
    value = value.strip().lower()
    if value not in HISTOGRAMS:
        raise ValueError(
            f"rag-otel: metrics histogram {value!r}; expected one of {', '.join(HISTOGRAMS)}"
        )
    return value


def bucket_bounds(buckets: Sequence[float] | None) -> tuple[float, ...]:
    """``buckets`` as floats (`DEFAULT_BUCKETS` when None); ValueError unless increasing."""
    bounds = tuple(float(b) for b in (buckets if buckets is not None else DEFAULT_BUCKETS))
    if list(bounds) != sorted(set(bounds)) or not bounds:
        raise ValueError("rag-otel: metrics buckets must be distinct and increasing")
    return bounds


def aggregation(choice: str, buckets: Sequence[float]) -> Aggregation:
    """The SDK aggregation of ``choice``: explicit ``buckets``, or base-2 exponential."""
    from opentelemetry.sdk.metrics.view import (
        ExplicitBucketHistogramAggregation,
        ExponentialBucketHistogramAggregation,
    )

    if choice == "explicit":
        return ExplicitBucketHistogramAggregation(list(buckets))
    return ExponentialBucketHistogramAggregation()


def create_instruments(
    meter: Meter, *, bounds: Sequence[float], custom_buckets: bool
) -> Instruments:
    """The four histograms on ``meter`` (bucket advice ``bounds``; the first-chunk one the
    GenAI advice unless ``custom_buckets``), and the collection hook that drains the recorder."""
    advice = list(bounds)
    stage_hist = meter.create_histogram(
        sc.METRIC_STAGE_DURATION,
        unit="s",
        description="Duration of RAG pipeline stages (rag_otel.stage), every call, unsampled.",
        explicit_bucket_boundaries_advisory=advice,
    )
    turn_hist = meter.create_histogram(
        sc.METRIC_TURN_DURATION,
        unit="s",
        description="Duration of GenAI workflow invocations: RAG turns (rag_otel.turn), unsampled.",
        explicit_bucket_boundaries_advisory=advice,
    )
    stage_first_hist = meter.create_histogram(
        sc.METRIC_GEN_AI_TIME_TO_FIRST_CHUNK,
        unit="s",
        description="Time from a streamed generation stage's start to its first chunk.",
        explicit_bucket_boundaries_advisory=advice if custom_buckets else list(GEN_AI_BUCKETS),
    )
    turn_first_hist = meter.create_histogram(
        sc.METRIC_TURN_TIME_TO_FIRST_CHUNK,
        unit="s",
        description="Time to first token: from a turn's start to its first streamed chunk.",
        explicit_bucket_boundaries_advisory=advice,
    )
    # Its callback, which the SDK runs before every collection, hands over the pending samples.
    meter.create_observable_gauge(
        sc.METRIC_COLLECT_HOOK,
        callbacks=[collect_hook],
        unit="{sample}",
        description="rag-otel's hook to aggregate recorded durations before each collection.",
    )
    return Instruments(
        stage=stage_hist, turn=turn_hist, stage_first=stage_first_hist, turn_first=turn_first_hist
    )

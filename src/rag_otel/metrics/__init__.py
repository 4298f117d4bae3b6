"""Stage and turn duration histograms: OpenTelemetry metrics, recorded for every call.

Usage::

    import rag_otel

    rag_otel.configure(service_name="faq-bot", metrics=True)          # OTLP if an endpoint is set,
                                                                      # else http://127.0.0.1:9464/metrics
    rag_otel.configure(service_name="faq-bot", metrics="prometheus")  # a /metrics endpoint to scrape
    rag_otel.configure(service_name="faq-bot", metrics="otlp", endpoint="http://127.0.0.1:4318")

Four histograms, named and united per the OpenTelemetry conventions (unit ``s``):

* ``rag.stage.duration``: attributes ``rag.stage``, ``rag.stage.kind``, the kind's
  ``gen_ai.operation.name``, ``gen_ai.provider.name`` when ``stage(..., provider=...)`` names
  one, and, when the stage raised, ``error.type`` (cancellation and early close are not
  errors, as on spans: one rule, `rag_otel._outcome`);
* ``gen_ai.invoke_workflow.duration`` (the GenAI conventions' metric of a workflow invocation,
  which a turn is): ``gen_ai.workflow.name`` when the turn's workflow is named, ``error.type``
  when the turn raised;
* ``gen_ai.client.operation.time_to_first_chunk`` (GenAI conventions): a streamed generation
  stage's time from its start to its first chunk; ``rag.stage``, ``rag.stage.kind``,
  ``gen_ai.operation.name`` and, when the stage declares them, ``gen_ai.provider.name`` and
  ``gen_ai.request.model``; the conventions' bucket advice (`GEN_AI_BUCKETS`);
* ``rag.turn.time_to_first_chunk``: time to first token, from a turn's start to the first
  chunk any of its streamed generation stages yields (once per turn; turns that do not
  stream record none); ``gen_ai.workflow.name`` when the turn's workflow is named.

On a Prometheus endpoint they read ``rag_stage_duration_seconds_bucket{rag_stage, rag_stage_kind,
gen_ai_operation_name, error_type, le}`` (plus ``_sum`` and ``_count``),
``gen_ai_invoke_workflow_duration_seconds_*``,
``gen_ai_client_operation_time_to_first_chunk_seconds_*`` and
``rag_turn_time_to_first_chunk_seconds_*``. The first-chunk samples are taken on the first
chunk only, by the stream that yields it: a stage that does not stream costs nothing more.

Independent of trace sampling: the tracing API times each stage and turn itself, on its exit
path, instead of deriving durations from spans in a span processor (a span the sampler drops
never reaches a processor, so span-derived metrics would count 1% of the turns at 1% sampling).

The package, one concept a module:

* `rag_otel.metrics.keys`: what a sample is recorded under (`MetricKey`, built once per stage);
* `rag_otel.metrics.recorder`: the hot path, `record` (one deque append) and the drain into the
  SDK histograms at collection; ``ENABLED``, read on every stage and turn;
* `rag_otel.metrics.histograms`: the four histograms, their buckets and aggregation;
* `rag_otel.metrics.readers`: the readers each exporter name means (OTLP, Prometheus, console);
* `rag_otel.metrics.provider`: `enable` / `disable` / `force_flush`, the MeterProvider's life.

This module re-exports their public names, each imported on first use (PEP 562): the
tracing API imports `rag_otel.metrics.recorder` and `rag_otel.metrics.keys` on its hot
path without loading the rest. ``rag_otel.metrics.ENABLED`` reads the recorder's switch
(live); set it, if you must, on `rag_otel.metrics.recorder`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from rag_otel.metrics.histograms import (
        DEFAULT_BUCKETS,
        GEN_AI_BUCKETS,
        HISTOGRAM_ENV,
        HISTOGRAMS,
    )
    from rag_otel.metrics.keys import (
        TURN_FIRST_CHUNK_KEY,
        TURN_KEY,
        MetricKey,
        first_chunk_key,
        stage_key,
        turn_first_chunk_key,
        turn_key,
    )
    from rag_otel.metrics.provider import MetricsConfiguration, disable, enable, force_flush
    from rag_otel.metrics.readers import (
        DEFAULT_PROMETHEUS_HOST,
        DEFAULT_PROMETHEUS_PORT,
        OTLP_HISTOGRAM_ENV,
    )
    from rag_otel.metrics.recorder import _PENDING as _PENDING  # the queue, for tests
    from rag_otel.metrics.recorder import ENABLED as ENABLED
    from rag_otel.metrics.recorder import MAX_BACKLOG, MAX_PENDING, record

__all__ = [
    "DEFAULT_BUCKETS",
    "DEFAULT_PROMETHEUS_HOST",
    "DEFAULT_PROMETHEUS_PORT",
    "GEN_AI_BUCKETS",
    "HISTOGRAMS",
    "HISTOGRAM_ENV",
    "MAX_BACKLOG",
    "MAX_PENDING",
    "OTLP_HISTOGRAM_ENV",
    "TURN_FIRST_CHUNK_KEY",
    "TURN_KEY",
    "MetricKey",
    "MetricsConfiguration",
    "disable",
    "enable",
    "first_chunk_key",
    "force_flush",
    "record",
    "stage_key",
    "turn_first_chunk_key",
    "turn_key",
]

_HOMES: Final = {
    **dict.fromkeys(
        ("DEFAULT_BUCKETS", "GEN_AI_BUCKETS", "HISTOGRAM_ENV", "HISTOGRAMS"), "histograms"
    ),
    **dict.fromkeys(
        (
            "TURN_FIRST_CHUNK_KEY",
            "TURN_KEY",
            "MetricKey",
            "first_chunk_key",
            "stage_key",
            "turn_first_chunk_key",
            "turn_key",
        ),
        "keys",
    ),
    **dict.fromkeys(("MetricsConfiguration", "disable", "enable", "force_flush"), "provider"),
    **dict.fromkeys(
        ("DEFAULT_PROMETHEUS_HOST", "DEFAULT_PROMETHEUS_PORT", "OTLP_HISTOGRAM_ENV"), "readers"
    ),
    **dict.fromkeys(("_PENDING", "MAX_BACKLOG", "MAX_PENDING", "record"), "recorder"),
}
"""Where each public name lives, imported on first use."""
_LIVE: Final = frozenset({"ENABLED", "_INSTRUMENTS"})
"""The recorder's globals that `enable` and `disable` rebind: read through, never copied."""


if not TYPE_CHECKING:  # mypy reads the imports above; a typo stays an error for it

    def __getattr__(name: str) -> Any:
        if name in _LIVE:
            return getattr(importlib.import_module("rag_otel.metrics.recorder"), name)
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"rag_otel.metrics.{home}"), name)
        globals()[name] = value  # the next read is a plain module attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*globals(), *__all__, *_LIVE})

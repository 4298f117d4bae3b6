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

Cheap: the SDK's ``Histogram.record`` cleans and hashes the attributes, takes locks and
updates buckets on every call, which costs about half of a whole stage span. So the hot path
does not call it: `record` appends ``(seconds, key, error class)`` to a deque (one atomic
append) and the samples are handed to the SDK histograms when a reader collects (a callback
the SDK runs before every collection: the periodic OTLP export, a Prometheus scrape,
``force_flush``, shutdown), or, when more than `MAX_PENDING` wait, by a background thread
(by the recording thread itself past `MAX_BACKLOG`, so memory stays bounded). Every sample
recorded before a collection is in it; none is dropped. The attribute
dicts are built once per stage spec (`MetricKey`), at decoration time, not per call.

Histograms are base-2 exponential (bounded relative error, no bucket list to tune) wherever
the exporter supports them (OTLP, console); the Prometheus text exposition has no exponential
histograms, so the ``/metrics`` endpoint uses the explicit `DEFAULT_BUCKETS` (0.1 ms to 82 s,
at most 25% between neighbouring bounds). ``histogram="explicit"`` selects them for every
exporter (for backends without exponential histograms).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, cast

from rag_otel import _endpoints
from rag_otel import semconv as sc
from rag_otel._config import env_first
from rag_otel._errors import contained, warn_once
from rag_otel._outcome import error_type, is_error

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Histogram, Observation
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.metrics.view import Aggregation
    from opentelemetry.sdk.resources import Resource

__all__ = [
    "DEFAULT_BUCKETS",
    "EXPORTERS",
    "MetricKey",
    "MetricsConfiguration",
    "disable",
    "enable",
    "force_flush",
    "record",
    "stage_key",
]

logger: Final = logging.getLogger("rag_otel")

METRICS_ENV: Final = "RAG_OTEL_METRICS"
"""``true``/``false`` or exporter names (``otlp``, ``prometheus``, ``console``, comma-separated)."""
HISTOGRAM_ENV: Final = "RAG_OTEL_METRICS_HISTOGRAM"
"""``exponential`` (default) or ``explicit``."""
OTLP_HISTOGRAM_ENV: Final = "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION"
EXPORTERS: Final = ("otlp", "prometheus", "console")
HISTOGRAMS: Final = ("exponential", "explicit")
DEFAULT_PROMETHEUS_HOST: Final = "127.0.0.1"
DEFAULT_PROMETHEUS_PORT: Final = 9464  # the OpenTelemetry default for OTEL_EXPORTER_PROMETHEUS_PORT

_E12: Final = (1.0, 1.2, 1.5, 1.8, 2.2, 2.7, 3.3, 3.9, 4.7, 5.6, 6.8, 8.2)
DEFAULT_BUCKETS: Final[tuple[float, ...]] = tuple(
    round(m * 10.0**e, 6) for e in range(-4, 2) for m in _E12
)
"""Explicit bucket bounds in seconds: the E12 series (12 per decade) from 0.1 ms to 82 s,
for RAG latencies from sub-millisecond fusion to tens of seconds of generation. Neighbouring
bounds differ by at most 25%, which bounds the relative error of a quantile estimated by
interpolating inside a bucket (Prometheus ``histogram_quantile``): within 25% of the true one."""

MAX_PENDING: Final = 16_384
"""Samples waiting for a collection before a background thread aggregates them."""
MAX_BACKLOG: Final = 131_072
"""Samples waiting before the recording thread aggregates them itself (about 12 MB)."""

_STAGE: Final = 0
_TURN: Final = 1
_STAGE_FIRST_CHUNK: Final = 2
_TURN_FIRST_CHUNK: Final = 3

GEN_AI_BUCKETS: Final[tuple[float, ...]] = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)  # fmt: skip
"""The bucket advice the GenAI conventions give ``gen_ai.client.operation.time_to_first_chunk``
(and ``gen_ai.client.operation.duration``), in seconds."""

# --- the hot path's side --------------------------------------------------------------------

ENABLED: bool = False
"""Read by the tracing API on every stage and turn: record durations or not."""


class MetricKey:
    """The attributes one stage (or the turn) records under, built once per stage spec."""

    __slots__ = ("_errors", "attributes", "instrument")

    def __init__(self, instrument: int, attributes: Mapping[str, str]) -> None:
        self.instrument = instrument
        self.attributes: Final[dict[str, str]] = dict(attributes)
        self._errors: dict[type[BaseException], dict[str, str]] = {}

    def attributes_for(self, error: type[BaseException] | None) -> dict[str, str]:
        """The attributes of a sample that ended with ``error`` (None: it did not raise)."""
        if error is None:
            return self.attributes
        attrs = self._errors.get(error)
        if attrs is None:
            if is_error(error):
                attrs = {**self.attributes, sc.ERROR_TYPE: error_type(error)}
            else:
                attrs = self.attributes
            if len(self._errors) < 256:
                self._errors[error] = attrs
        return attrs


def stage_key(name: str, kind: str, provider: str | None = None) -> MetricKey:
    """The key of a stage: ``rag.stage``, ``rag.stage.kind``, the kind's
    ``gen_ai.operation.name`` and, when the stage names one, ``gen_ai.provider.name``."""
    conventions = sc.KIND_CONVENTIONS.get(kind, sc.KIND_CONVENTIONS["other"])
    attributes = {
        sc.RAG_STAGE: name,
        sc.RAG_STAGE_KIND: kind,
        sc.GEN_AI_OPERATION_NAME: conventions.gen_ai_operation,
    }
    if provider is not None:
        attributes[sc.GEN_AI_PROVIDER_NAME] = provider
    return MetricKey(_STAGE, attributes)


TURN_KEY: Final = MetricKey(_TURN, {})
"""The key of a turn without a workflow name (no attributes but ``error.type`` on failures)."""
_TURN_KEYS: Final[dict[str, MetricKey]] = {}


def turn_key(workflow: str | None) -> MetricKey:
    """The key of a turn: ``gen_ai.workflow.name`` when the workflow is named (low cardinality
    by the spec's rule; the cache is bounded all the same)."""
    if workflow is None:
        return TURN_KEY
    key = _TURN_KEYS.get(workflow)
    if key is None:
        if len(_TURN_KEYS) >= 256:
            _TURN_KEYS.clear()
        key = _TURN_KEYS[workflow] = MetricKey(_TURN, {sc.GEN_AI_WORKFLOW_NAME: workflow})
    return key


_FIRST_CHUNK_ATTRIBUTES: Final = (sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_REQUEST_MODEL)


def first_chunk_key(name: str, kind: str, attributes: Mapping[str, object]) -> MetricKey:
    """The key of a streamed stage's time to first chunk: ``rag.stage``, ``rag.stage.kind``,
    ``gen_ai.operation.name`` and, when the stage declares them, ``gen_ai.provider.name`` and
    ``gen_ai.request.model`` (the attributes of ``gen_ai.client.operation.time_to_first_chunk``)."""
    attrs = {sc.RAG_STAGE: name, sc.RAG_STAGE_KIND: kind}
    for key in (sc.GEN_AI_OPERATION_NAME, *_FIRST_CHUNK_ATTRIBUTES):
        value = attributes.get(key)
        if isinstance(value, str):
            attrs[key] = value
    return MetricKey(_STAGE_FIRST_CHUNK, attrs)


TURN_FIRST_CHUNK_KEY: Final = MetricKey(_TURN_FIRST_CHUNK, {})
"""The key of a turn's time to first token (from its start to its first streamed chunk),
for a turn without a workflow name."""
_TURN_FIRST_CHUNK_KEYS: Final[dict[str, MetricKey]] = {}


def turn_first_chunk_key(workflow: str | None) -> MetricKey:
    """The key of a turn's time to first token: ``gen_ai.workflow.name`` when the workflow
    is named, as on the turn's duration (the cache is bounded the same way)."""
    if workflow is None:
        return TURN_FIRST_CHUNK_KEY
    key = _TURN_FIRST_CHUNK_KEYS.get(workflow)
    if key is None:
        if len(_TURN_FIRST_CHUNK_KEYS) >= 256:
            _TURN_FIRST_CHUNK_KEYS.clear()
        key = MetricKey(_TURN_FIRST_CHUNK, {sc.GEN_AI_WORKFLOW_NAME: workflow})
        _TURN_FIRST_CHUNK_KEYS[workflow] = key
    return key


_Sample = tuple[float, MetricKey, "type[BaseException] | None"]
_PENDING: Final[deque[_Sample]] = deque()
if hasattr(os, "register_at_fork"):  # a forked worker must not re-count its parent's samples
    os.register_at_fork(after_in_child=_PENDING.clear)


def record(seconds: float, key: MetricKey, error: type[BaseException] | None = None) -> None:
    """Record one duration. The hot path: one append; aggregation happens at collection."""
    _PENDING.append((seconds, key, error))
    if len(_PENDING) > MAX_PENDING:
        _overflow()


def _overflow() -> None:
    """Many samples wait: a background thread aggregates them, or, past `MAX_BACKLOG`
    (it cannot keep up), the recording thread itself: memory stays bounded, nothing is lost."""
    global _drainer
    if len(_PENDING) > MAX_BACKLOG:
        _drain()
        return
    if _drainer is None or not _drainer.is_alive():  # first time, or in a forked child
        with _start_lock:
            if _drainer is None or not _drainer.is_alive():
                _drainer = threading.Thread(
                    target=_drain_when_woken, name="rag-otel-metrics", daemon=True
                )
                _drainer.start()
    if not _wake.is_set():
        _wake.set()


def _drain_when_woken() -> None:
    while True:
        _wake.wait()
        _wake.clear()
        try:
            _drain()
        except Exception:
            contained("metrics-drain", "aggregating durations failed")


# --- aggregation: the SDK side ------------------------------------------------------------------


class _Instruments:
    __slots__ = ("histograms",)

    def __init__(
        self, stage: Histogram, turn: Histogram, stage_first: Histogram, turn_first: Histogram
    ) -> None:
        self.histograms = (stage, turn, stage_first, turn_first)  # by MetricKey.instrument


_INSTRUMENTS: _Instruments | None = None
_drain_lock: Final = threading.Lock()
_wake: Final = threading.Event()
_start_lock: Final = threading.Lock()
_drainer: threading.Thread | None = None


def _drain() -> int:
    """Hand every pending sample to the SDK histograms; returns how many."""
    instruments = _INSTRUMENTS
    pop = _PENDING.popleft
    done = 0
    # One drainer at a time keeps samples in order; a concurrent caller finds the queue empty.
    with _drain_lock:
        for _ in range(len(_PENDING)):
            try:
                seconds, key, error = pop()
            except IndexError:
                break
            if instruments is None:
                continue
            try:
                instruments.histograms[key.instrument].record(seconds, key.attributes_for(error))
            except Exception:
                contained("metrics-record", "recording a duration in a histogram failed")
            done += 1
    return done


def _collect_hook(options: CallbackOptions) -> Iterable[Observation]:
    """Runs before each collection (an observable-instrument callback): drains the queue."""
    _drain()
    return ()


# --- configuration --------------------------------------------------------------------------


@dataclass
class MetricsConfiguration:
    """What `enable` set up."""

    meter_provider: MeterProvider
    created_provider: bool
    """True when rag-otel created the MeterProvider (and shuts it down), False when given one."""
    exporters: list[str] = field(default_factory=list)
    """``otlp(http/protobuf http://...)``, ``prometheus(http://127.0.0.1:9464/metrics)`` ..."""
    histogram: str = "exponential"
    prometheus_address: tuple[str, int] | None = None
    """(host, port) the ``/metrics`` endpoint listens on, if it is on."""
    readers: list[MetricReader] = field(default_factory=list)
    otlp_address: _endpoints.Address | None = None
    """Where the OTLP reader exports (shutdown gives up at once if it refuses connections)."""
    _server: Any = None

    @property
    def prometheus_url(self) -> str | None:
        if self.prometheus_address is None:
            return None
        host, port = self.prometheus_address
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/metrics"


_lock: Final = threading.Lock()
_active: MetricsConfiguration | None = None


def exporter_names(
    metrics: bool | str | Sequence[str] | None, *, otlp_endpoint: str | None
) -> list[str]:
    """Which exporters ``configure(metrics=...)`` means; [] when metrics stay off.

    ``None`` reads ``RAG_OTEL_METRICS`` (off when unset). ``True`` (or ``"true"``) means
    ``OTEL_METRICS_EXPORTER`` when set, else ``otlp`` when an OTLP endpoint is configured,
    else ``prometheus``. Raises ValueError for an unknown exporter name.
    """
    source = "metrics="
    if metrics is None:
        raw = env_first(METRICS_ENV)
        if raw is None:
            return []
        source = METRICS_ENV
        low = raw.lower()
        if low in ("false", "0", "no", "off", "none"):
            return []
        metrics = True if low in ("true", "1", "yes", "on") else raw
    if metrics is False:
        return []
    if metrics is True:
        raw_env = env_first("OTEL_METRICS_EXPORTER")
        if raw_env is None:
            return ["otlp" if otlp_endpoint else "prometheus"]
        source, metrics = "OTEL_METRICS_EXPORTER", raw_env
    names = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    out: list[str] = []
    for raw_name in names:
        name = raw_name.strip().lower()
        if name == "none":
            continue
        if name not in EXPORTERS:
            raise ValueError(
                f"rag-otel: {source} names unknown metrics exporter {raw_name!r}; expected one "
                f"of {', '.join(EXPORTERS)} (or true/false)"
            )
        if name not in out:
            out.append(name)
    return out


def _histogram_choice(histogram: str | None) -> str | None:
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


def _aggregation(choice: str, buckets: Sequence[float]) -> Aggregation:
    from opentelemetry.sdk.metrics.view import (
        ExplicitBucketHistogramAggregation,
        ExponentialBucketHistogramAggregation,
    )

    if choice == "explicit":
        return ExplicitBucketHistogramAggregation(list(buckets))
    return ExponentialBucketHistogramAggregation()


def _otlp_reader(
    endpoint: str | None,
    protocol: str | None,
    headers: Mapping[str, str] | None,
    aggregation: Aggregation | None,
    interval_millis: float | None,
) -> tuple[MetricReader, str, str]:
    """The OTLP reader, its label and the endpoint it exports to."""
    from opentelemetry.sdk.metrics import Histogram as HistogramInstrument
    from opentelemetry.sdk.metrics.export import MetricExporter, PeriodicExportingMetricReader

    from rag_otel.options import otlp_protocol
    from rag_otel.otlp import otlp_exporter

    chosen = otlp_protocol("metrics", protocol)
    if chosen.warning is not None:
        warn_once(chosen.warning)
    preferred: dict[type, Aggregation] | None = (
        None if aggregation is None else {HistogramInstrument: aggregation}
    )
    built = otlp_exporter(
        "metrics",
        endpoint=endpoint,
        protocol=chosen.name,
        headers=headers,
        preferred_aggregation=preferred,
    )
    exporter = cast("MetricExporter", built.exporter)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=interval_millis)
    return reader, built.label, built.endpoint


def _console_reader(
    aggregation: Aggregation | None, interval_millis: float | None
) -> tuple[MetricReader, str]:
    from opentelemetry.sdk.metrics import Histogram as HistogramInstrument
    from opentelemetry.sdk.metrics.export import (
        ConsoleMetricExporter,
        PeriodicExportingMetricReader,
    )

    agg = aggregation if aggregation is not None else _aggregation("exponential", DEFAULT_BUCKETS)
    exporter = ConsoleMetricExporter(preferred_aggregation={HistogramInstrument: agg})
    return PeriodicExportingMetricReader(
        exporter, export_interval_millis=interval_millis
    ), "console"


def _prometheus_port(port: int | None) -> int:
    if port is not None:
        return int(port)
    raw = env_first("OTEL_EXPORTER_PROMETHEUS_PORT")
    if raw is None:
        return DEFAULT_PROMETHEUS_PORT
    try:
        return int(raw)
    except ValueError:
        logger.warning(
            "rag-otel: OTEL_EXPORTER_PROMETHEUS_PORT=%r is not a port; using %d",
            raw,
            DEFAULT_PROMETHEUS_PORT,
        )
        return DEFAULT_PROMETHEUS_PORT


def enable(
    exporters: Sequence[str] = ("prometheus",),
    *,
    resource: Resource | None = None,
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: Mapping[str, str] | None = None,
    prometheus_host: str | None = None,
    prometheus_port: int | None = None,
    histogram: str | None = None,
    buckets: Sequence[float] | None = None,
    export_interval_millis: float | None = None,
    readers: Sequence[MetricReader] = (),
    meter_provider: MeterProvider | None = None,
) -> MetricsConfiguration:
    """Start recording stage and turn durations; ``rag_otel.configure(metrics=...)`` calls this.

    - ``exporters``: ``otlp`` (a PeriodicExportingMetricReader; ``endpoint``/``protocol``/
      ``headers``, else ``OTEL_EXPORTER_OTLP_METRICS_*`` / ``OTEL_EXPORTER_OTLP_*``; interval
      ``export_interval_millis`` or ``OTEL_METRIC_EXPORT_INTERVAL``), ``prometheus`` (a
      ``/metrics`` endpoint on ``prometheus_host``:``prometheus_port``, else
      ``OTEL_EXPORTER_PROMETHEUS_HOST``/``_PORT``, default 127.0.0.1:9464; port 0 picks a free
      one), ``console``; plus any ``readers`` (tests pass an InMemoryMetricReader).
    - ``histogram``: ``exponential`` (default where the exporter supports it) or ``explicit``
      (``buckets``, default `DEFAULT_BUCKETS`; always used by the Prometheus endpoint).
    - ``meter_provider``: record on the application's SDK MeterProvider instead of creating
      one (then its readers export, and it is not shut down by rag-otel).

    A second call replaces the first configuration (shut down first). A ``/metrics`` port
    that cannot be bound is logged and skipped, never raised.
    """
    global _INSTRUMENTS, _active, ENABLED
    from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider

    from rag_otel._version import __version__

    choice = _histogram_choice(histogram)
    bounds = tuple(float(b) for b in (buckets if buckets is not None else DEFAULT_BUCKETS))
    if list(bounds) != sorted(set(bounds)) or not bounds:
        raise ValueError("rag-otel: metrics buckets must be distinct and increasing")
    aggregation = None if choice is None else _aggregation(choice, bounds)

    disable()
    config_readers: list[MetricReader] = []
    labels: list[str] = []
    prometheus_start: tuple[str, int] | None = None
    otlp_address: _endpoints.Address | None = None
    registry: Any = None
    for name in exporters:
        if name == "otlp":
            # OTLP's own env var for it is honoured when set; else exponential by default.
            otlp_aggregation = aggregation
            if otlp_aggregation is None and not env_first(OTLP_HISTOGRAM_ENV):
                otlp_aggregation = _aggregation("exponential", bounds)
            reader, label, otlp_used = _otlp_reader(
                endpoint, protocol, headers, otlp_aggregation, export_interval_millis
            )
            otlp_address = _endpoints.address(otlp_used)
        elif name == "console":
            reader, label = _console_reader(aggregation, export_interval_millis)
        elif name == "prometheus":
            from opentelemetry.exporter.prometheus import PrometheusMetricReader
            from prometheus_client import CollectorRegistry

            registry = CollectorRegistry(auto_describe=True)
            # explicit buckets: the text exposition has no exponential histograms
            reader, label = PrometheusMetricReader(registry=registry), "prometheus"
            host = (
                prometheus_host
                or env_first("OTEL_EXPORTER_PROMETHEUS_HOST")
                or DEFAULT_PROMETHEUS_HOST
            )
            prometheus_start = (host, _prometheus_port(prometheus_port))
        else:
            raise ValueError(
                f"rag-otel: unknown metrics exporter {name!r}; expected one of {', '.join(EXPORTERS)}"
            )
        config_readers.append(reader)
        labels.append(label)
    config_readers.extend(readers)
    labels.extend(type(r).__name__ for r in readers)

    created = meter_provider is None
    if meter_provider is None:
        provider = SdkMeterProvider(metric_readers=config_readers, resource=resource)
    else:
        provider = meter_provider
        if config_readers:
            logger.warning(
                "rag-otel: meter_provider= given: its own readers export; exporters %s ignored",
                labels,
            )
            labels = []
    meter = provider.get_meter("rag_otel", __version__)
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
        explicit_bucket_boundaries_advisory=list(GEN_AI_BUCKETS) if buckets is None else advice,
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
        callbacks=[_collect_hook],
        unit="{sample}",
        description="rag-otel's hook to aggregate recorded durations before each collection.",
    )
    config = MetricsConfiguration(
        meter_provider=provider,
        created_provider=created,
        exporters=labels,
        histogram=choice or "exponential",
        readers=config_readers if created else [],
        otlp_address=otlp_address if created else None,
    )
    if prometheus_start is not None and created:
        config._server, config.prometheus_address = _serve(prometheus_start, registry)
        if config.prometheus_url is not None:
            labels[labels.index("prometheus")] = f"prometheus({config.prometheus_url})"
    with _lock:
        _active = config
        _INSTRUMENTS = _Instruments(stage_hist, turn_hist, stage_first_hist, turn_first_hist)
        ENABLED = True
    logger.info("rag-otel: recording stage and turn durations, exporting to %s", labels)
    return config


def _serve(address: tuple[str, int], registry: Any) -> tuple[Any, tuple[str, int] | None]:
    from prometheus_client import start_http_server

    host, port = address
    try:
        server, _thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        logger.warning(
            "rag-otel: cannot serve /metrics on %s:%d (%s); the Prometheus endpoint is off",
            host,
            port,
            exc.strerror or exc,
        )
        return None, None
    return server, (host, int(server.server_port))


def force_flush(timeout_millis: int = 30_000) -> bool:
    """Aggregate pending samples and export what the configured readers push."""
    config = _active
    _drain()
    if config is None:
        return True
    try:
        return bool(config.meter_provider.force_flush(timeout_millis))
    except Exception:
        contained("metrics-flush", "flushing metrics failed")
        return False


def disable(timeout_millis: int = 30_000) -> None:
    """Stop recording; flush and shut down what `enable` created (its provider and server)."""
    global _INSTRUMENTS, _active, ENABLED
    with _lock:
        config, _active = _active, None
        ENABLED = False
    if config is None:
        return
    _drain()
    with _lock:
        _INSTRUMENTS = None
    if config._server is not None:
        try:
            config._server.shutdown()
            config._server.server_close()
        except Exception:
            contained("metrics-shutdown", "stopping the /metrics server failed")
    if config.created_provider:
        try:
            config.meter_provider.shutdown(timeout_millis)
        except Exception:
            contained("metrics-shutdown", "shutting down the meter provider failed")

"""Turning duration metrics on and off: the MeterProvider, its readers, a bounded shutdown.

Usage (``rag_otel.configure(metrics=...)`` calls `enable` and, on shutdown, `disable`)::

    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from rag_otel.metrics import provider

    config = provider.enable(["prometheus"], prometheus_port=0)   # a /metrics endpoint
    config.prometheus_url                  # "http://127.0.0.1:41234/metrics"
    provider.enable([], readers=[InMemoryMetricReader()])        # replaces the first one
    provider.force_flush()                 # aggregate pending samples, export what readers push
    provider.disable()                     # flush; stop the server and the provider it created

`enable` builds the readers (`rag_otel.metrics.readers`), creates (or borrows) the
MeterProvider, creates the histograms on it (`rag_otel.metrics.histograms`) and starts the
recorder (`rag_otel.metrics.recorder`); `disable` stops the recorder, drains what it holds,
and shuts down only what `enable` created.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from rag_otel import _endpoints
from rag_otel._errors import contained
from rag_otel.metrics import recorder
from rag_otel.metrics.histograms import (
    aggregation,
    bucket_bounds,
    create_instruments,
    histogram_choice,
)
from rag_otel.metrics.readers import build_readers, serve

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.resources import Resource

__all__ = ["MetricsConfiguration", "disable", "enable", "force_flush"]

logger: Final = logging.getLogger("rag_otel")


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
    global _active
    from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider

    from rag_otel._version import __version__

    choice = histogram_choice(histogram)
    bounds = bucket_bounds(buckets)
    chosen_aggregation = None if choice is None else aggregation(choice, bounds)

    disable()
    built = build_readers(
        exporters,
        aggregation=chosen_aggregation,
        bounds=bounds,
        endpoint=endpoint,
        protocol=protocol,
        headers=headers,
        prometheus_host=prometheus_host,
        prometheus_port=prometheus_port,
        export_interval_millis=export_interval_millis,
    )
    config_readers = [*built.readers, *readers]
    labels = [*built.labels, *(type(r).__name__ for r in readers)]

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
    instruments = create_instruments(meter, bounds=bounds, custom_buckets=buckets is not None)
    config = MetricsConfiguration(
        meter_provider=provider,
        created_provider=created,
        exporters=labels,
        histogram=choice or "exponential",
        readers=config_readers if created else [],
        otlp_address=built.otlp_address if created else None,
    )
    if built.prometheus_start is not None and created:
        config._server, config.prometheus_address = serve(built.prometheus_start, built.registry)
        if config.prometheus_url is not None:
            labels[labels.index("prometheus")] = f"prometheus({config.prometheus_url})"
    with _lock:
        _active = config
        recorder.start(instruments)
    logger.info("rag-otel: recording stage and turn durations, exporting to %s", labels)
    return config


def force_flush(timeout_millis: int = 30_000) -> bool:
    """Aggregate pending samples and export what the configured readers push."""
    config = _active
    recorder.drain()
    if config is None:
        return True
    try:
        return bool(config.meter_provider.force_flush(timeout_millis))
    except Exception:
        contained("metrics-flush", "flushing metrics failed")
        return False


def disable(timeout_millis: int = 30_000) -> None:
    """Stop recording; flush and shut down what `enable` created (its provider and server)."""
    global _active
    with _lock:
        config, _active = _active, None
        recorder.stop()
    if config is None:
        return
    recorder.drain()
    with _lock:
        recorder.release()
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

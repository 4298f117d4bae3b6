"""The metric readers each exporter name means: OTLP, a Prometheus ``/metrics`` endpoint, console.

Usage::

    from rag_otel.metrics.histograms import DEFAULT_BUCKETS
    from rag_otel.metrics.readers import build_readers, serve

    built = build_readers(["otlp", "prometheus"], endpoint="http://127.0.0.1:4318", aggregation=None,
                          bounds=DEFAULT_BUCKETS, prometheus_port=0)
    built.readers, built.labels        # [PeriodicExportingMetricReader, PrometheusMetricReader]
    server, address = serve(built.prometheus_start, built.registry)   # the /metrics endpoint

OTLP goes through `rag_otel.otlp.otlp_exporter`, the factory traces use too (endpoint,
protocol, headers from the arguments or ``OTEL_EXPORTER_OTLP_METRICS_*`` /
``OTEL_EXPORTER_OTLP_*``). The Prometheus text exposition has no exponential histograms, so its
reader keeps the explicit bucket advice. Which names ``configure(metrics=...)`` means is
resolved with the other options (``rag_otel.options.metrics_exporters``). A ``/metrics`` port that cannot be bound is logged and
skipped, never raised.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, cast

from rag_otel import _endpoints
from rag_otel._config import env_first
from rag_otel._errors import warn_once
from rag_otel.metrics.histograms import aggregation as make_aggregation
from rag_otel.options import METRICS_EXPORTERS, otlp_protocol

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.metrics.view import Aggregation

__all__ = [
    "DEFAULT_PROMETHEUS_HOST",
    "DEFAULT_PROMETHEUS_PORT",
    "OTLP_HISTOGRAM_ENV",
    "BuiltReaders",
    "build_readers",
    "serve",
]

logger: Final = logging.getLogger("rag_otel")

OTLP_HISTOGRAM_ENV: Final = "OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION"
DEFAULT_PROMETHEUS_HOST: Final = "127.0.0.1"
DEFAULT_PROMETHEUS_PORT: Final = 9464  # the OpenTelemetry default for OTEL_EXPORTER_PROMETHEUS_PORT


@dataclass
class BuiltReaders:
    """What `build_readers` made: the readers, their labels, and what comes with them."""

    readers: list[MetricReader] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    """``otlp(http/protobuf http://...)``, ``prometheus``, ``console``, in reader order."""
    prometheus_start: tuple[str, int] | None = None
    """(host, port) to serve ``/metrics`` on (`serve`), when ``prometheus`` was asked for."""
    registry: Any = None
    """The prometheus_client CollectorRegistry the Prometheus reader fills."""
    otlp_address: _endpoints.Address | None = None
    """Where the OTLP reader exports (shutdown gives up at once if it refuses connections)."""


def build_readers(
    exporters: Sequence[str],
    *,
    aggregation: Aggregation | None,
    bounds: Sequence[float],
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: Mapping[str, str] | None = None,
    prometheus_host: str | None = None,
    prometheus_port: int | None = None,
    export_interval_millis: float | None = None,
) -> BuiltReaders:
    """One reader per exporter name (see `rag_otel.metrics.provider.enable` for the options);
    ValueError for an unknown name."""
    built = BuiltReaders()
    for name in exporters:
        if name == "otlp":
            # OTLP's own env var for it is honoured when set; else exponential by default.
            otlp_aggregation = aggregation
            if otlp_aggregation is None and not env_first(OTLP_HISTOGRAM_ENV):
                otlp_aggregation = make_aggregation("exponential", bounds)
            reader, label, otlp_used = _otlp_reader(
                endpoint, protocol, headers, otlp_aggregation, export_interval_millis
            )
            built.otlp_address = _endpoints.address(otlp_used)
        elif name == "console":
            reader, label = _console_reader(aggregation, bounds, export_interval_millis)
        elif name == "prometheus":
            from opentelemetry.exporter.prometheus import PrometheusMetricReader
            from prometheus_client import CollectorRegistry

            built.registry = CollectorRegistry(auto_describe=True)
            # explicit buckets: the text exposition has no exponential histograms
            reader, label = PrometheusMetricReader(registry=built.registry), "prometheus"
            host = (
                prometheus_host
                or env_first("OTEL_EXPORTER_PROMETHEUS_HOST")
                or DEFAULT_PROMETHEUS_HOST
            )
            built.prometheus_start = (host, _prometheus_port(prometheus_port))
        else:
            raise ValueError(
                f"rag-otel: unknown metrics exporter {name!r}; expected one of {', '.join(METRICS_EXPORTERS)}"
            )
        built.readers.append(reader)
        built.labels.append(label)
    return built


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
    aggregation: Aggregation | None, bounds: Sequence[float], interval_millis: float | None
) -> tuple[MetricReader, str]:
    from opentelemetry.sdk.metrics import Histogram as HistogramInstrument
    from opentelemetry.sdk.metrics.export import (
        ConsoleMetricExporter,
        PeriodicExportingMetricReader,
    )

    agg = aggregation if aggregation is not None else make_aggregation("exponential", bounds)
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


def serve(address: tuple[str, int], registry: Any) -> tuple[Any, tuple[str, int] | None]:
    """Serve ``registry`` on ``/metrics`` at ``address``: (server, bound address), or
    (None, None) when the port cannot be bound (logged, never raised)."""
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

"""One OTLP exporter factory for traces and metrics: protocol, endpoint, headers, timeout.

Usage::

    from rag_otel.otlp import otlp_exporter

    built = otlp_exporter("traces", endpoint="http://127.0.0.1:4318", protocol="http/protobuf")
    built.exporter  # the SDK's OTLPSpanExporter, posting to http://127.0.0.1:4318/v1/traces
    built.label     # "otlp(http/protobuf http://127.0.0.1:4318/v1/traces)"

``protocol`` is already resolved (``rag_otel.options.otlp_protocol``). With ``endpoint=None``
the SDK's exporter reads the ``OTEL_EXPORTER_OTLP_*`` variables itself; the endpoint shown in
the label and checked at shutdown is resolved the same way (``rag_otel._endpoints``). The
SDK is imported on the first call, not with this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from rag_otel import _endpoints
from rag_otel._otel_private import exporter_endpoint

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricExporter
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = ["OtlpExporter", "Signal", "otlp_exporter"]

Signal = Literal["traces", "metrics"]


@dataclass(frozen=True)
class OtlpExporter:
    """An SDK OTLP exporter, how it is shown (``otlp(grpc localhost:4317)``), where it sends."""

    exporter: SpanExporter | MetricExporter
    label: str
    endpoint: str
    timeout_s: float

    @property
    def address(self) -> _endpoints.Address | None:
        """Host and port shutdown checks for a refused connection."""
        return _endpoints.address(self.endpoint)


def _classes(signal: Signal, protocol: str) -> type[Any]:
    if signal == "traces":
        if protocol == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            return OTLPSpanExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter as HttpSpanExporter,
        )

        return HttpSpanExporter
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter

        return OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import (
        OTLPMetricExporter as HttpMetricExporter,
    )

    return HttpMetricExporter


def otlp_exporter(
    signal: Signal,
    *,
    endpoint: str | None,
    protocol: str,
    headers: Mapping[str, str] | None = None,
    **options: Any,
) -> OtlpExporter:
    """The SDK's OTLP exporter of ``signal`` over ``protocol`` (``http/protobuf``, ``grpc``).

    An explicit HTTP ``endpoint`` gets ``/v1/<signal>`` appended unless it ends so, like
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` (`_endpoints.http_endpoint`). ``options`` go to the exporter as they are (metrics:
    ``preferred_aggregation``).
    """
    cls = _classes(signal, protocol)
    hdrs = dict(headers) if headers is not None else None
    # Given explicitly: SDK 1.30 reads the variable with int() and raises on "2.5"
    timeout_s = _endpoints.export_timeout_seconds(signal)
    if protocol == "grpc":
        exporter = cls(endpoint=endpoint, headers=hdrs, timeout=timeout_s, **options)
        shown = _endpoints.grpc_endpoint(endpoint, signal)
        return OtlpExporter(exporter, f"otlp(grpc {shown})", shown, timeout_s)
    url = _endpoints.http_endpoint(endpoint, signal)
    # an explicit endpoint goes in as resolved; none lets the SDK read its variables itself
    given = url if endpoint is not None else None
    exporter = cls(endpoint=given, headers=hdrs, timeout=timeout_s, **options)
    url = exporter_endpoint(exporter, url)
    return OtlpExporter(exporter, f"otlp(http/protobuf {url})", url, timeout_s)

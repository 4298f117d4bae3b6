"""What ``configure()`` will do, resolved from its arguments and the environment.

Usage::

    from rag_otel.options import resolve_options

    options = resolve_options(service_name="faq-bot", endpoint="http://127.0.0.1:4318")
    options.exporters          # ("otlp",)
    options.protocol           # "http/protobuf"
    options.metrics.exporters  # (): metrics stay off unless asked for

``resolve_options`` is pure: it reads arguments and environment variables (``OTEL_*``,
``RAG_OTEL_*``; an explicit argument wins over the environment, which wins over the default)
and returns a frozen `Options`; it installs, starts and logs nothing. ``configure()`` logs
its ``warnings`` and builds and installs what it describes (``rag_otel.configuration``).

A bad argument is a ``ValueError`` naming it; a bad environment variable never breaks the
host: it becomes a warning (logged once by ``configure()``) and the default is used.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from rag_otel import metrics as _metrics
from rag_otel._config import Redactor, env_first, env_flag

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.sampling import Sampler

__all__ = [
    "EXPORTERS",
    "EXPORTER_ENV",
    "PROTOCOLS",
    "MetricsOptions",
    "Options",
    "Protocol",
    "otlp_protocol",
    "resolve_options",
]

EXPORTER_ENV: Final = "RAG_OTEL_EXPORTER"
EXPORTERS: Final = ("otlp", "file", "console", "none")
PROTOCOLS: Final = ("http/protobuf", "grpc")
DEFAULT_PROTOCOL: Final = "http/protobuf"

AttributeValue = str | bool | int | float


@dataclass(frozen=True)
class Protocol:
    """The OTLP protocol of one signal, and the warning when the environment named a bad one."""

    name: str
    warning: str | None = None


def otlp_protocol(signal: str, protocol: str | None) -> Protocol:
    """The OTLP protocol for ``signal`` (``traces``, ``metrics``): ``protocol``, else
    ``OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL``, else ``OTEL_EXPORTER_OTLP_PROTOCOL``, else
    ``http/protobuf``. A bad ``protocol`` argument raises ValueError; a bad variable falls
    back to ``http/protobuf`` with a warning."""
    if protocol is not None:
        if protocol not in PROTOCOLS:
            raise ValueError(
                f"rag-otel: protocol={protocol!r}; expected one of {', '.join(PROTOCOLS)}"
            )
        return Protocol(protocol)
    specific = f"OTEL_EXPORTER_OTLP_{signal.upper()}_PROTOCOL"
    raw = env_first(specific, "OTEL_EXPORTER_OTLP_PROTOCOL")
    if raw is None:
        return Protocol(DEFAULT_PROTOCOL)
    if raw not in PROTOCOLS:
        name = specific if env_first(specific) else "OTEL_EXPORTER_OTLP_PROTOCOL"
        return Protocol(
            DEFAULT_PROTOCOL,
            warning=f"rag-otel: {name}={raw!r} is not supported ({', '.join(PROTOCOLS)}); "
            f"using {DEFAULT_PROTOCOL}",
        )
    return Protocol(raw)


@dataclass(frozen=True)
class MetricsOptions:
    """The stage and turn duration metrics (docs/metrics.md)."""

    exporters: tuple[str, ...] = ()
    """``otlp``, ``prometheus``, ``console``: () when metrics stay off."""
    protocol: str = DEFAULT_PROTOCOL
    """The OTLP metrics protocol (used when ``otlp`` is among ``exporters``)."""
    port: int | None = None
    """The ``/metrics`` port (None: ``OTEL_EXPORTER_PROMETHEUS_PORT``, else 9464)."""
    histogram: str | None = None
    """``exponential``/``explicit``, or None for the exporters' defaults."""
    readers: tuple[MetricReader, ...] = ()
    """Extra readers given by the application (tests pass an InMemoryMetricReader)."""

    @property
    def on(self) -> bool:
        return bool(self.exporters or self.readers)


def _no_attributes() -> Mapping[str, AttributeValue]:
    return MappingProxyType({})


@dataclass(frozen=True)
class Options:
    """Everything ``configure()`` does, decided: see ``configure()`` for each option."""

    disabled: bool = False
    """``OTEL_SDK_DISABLED`` is true: install nothing."""
    service_name: str | None = None
    resource_attributes: Mapping[str, AttributeValue] = field(default_factory=_no_attributes)
    sampler: Sampler | None = None
    exporters: tuple[str, ...] = ()
    """Named span exporters, in order: ``otlp``, ``file``, ``console`` (``none`` removed)."""
    endpoint: str | None = None
    """The ``endpoint=`` argument (the OTLP exporters read the ``OTEL_*`` ones themselves)."""
    protocol: str = DEFAULT_PROTOCOL
    """The OTLP traces protocol."""
    headers: Mapping[str, str] | None = None
    file_path: Path | None = None
    """Where the ``file`` exporter writes (None: ``RAG_OTEL_FILE_PATH`` or the default)."""
    span_exporters: tuple[SpanExporter, ...] = ()
    capture_content: bool | None = None
    """Content capture, when given (None: keep the current setting)."""
    workflow_name: str | None = None
    redact: Redactor | None = None
    max_content_length: int | None = None
    max_documents: int | None = None
    propagate_context: bool = True
    instrument: bool = False
    metrics: MetricsOptions = MetricsOptions()
    warnings: tuple[str, ...] = ()
    """What was wrong in the environment (the default was used instead), to be logged."""


def _exporter_names(
    exporter: str | Sequence[str] | None, *, otlp_endpoint: str | None, file_path_given: bool
) -> tuple[str, ...]:
    if exporter is not None:
        names = [exporter] if isinstance(exporter, str) else list(exporter)
        source = "exporter="
    else:
        raw = env_first(EXPORTER_ENV, "OTEL_TRACES_EXPORTER")
        if raw is None:
            default = ["otlp" if otlp_endpoint else "file"]
            if file_path_given and "file" not in default:
                default.append("file")  # file_path= turns the file on next to the default
            return tuple(default)
        names = raw.split(",")
        source = f"{EXPORTER_ENV}/OTEL_TRACES_EXPORTER"
    out: list[str] = []
    for raw_name in names:
        name = raw_name.strip().lower()
        if name not in EXPORTERS:
            raise ValueError(
                f"rag-otel: {source} names unknown exporter {raw_name!r}; expected one of "
                + ", ".join(EXPORTERS)
            )
        if name not in out and name != "none":
            out.append(name)
    return tuple(out)


def _metrics_options(
    metrics: bool | str | Sequence[str] | None,
    *,
    endpoint: str | None,
    protocol: str | None,
    port: int | None,
    histogram: str | None,
    readers: Sequence[MetricReader],
) -> tuple[MetricsOptions, str | None]:
    """The metrics options, and a warning about the environment (or None)."""
    exporters: list[str] = []
    if metrics is not False:
        exporters = _metrics.exporter_names(
            metrics,
            otlp_endpoint=endpoint
            or env_first("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        )
    chosen = otlp_protocol("metrics", protocol)
    options = MetricsOptions(
        exporters=tuple(exporters),
        protocol=chosen.name,
        port=port,
        histogram=histogram,
        readers=tuple(readers),
    )
    return options, chosen.warning if "otlp" in exporters else None


def _span_exporters(
    span_exporter: SpanExporter | Sequence[SpanExporter] | None,
) -> tuple[SpanExporter, ...]:
    if span_exporter is None:
        return ()
    if isinstance(span_exporter, Sequence):
        return tuple(span_exporter)
    return (span_exporter,)


def resolve_options(
    service_name: str | None = None,
    *,
    exporter: str | Sequence[str] | None = None,
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: Mapping[str, str] | None = None,
    file_path: str | os.PathLike[str] | None = None,
    span_exporter: SpanExporter | Sequence[SpanExporter] | None = None,
    resource_attributes: Mapping[str, AttributeValue] | None = None,
    sampler: Sampler | None = None,
    capture_content: bool | None = None,
    workflow_name: str | None = None,
    redact: Redactor | None = None,
    max_content_length: int | None = None,
    max_documents: int | None = None,
    propagate_context: bool = True,
    instrument: bool = False,
    metrics: bool | str | Sequence[str] | None = None,
    metrics_port: int | None = None,
    metrics_histogram: str | None = None,
    metric_readers: Sequence[MetricReader] = (),
) -> Options:
    """``configure()``'s arguments (same names) and the environment, resolved; no side effect.

    Raises ValueError for an argument it cannot mean (an unknown exporter or protocol), and
    for an unknown exporter named by ``RAG_OTEL_EXPORTER``/``OTEL_TRACES_EXPORTER``/
    ``RAG_OTEL_METRICS``/``OTEL_METRICS_EXPORTER`` (nothing sensible to fall back to).
    """
    settings = Options(
        capture_content=None if capture_content is None else bool(capture_content),
        workflow_name=None if workflow_name is None else (str(workflow_name) or None),
        redact=redact,
        max_content_length=None if max_content_length is None else max(1, int(max_content_length)),
        max_documents=None if max_documents is None else max(0, int(max_documents)),
    )
    if env_flag("OTEL_SDK_DISABLED"):
        return replace(settings, disabled=True)
    exporters = _exporter_names(
        exporter,
        otlp_endpoint=endpoint
        or env_first("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        file_path_given=file_path is not None,
    )
    traces_protocol = otlp_protocol("traces", protocol)
    metrics_options, metrics_warning = _metrics_options(
        metrics,
        endpoint=endpoint,
        protocol=protocol,
        port=metrics_port,
        histogram=metrics_histogram,
        readers=metric_readers,
    )
    warnings = [traces_protocol.warning] if "otlp" in exporters else []
    warnings.append(metrics_warning)
    return replace(
        settings,
        service_name=service_name,
        resource_attributes=MappingProxyType(dict(resource_attributes or {})),
        sampler=sampler,
        exporters=exporters,
        endpoint=endpoint,
        protocol=traces_protocol.name,
        headers=None if headers is None else MappingProxyType(dict(headers)),
        file_path=None if file_path is None else Path(file_path),
        span_exporters=_span_exporters(span_exporter),
        propagate_context=propagate_context,
        instrument=instrument,
        metrics=metrics_options,
        warnings=tuple(dict.fromkeys(w for w in warnings if w is not None)),
    )

"""``configure()``: an SDK TracerProvider with batch export, installed globally.

Usage::

    import rag_otel

    rag_otel.configure(service_name="faq-bot")   # spans go to ./rag-otel-spans.jsonl
    rag_otel.configure(service_name="faq-bot", endpoint="http://127.0.0.1:4318")  # OTLP
    ...
    rag_otel.shutdown()                           # flush (also done at exit)

Every option has an environment variable (the standard ``OTEL_*`` ones where they
exist); an explicit argument wins over the environment, which wins over the default.
See docs/configuration.md. The SDK is imported here, inside ``configure()``, so that
``import rag_otel`` and decorating functions stay cheap.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from opentelemetry import trace as _api

from rag_otel import metrics as _metrics
from rag_otel._config import SETTINGS, Redactor, env_first, env_flag

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.sampling import Sampler

__all__ = ["Configuration", "configure", "shutdown"]

logger: Final = logging.getLogger("rag_otel")

EXPORTER_ENV: Final = "RAG_OTEL_EXPORTER"
EXPORTERS: Final = ("otlp", "file", "console", "none")
PROTOCOLS: Final = ("http/protobuf", "grpc")


@dataclass
class Configuration:
    """What ``configure()`` did."""

    provider: TracerProvider | None
    """The SDK provider spans go through (None when ``OTEL_SDK_DISABLED`` is true)."""
    created_provider: bool
    """True when rag-otel created and installed the provider, False when it added to one."""
    exporters: list[str] = field(default_factory=list)
    """Names of the exporters added: ``otlp(http/protobuf http://...)``, ``file(path)`` ..."""
    file_path: Path | None = None
    """Where the ``file`` exporter writes, if it is on."""
    processors: list[SpanProcessor] = field(default_factory=list)
    disabled: bool = False
    metrics: _metrics.MetricsConfiguration | None = None
    """The stage/turn duration metrics set up by ``metrics=`` (docs/metrics.md), if any."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export everything buffered so far (spans, and metrics when they are on)."""
        spans_ok = all([p.force_flush(timeout_millis) for p in self.processors])
        metrics_ok = self.metrics is None or _metrics.force_flush(timeout_millis)
        return spans_ok and metrics_ok


_lock: Final = threading.Lock()
_configurations: list[Configuration] = []
_atexit_registered = False


def _exporter_names(exporter: str | Sequence[str] | None, endpoint: str | None) -> list[str]:
    if exporter is not None:
        names = [exporter] if isinstance(exporter, str) else list(exporter)
        source = "exporter="
    else:
        raw = env_first(EXPORTER_ENV, "OTEL_TRACES_EXPORTER")
        if raw is None:
            return ["otlp" if endpoint else "file"]
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
        if name not in out:
            out.append(name)
    return out


def _protocol(protocol: str | None) -> str:
    if protocol is not None:
        if protocol not in PROTOCOLS:
            raise ValueError(
                f"rag-otel: protocol={protocol!r}; expected one of {', '.join(PROTOCOLS)}"
            )
        return protocol
    raw = env_first("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
    if raw is None:
        return "http/protobuf"
    if raw not in PROTOCOLS:
        logger.warning(
            "rag-otel: OTEL_EXPORTER_OTLP_PROTOCOL=%r is not supported (%s); using http/protobuf",
            raw,
            ", ".join(PROTOCOLS),
        )
        return "http/protobuf"
    return raw


def _otlp_exporter(
    endpoint: str | None, protocol: str, headers: Mapping[str, str] | None
) -> tuple[SpanExporter, str]:
    """The OTLP exporter; with ``endpoint=None`` it reads the ``OTEL_EXPORTER_OTLP_*`` env."""
    hdrs = dict(headers) if headers is not None else None
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        grpc_exporter = GrpcExporter(endpoint=endpoint, headers=hdrs)
        shown = endpoint or env_first(
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"
        )
        return grpc_exporter, f"otlp(grpc {shown or 'localhost:4317'})"
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
        OTLPSpanExporter as HttpExporter,
    )

    if endpoint is not None and not endpoint.rstrip("/").endswith("/v1/traces"):
        endpoint = endpoint.rstrip("/") + "/v1/traces"  # like OTEL_EXPORTER_OTLP_ENDPOINT
    http_exporter = HttpExporter(endpoint=endpoint, headers=hdrs)
    return http_exporter, f"otlp(http/protobuf {http_exporter._endpoint})"


def configure(
    service_name: str | None = None,
    *,
    exporter: str | Sequence[str] | None = None,
    endpoint: str | None = None,
    protocol: str | None = None,
    headers: Mapping[str, str] | None = None,
    file_path: str | os.PathLike[str] | None = None,
    file: str | os.PathLike[str] | None = None,
    span_exporter: SpanExporter | Sequence[SpanExporter] | None = None,
    resource_attributes: Mapping[str, str | bool | int | float] | None = None,
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
) -> Configuration:
    """Set up tracing for this process and return what was done.

    - A new SDK ``TracerProvider`` (resource from ``service_name``, ``resource_attributes``,
      ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``; sampler from ``sampler`` or
      ``OTEL_TRACES_SAMPLER``/``_ARG``) is installed globally, unless the application already
      installed an SDK provider: then rag-otel adds its exporters to that one and logs so.
    - Exporters (``exporter=`` or ``RAG_OTEL_EXPORTER``/``OTEL_TRACES_EXPORTER``, a name or a
      list): ``otlp`` (default when an endpoint is configured), ``file`` (OTLP JSON lines,
      default otherwise), ``console``, ``none``; plus any ``span_exporter=``. Each goes through
      its own ``BatchSpanProcessor``.
      ``file_path`` (or its shorthand ``file``) given explicitly turns the ``file`` exporter on
      next to the others unless the exporters are named explicitly.
    - Content capture (``capture_content``, else ``RAG_OTEL_CAPTURE_CONTENT``, else
      ``OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT``, else ``OPENINFERENCE_HIDE_INPUTS``/
      ``_OUTPUTS``, else off), the ``redact`` hook and the bounds apply to every turn and stage
      from now on.
    - ``workflow_name`` (``RAG_OTEL_WORKFLOW_NAME``): the ``gen_ai.workflow.name`` of turns
      that do not pass ``workflow=``; without one, turns carry no workflow name.
    - ``propagate_context``: keep parent links across executors and threads.
    - ``instrument``: also call ``rag_otel.instrumentation.instrument()``.
    - ``metrics`` (``RAG_OTEL_METRICS``), ``metrics_port``, ``metrics_histogram``,
      ``metric_readers``: stage and turn duration histograms, see ``rag_otel.metrics``.

    ``OTEL_SDK_DISABLED=true`` makes it install nothing (tracing stays off).
    """
    global _atexit_registered
    if capture_content is not None:
        SETTINGS.capture_content = bool(capture_content)
    if workflow_name is not None:
        SETTINGS.workflow_name = str(workflow_name) or None
    if redact is not None:
        SETTINGS.redact = redact
    if max_content_length is not None:
        SETTINGS.max_content_length = max(1, int(max_content_length))
    if max_documents is not None:
        SETTINGS.max_documents = max(0, int(max_documents))

    if env_flag("OTEL_SDK_DISABLED"):
        logger.info("rag-otel: OTEL_SDK_DISABLED is true; tracing stays off")
        return Configuration(provider=None, created_provider=False, disabled=True)

    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    from rag_otel.exporters import (
        ContainedExporter,
        CountingBatchSpanProcessor,
        OtlpJsonFileExporter,
    )

    otlp_endpoint = endpoint or env_first(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"
    )
    if file_path is None:
        file_path = file
    names = _exporter_names(exporter, otlp_endpoint)
    metric_exporters = (
        []
        if metrics is False
        else _metrics.exporter_names(
            metrics,
            otlp_endpoint=endpoint
            or env_first("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        )
    )
    if (
        file_path is not None
        and "file" not in names
        and exporter is None
        and not env_first(EXPORTER_ENV, "OTEL_TRACES_EXPORTER")
    ):
        names.append("file")
    chosen_protocol = _protocol(protocol) if "otlp" in names else None

    exporters: list[tuple[SpanExporter, str]] = []
    result_path: Path | None = None
    for name in names:
        if name == "otlp":
            assert chosen_protocol is not None
            exporters.append(_otlp_exporter(endpoint, chosen_protocol, headers))
        elif name == "file":
            file_exporter = OtlpJsonFileExporter(file_path)
            result_path = file_exporter.path
            exporters.append((file_exporter, f"file({file_exporter.path})"))
        elif name == "console":
            exporters.append((ConsoleSpanExporter(), "console"))
    extra = (
        []
        if span_exporter is None
        else [span_exporter]
        if not isinstance(span_exporter, Sequence)
        else list(span_exporter)
    )
    exporters.extend((e, type(e).__name__) for e in extra)

    with _lock:
        installed = _api._TRACER_PROVIDER
        created = False
        if isinstance(installed, TracerProvider):
            provider = installed
        elif installed is not None:
            logger.warning(
                "rag-otel: the installed tracer provider is a %s, not an SDK TracerProvider; "
                "rag-otel cannot add exporters to it and leaves it in charge",
                type(installed).__name__,
            )
            return Configuration(provider=None, created_provider=False, disabled=True)
        else:
            attributes: dict[str, str | bool | int | float] = dict(resource_attributes or {})
            if service_name is not None:
                attributes["service.name"] = service_name
            provider = TracerProvider(resource=Resource.create(attributes), sampler=sampler)
            _api.set_tracer_provider(provider)
            created = _api._TRACER_PROVIDER is provider

        config = Configuration(provider=provider, created_provider=created, file_path=result_path)
        for span_exp, label in exporters:
            processor = CountingBatchSpanProcessor(ContainedExporter(span_exp, label))
            provider.add_span_processor(processor)
            config.processors.append(processor)
            config.exporters.append(label)
        _configurations.append(config)
        if not _atexit_registered:
            atexit.register(shutdown)
            # multiprocessing children leave through os._exit (no atexit): flush them from
            # a multiprocessing finalizer, registered in each child after the fork.
            import multiprocessing.util as mp_util

            mp_util.register_after_fork(_AFTER_FORK_KEY, _flush_at_child_exit)
            _atexit_registered = True

    if created:
        logger.info("rag-otel: installed a TracerProvider exporting to %s", config.exporters)
    else:
        logger.info(
            "rag-otel: an SDK TracerProvider was already installed; added exporters %s to it "
            "(its resource and sampler are kept)",
            config.exporters,
        )
        if service_name is not None or resource_attributes or sampler is not None:
            logger.warning(
                "rag-otel: service_name, resource_attributes and sampler apply only to a "
                "provider rag-otel creates; the installed provider keeps its own"
            )

    if metric_exporters or metric_readers:
        config.metrics = _metrics.enable(
            metric_exporters,
            resource=provider.resource,
            endpoint=endpoint,
            protocol=protocol,
            headers=headers,
            prometheus_port=metrics_port,
            histogram=metrics_histogram,
            readers=metric_readers,
        )

    from rag_otel import propagation

    if propagate_context:
        propagation.enable()
    else:
        propagation.disable()
    if instrument:
        _instrument()
    return config


class _Key:
    """A weak-referenceable key for multiprocessing's after-fork registry."""


_AFTER_FORK_KEY: Final = _Key()


def _flush_at_child_exit(_key: object) -> None:
    import multiprocessing.util as mp_util

    mp_util.Finalize(_AFTER_FORK_KEY, shutdown, exitpriority=100)


def _instrument() -> None:
    try:
        from rag_otel.instrumentation import instrument as run_instrument
    except ModuleNotFoundError as exc:
        logger.warning("rag-otel: instrument=True but %s is not available", exc.name)
        return
    run_instrument()


def shutdown(timeout_millis: int = 30000) -> None:
    """Flush and shut down what ``configure()`` created, within ``timeout_millis`` overall.

    The SDK's ``force_flush()`` ignores its timeout (it exports every queued batch, each
    waiting up to the exporter timeout), so it is not called: ``BatchSpanProcessor.shutdown``
    exports what is queued on its worker thread and stops waiting at the deadline.
    """
    with _lock:
        configs = list(_configurations)
        _configurations.clear()
    deadline = time.monotonic() + timeout_millis / 1000
    for config in configs:
        for processor in config.processors:
            remaining = max(0, int((deadline - time.monotonic()) * 1000))
            _shutdown_processor(processor, remaining)
        if config.created_provider and config.provider is not None:
            try:
                config.provider.shutdown()  # its processors are already shut down
            except Exception:
                logger.warning("rag-otel: shutting down the provider failed", exc_info=True)
    if any(config.metrics is not None for config in configs):
        try:  # after the traces, with what is left of the deadline
            _metrics.disable(max(0, int((deadline - time.monotonic()) * 1000)))
        except Exception:
            logger.warning("rag-otel: shutting down metrics failed", exc_info=True)


def _shutdown_processor(processor: SpanProcessor, timeout_millis: int) -> None:
    try:
        batch = getattr(processor, "_batch_processor", None)
        if batch is not None:
            batch.shutdown(timeout_millis)  # bounded: joins the worker up to the deadline
        processor.shutdown()
    except Exception:
        logger.warning("rag-otel: shutting down a span processor failed", exc_info=True)

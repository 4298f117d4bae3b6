"""``configure()`` and ``shutdown()``: tracing (and metrics) set up for this process, then closed.

Usage::

    import rag_otel

    rag_otel.configure(service_name="faq-bot")   # spans go to ./rag-otel-spans.jsonl
    rag_otel.configure(service_name="faq-bot", endpoint="http://127.0.0.1:4318")  # OTLP
    ...
    rag_otel.shutdown()                           # flush (also done at exit)

``configure()`` runs three steps: the options, resolved from the arguments and the
environment without side effects (``rag_otel.options``); the exporters they name, built
(``build_exporters``, with ``rag_otel.otlp`` for OTLP); then installing: settings, the
TracerProvider (created, or the application's SDK one added to), the batch processors, the
exit hooks, metrics, context propagation, instrumentation (``install``). Every option has an
environment variable (the standard ``OTEL_*`` ones where they exist); an explicit argument
wins over the environment, which wins over the default. See docs/configuration.md. The SDK
is imported inside ``configure()``, so that ``import rag_otel`` and decorating functions
stay cheap.
"""

from __future__ import annotations

import atexit
import functools
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final, cast

from opentelemetry import trace as _api

from rag_otel import _endpoints
from rag_otel import metrics as _metrics
from rag_otel._config import SETTINGS
from rag_otel._errors import warn_once
from rag_otel._otel_private import installed_tracer_provider
from rag_otel.options import Arguments, Options, resolve, takes
from rag_otel.otlp import otlp_exporter

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

    from rag_otel.exporters import ContainedExporter, CountingBatchSpanProcessor

__all__ = ["BuiltExporters", "Configuration", "build_exporters", "configure", "install", "shutdown"]

logger: Final = logging.getLogger("rag_otel")


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
    processors: list[CountingBatchSpanProcessor] = field(default_factory=list)
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


@takes(Arguments)
def configure(arguments: Arguments) -> Configuration:
    """Set up tracing for this process and return what was done.

    - A new SDK ``TracerProvider`` (resource from ``service_name``, ``resource_attributes``,
      ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``; sampler from ``sampler`` or
      ``OTEL_TRACES_SAMPLER``/``_ARG``) is installed globally, unless the application already
      installed an SDK provider: then rag-otel adds its exporters to that one and logs so.
    - Exporters (``exporter=`` or ``RAG_OTEL_EXPORTER``/``OTEL_TRACES_EXPORTER``, a name or a
      list): ``otlp`` (default when an endpoint is configured), ``file`` (OTLP JSON lines,
      default otherwise), ``console``, ``none``; plus any ``span_exporter=``. Each goes through
      its own ``BatchSpanProcessor``. An unknown name is a ValueError as an argument; in a
      variable (here or in ``RAG_OTEL_METRICS``) it is logged once and the default is used.
      ``file_path`` given explicitly turns the ``file`` exporter on next to the others unless
      the exporters are named explicitly.
    - ``protocol`` (``OTEL_EXPORTER_OTLP_[TRACES_|METRICS_]PROTOCOL``): ``http/protobuf``
      (default) or ``grpc``, for spans and metrics alike. A bad ``protocol=`` is a ValueError;
      a bad variable is logged once and ``http/protobuf`` is used.
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

    ``OTEL_SDK_DISABLED=true`` makes it install nothing (tracing stays off). The parameters
    are declared once, with their variables, by `rag_otel.options.Arguments`.
    """
    options = resolve(arguments)
    for warning in options.warnings:
        warn_once(warning)
    _apply_settings(options)
    if options.disabled:
        logger.info("rag-otel: OTEL_SDK_DISABLED is true; tracing stays off")
        return Configuration(provider=None, created_provider=False, disabled=True)
    return install(options, build_exporters(options))


def _apply_settings(options: Options) -> None:
    """What the tracing API reads on every turn and stage (``_config.SETTINGS``)."""
    if options.capture_content is not None:
        SETTINGS.capture_content = options.capture_content
    if options.workflow_name is not None:
        SETTINGS.workflow_name = options.workflow_name
    if options.redact is not None:
        SETTINGS.redact = options.redact
    if options.max_content_length is not None:
        SETTINGS.max_content_length = options.max_content_length
    if options.max_documents is not None:
        SETTINGS.max_documents = options.max_documents


@dataclass(frozen=True)
class BuiltExporters:
    """The span exporters ``options`` name, each wrapped for containment, in order."""

    exporters: tuple[ContainedExporter, ...]
    file_path: Path | None
    """Where the ``file`` exporter writes, if it is among them."""


def build_exporters(options: Options) -> BuiltExporters:
    """Create the span exporters (nothing is installed or started yet)."""
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    from rag_otel.exporters import ContainedExporter, OtlpJsonFileExporter

    exporters: list[ContainedExporter] = []
    file_path: Path | None = None
    for name in options.exporters:
        if name == "otlp":
            otlp = otlp_exporter(
                "traces",
                endpoint=options.endpoint,
                protocol=options.protocol,
                headers=options.headers,
            )
            contained = ContainedExporter(
                cast("SpanExporter", otlp.exporter),
                otlp.label,
                address=otlp.address,
                timeout_s=otlp.timeout_s,
            )
        elif name == "file":
            file_exporter = OtlpJsonFileExporter(options.file_path)
            file_path = file_exporter.path
            contained = ContainedExporter(file_exporter, f"file({file_exporter.path})")
        else:
            contained = ContainedExporter(ConsoleSpanExporter(), "console")
        exporters.append(contained)
    exporters.extend(ContainedExporter(e, type(e).__name__) for e in options.span_exporters)
    return BuiltExporters(exporters=tuple(exporters), file_path=file_path)


def install(options: Options, built: BuiltExporters) -> Configuration:
    """Install ``built`` on the TracerProvider (created unless the application installed an
    SDK one), register the exit hooks, then metrics, propagation and instrumentation."""
    config = _install_tracing(options, built)
    if config.provider is None:
        return config
    _log_installed(options, config)
    if options.metrics.on:
        config.metrics = _metrics.enable(
            options.metrics.exporters,
            resource=config.provider.resource,
            endpoint=options.endpoint,
            protocol=options.metrics.protocol,
            headers=options.headers,
            prometheus_port=options.metrics.port,
            histogram=options.metrics.histogram,
            readers=options.metrics.readers,
        )

    from rag_otel import propagation

    if options.propagate_context:
        propagation.enable()
    else:
        propagation.disable()
    if options.instrument:
        _instrument()
    return config


def _install_tracing(options: Options, built: BuiltExporters) -> Configuration:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    from rag_otel.exporters import CountingBatchSpanProcessor

    with _lock:
        installed = installed_tracer_provider()
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
            attributes = dict(options.resource_attributes)
            if options.service_name is not None:
                attributes["service.name"] = options.service_name
            provider = TracerProvider(resource=Resource.create(attributes), sampler=options.sampler)
            _api.set_tracer_provider(provider)
            created = installed_tracer_provider() is provider

        config = Configuration(
            provider=provider, created_provider=created, file_path=built.file_path
        )
        for contained_exporter in built.exporters:
            processor = CountingBatchSpanProcessor(contained_exporter)
            provider.add_span_processor(processor)
            config.processors.append(processor)
            config.exporters.append(contained_exporter.name)
        _configurations.append(config)
        _register_exit_hooks()
    return config


def _register_exit_hooks() -> None:
    """``shutdown`` at exit, and in multiprocessing children (called under ``_lock``)."""
    global _atexit_registered
    if _atexit_registered:
        return
    atexit.register(shutdown)
    # multiprocessing children leave through os._exit (no atexit): flush them from
    # a multiprocessing finalizer, registered in each child after the fork.
    import multiprocessing.util as mp_util

    mp_util.register_after_fork(_AFTER_FORK_KEY, _flush_at_child_exit)
    _atexit_registered = True


def _log_installed(options: Options, config: Configuration) -> None:
    if config.created_provider:
        logger.info("rag-otel: installed a TracerProvider exporting to %s", config.exporters)
        return
    logger.info(
        "rag-otel: an SDK TracerProvider was already installed; added exporters %s to it "
        "(its resource and sampler are kept)",
        config.exporters,
    )
    if (
        options.service_name is not None
        or options.resource_attributes
        or options.sampler is not None
    ):
        logger.warning(
            "rag-otel: service_name, resource_attributes and sampler apply only to a "
            "provider rag-otel creates; the installed provider keeps its own"
        )


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


REFUSED_GRACE_S: Final = 0.5
"""After a refused endpoint is abandoned, how long shutdown lets the worker finish its drain."""


def shutdown(timeout_millis: int | None = None) -> None:
    """Export what is queued and shut down what ``configure()`` created, bounded.

    Never waits past ``timeout_millis`` (default: the OTLP export timeout,
    ``OTEL_EXPORTER_OTLP_TIMEOUT``, 10 s), and much less when a collector is down: an
    endpoint that refuses connections is given up at once (nothing queued could reach it).
    Every exporter closes in parallel, the metrics too. What was not delivered since
    ``configure()``, by reason (refused, timed out, rejected, queue full), is logged in one
    warning line. Runs at interpreter exit too. See docs/reliability.md.
    """
    with _lock:
        configs = list(_configurations)
        _configurations.clear()
    if not configs:
        return
    started = time.monotonic()
    budget_s = (
        _endpoints.export_timeout_seconds("traces")
        if timeout_millis is None
        else max(0, timeout_millis) / 1000
    )
    deadline = started + budget_s
    processors = [p for config in configs for p in config.processors]
    metrics_closing = _close_metrics(configs, budget_s)
    for processor in processors:
        processor.close()
    for processor in processors:
        _give_up_if_refused(processor, deadline)
    for processor in processors:
        if processor.exporter.abandoned is None and not processor.wait_closed(deadline):
            processor.exporter.abandon(_endpoints.TIMED_OUT)
    metrics_lost = _wait_metrics(metrics_closing, deadline)
    for config in configs:
        if config.created_provider and config.provider is not None:
            try:  # its processors are closed: this only unregisters its exit hook
                config.provider.shutdown()
            except Exception:
                logger.warning("rag-otel: shutting down the provider failed", exc_info=True)
    _report(processors, metrics_lost, time.monotonic() - started)


def _give_up_if_refused(processor: CountingBatchSpanProcessor, deadline: float) -> None:
    """A refusing endpoint: abandon at once, then let the worker drain (instantly) a moment."""
    exporter = processor.exporter
    if exporter.address is None or processor.wait_closed(time.monotonic()):
        return
    remaining = deadline - time.monotonic()
    reason = _endpoints.check(exporter.address, timeout_s=min(1.0, remaining))
    if reason is None:
        return
    exporter.abandon(reason)
    processor.wait_closed(min(deadline, time.monotonic() + REFUSED_GRACE_S))


@dataclass
class _MetricsClosing:
    thread: threading.Thread
    address: _endpoints.Address | None


def _close_metrics(configs: Sequence[Configuration], budget_s: float) -> _MetricsClosing | None:
    """``metrics.disable`` (a last export) on a helper thread, beside the spans."""
    config = next((c.metrics for c in configs if c.metrics is not None), None)
    if config is None:
        return None
    from rag_otel.exporters import start_daemon

    timeout_millis = int(budget_s * 1000)
    thread = start_daemon(functools.partial(_disable_metrics, timeout_millis), "rag-otel-metrics")
    if thread is None:  # at exit, where this Python starts no thread: the SDK's own bound
        _disable_metrics(timeout_millis)
        return None
    return _MetricsClosing(thread=thread, address=config.otlp_address)


def _disable_metrics(timeout_millis: int) -> None:
    try:
        _metrics.disable(timeout_millis)
    except Exception:
        logger.warning("rag-otel: shutting down metrics failed", exc_info=True)


def _wait_metrics(closing: _MetricsClosing | None, deadline: float) -> str | None:
    """Why the metrics' last export was lost (None when it ended in time)."""
    if closing is None:
        return None
    if closing.address is not None and closing.thread.is_alive():
        refused = _endpoints.check(closing.address, timeout_s=min(1.0, deadline - time.monotonic()))
        if refused is not None:
            closing.thread.join(min(REFUSED_GRACE_S, max(0.0, deadline - time.monotonic())))
            return None if not closing.thread.is_alive() else refused
    closing.thread.join(max(0.0, deadline - time.monotonic()))
    return None if not closing.thread.is_alive() else _endpoints.TIMED_OUT


def _report(
    processors: Sequence[CountingBatchSpanProcessor], metrics_lost: str | None, took_s: float
) -> None:
    """One warning line: what was not delivered, per exporter and reason."""
    parts: list[str] = []
    total = 0
    for processor in processors:
        lost = processor.undelivered()
        if not lost.total and not lost.unknown:
            continue
        total += lost.total
        why = ", ".join(f"{n:,} {reason}" for reason, n in lost.reasons.most_common())
        if lost.unknown:
            why = f"{why}, plus any still queued" if why else "any still queued"
        parts.append(f"{lost.exporter}: {why}")
    if metrics_lost is not None:
        parts.append(f"the last metrics export: {metrics_lost}")
    if parts:
        logger.warning(
            "rag-otel: shutdown (%.1f s): %s span%s not delivered (%s)",
            took_s,
            f"{total:,}",
            "" if total == 1 else "s",
            "; ".join(parts),
        )

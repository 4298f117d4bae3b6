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

import functools
import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, NamedTuple, ParamSpec, TypeVar

from rag_otel._config import Redactor, env_first, env_flag

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics.export import MetricReader
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.sampling import Sampler

__all__ = [
    "EXPORTERS",
    "EXPORTER_ENV",
    "METRICS_ENV",
    "METRICS_EXPORTERS",
    "PROTOCOLS",
    "Arguments",
    "Exporters",
    "MetricsOptions",
    "Options",
    "Protocol",
    "environment",
    "metrics_exporters",
    "otlp_protocol",
    "resolve",
    "resolve_options",
    "takes",
    "trace_exporters",
]

EXPORTER_ENV: Final = "RAG_OTEL_EXPORTER"
EXPORTERS: Final = ("otlp", "file", "console", "none")
METRICS_ENV: Final = "RAG_OTEL_METRICS"
"""``true``/``false`` or exporter names (``otlp``, ``prometheus``, ``console``, comma-separated)."""
METRICS_EXPORTERS: Final = ("otlp", "prometheus", "console")
PROTOCOLS: Final = ("http/protobuf", "grpc")
DEFAULT_PROTOCOL: Final = "http/protobuf"

AttributeValue = str | bool | int | float
P = ParamSpec("P")
R = TypeVar("R")


def _env(*names: str) -> Mapping[str, tuple[str, ...]]:
    """A field's metadata: the environment variables that set it when it is not given."""
    return {"env": names}


@dataclass(frozen=True)
class Arguments:
    """``configure()``'s arguments, as given: the one declaration of its parameters.

    ``configure()`` and ``resolve_options()`` take exactly these (`takes` gives them this
    signature, for mypy, IDEs and ``help()`` alike); each field's metadata names
    the environment variables that set it when it is not given (`environment`), and
    docs/configuration.md's table lists the same, in the same order (checked by
    ``tests/core/test_options.py``).
    """

    service_name: str | None = field(default=None, metadata=_env("OTEL_SERVICE_NAME"))
    _: KW_ONLY
    resource_attributes: Mapping[str, AttributeValue] | None = field(
        default=None, metadata=_env("OTEL_RESOURCE_ATTRIBUTES")
    )
    exporter: str | Sequence[str] | None = field(
        default=None, metadata=_env(EXPORTER_ENV, "OTEL_TRACES_EXPORTER")
    )
    endpoint: str | None = field(
        default=None,
        metadata=_env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    )
    protocol: str | None = field(
        default=None,
        metadata=_env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"),
    )
    headers: Mapping[str, str] | None = field(
        default=None,
        metadata=_env("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"),
    )
    file_path: str | os.PathLike[str] | None = field(
        default=None, metadata=_env("RAG_OTEL_FILE_PATH")
    )
    span_exporter: SpanExporter | Sequence[SpanExporter] | None = None
    sampler: Sampler | None = field(
        default=None, metadata=_env("OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG")
    )
    capture_content: bool | None = field(
        default=None,
        metadata=_env(
            "RAG_OTEL_CAPTURE_CONTENT",
            "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
            "OPENINFERENCE_HIDE_INPUTS",
            "OPENINFERENCE_HIDE_OUTPUTS",
        ),
    )
    workflow_name: str | None = field(default=None, metadata=_env("RAG_OTEL_WORKFLOW_NAME"))
    redact: Redactor | None = None
    max_content_length: int | None = field(
        default=None, metadata=_env("RAG_OTEL_MAX_CONTENT_LENGTH")
    )
    max_documents: int | None = field(default=None, metadata=_env("RAG_OTEL_MAX_DOCUMENTS"))
    propagate_context: bool = True
    instrument: bool = False
    metrics: bool | str | Sequence[str] | None = field(
        default=None, metadata=_env(METRICS_ENV, "OTEL_METRICS_EXPORTER")
    )
    metrics_port: int | None = field(default=None, metadata=_env("OTEL_EXPORTER_PROMETHEUS_PORT"))
    metrics_histogram: str | None = field(default=None, metadata=_env("RAG_OTEL_METRICS_HISTOGRAM"))
    metric_readers: Sequence[MetricReader] = ()


def environment(name: str) -> tuple[str, ...]:
    """The environment variables that set argument ``name`` when it is not given, in order."""
    return tuple(_ENVIRONMENT[name])


_ENVIRONMENT: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {f.name: f.metadata.get("env", ()) for f in fields(Arguments)}
)


def takes(
    declaration: Callable[P, Arguments],
) -> Callable[[Callable[[Arguments], R]], Callable[P, R]]:
    """``@takes(Arguments)`` on ``func(arguments)``: called as ``func(service_name,
    exporter=..., ...)``, with the declaration's parameters, typed (mypy reads them through
    the ParamSpec) and shown by ``help()`` and IDEs (``__signature__``)."""

    def decorate(func: Callable[[Arguments], R]) -> Callable[P, R]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            return func(declaration(*args, **kwargs))

        returns = inspect.signature(func).return_annotation
        wrapper.__signature__ = inspect.signature(declaration).replace(  # type: ignore[attr-defined]
            return_annotation=returns
        )
        return wrapper

    return decorate


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


class Exporters(NamedTuple):
    """The exporter names an argument or the environment means, and what was wrong with the
    environment (the default was used instead), if anything."""

    names: tuple[str, ...]
    warning: str | None = None


def _names(
    given: str | Sequence[str],
    accepted: Sequence[str],
    source: str,
    default: tuple[str, ...],
    kind: str = "exporter",
) -> Exporters:
    """Comma-separated (or listed) names, stripped, in lower case, each once, ``none`` left out.

    An unknown name given as an argument (``source`` ends in ``=``) is a programming error: a
    ValueError. One in an environment variable must not stop the host: ``default`` is used
    and the warning names the accepted values.
    """
    raw_names = given.split(",") if isinstance(given, str) else list(given)
    out: list[str] = []
    for raw_name in raw_names:
        name = raw_name.strip().lower()
        if name in out or name == "none":
            continue
        if name not in accepted:
            expected = f"expected one of {', '.join(accepted)}"
            if source.endswith("="):
                raise ValueError(
                    f"rag-otel: {source} names unknown {kind} {raw_name!r}; {expected}"
                )
            using = ", ".join(default) or "none"
            return Exporters(
                default,
                f"rag-otel: {source}={given!r} names unknown {kind} {raw_name.strip()!r} "
                f"({expected}); using the default ({using})",
            )
        out.append(name)
    return Exporters(tuple(out))


def trace_exporters(
    exporter: str | Sequence[str] | None, *, otlp_endpoint: str | None, file_path_given: bool
) -> Exporters:
    """The span exporters ``exporter=`` means, else ``RAG_OTEL_EXPORTER`` /
    ``OTEL_TRACES_EXPORTER``, else ``otlp`` with an OTLP endpoint, ``file`` without one
    (and ``file`` next to it when ``file_path=`` is given)."""
    default: tuple[str, ...] = ("otlp",) if otlp_endpoint else ("file",)
    if file_path_given and "file" not in default:
        default += ("file",)  # file_path= turns the file on next to the default
    if exporter is not None:
        return _names(exporter, EXPORTERS, "exporter=", default)
    variables = environment("exporter")
    raw = env_first(*variables)
    if raw is None:
        return Exporters(default)
    name = next(v for v in variables if env_first(v))
    return _names(raw, EXPORTERS, name, default)


_METRICS: Final = "metrics exporter"
_OFF: Final = ("false", "0", "no", "off", "none")
_ON: Final = ("true", "1", "yes", "on")


def metrics_exporters(
    metrics: bool | str | Sequence[str] | None, *, otlp_endpoint: str | None
) -> Exporters:
    """Which metrics exporters ``configure(metrics=...)`` means; none when metrics stay off.

    ``None`` reads ``RAG_OTEL_METRICS`` (off when unset). ``True`` (or ``"true"``) means
    ``OTEL_METRICS_EXPORTER`` when set, else ``otlp`` when an OTLP endpoint is configured,
    else ``prometheus``. An unknown name: see `_names` (metrics stay off when it came from
    ``RAG_OTEL_METRICS``; the ``True`` default when from ``OTEL_METRICS_EXPORTER``).
    """
    source = "metrics="
    if metrics is None:
        raw = env_first(METRICS_ENV)
        if raw is None or raw.lower() in _OFF:
            return Exporters(())
        source = METRICS_ENV
        metrics = True if raw.lower() in _ON else raw
    if metrics is False:
        return Exporters(())
    default = ("otlp",) if otlp_endpoint else ("prometheus",)
    if metrics is True:
        raw_env = env_first("OTEL_METRICS_EXPORTER")
        if raw_env is None:
            return Exporters(default)
        return _names(raw_env, METRICS_EXPORTERS, "OTEL_METRICS_EXPORTER", default, _METRICS)
    off_by_default = () if source == METRICS_ENV else default
    return _names(metrics, METRICS_EXPORTERS, source, off_by_default, _METRICS)


def _metrics_options(arguments: Arguments) -> tuple[MetricsOptions, list[str | None]]:
    """The metrics options, and what was wrong in the environment (None: nothing)."""
    exporters = metrics_exporters(
        arguments.metrics,
        otlp_endpoint=arguments.endpoint
        or env_first("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
    )
    chosen = otlp_protocol("metrics", arguments.protocol)
    options = MetricsOptions(
        exporters=exporters.names,
        protocol=chosen.name,
        port=arguments.metrics_port,
        histogram=arguments.metrics_histogram,
        readers=tuple(arguments.metric_readers),
    )
    return options, [exporters.warning, chosen.warning if "otlp" in exporters.names else None]


def _span_exporters(
    span_exporter: SpanExporter | Sequence[SpanExporter] | None,
) -> tuple[SpanExporter, ...]:
    if span_exporter is None:
        return ()
    if isinstance(span_exporter, Sequence):
        return tuple(span_exporter)
    return (span_exporter,)


@takes(Arguments)
def resolve_options(arguments: Arguments) -> Options:
    """``configure()``'s arguments (same names) and the environment, resolved; no side effect:
    `resolve`, called with the parameters of `Arguments`."""
    return resolve(arguments)


def resolve(arguments: Arguments) -> Options:
    """``arguments`` and the environment, resolved into `Options`; no side effect.

    Raises ValueError for an argument it cannot mean (an unknown exporter or protocol). What
    the environment cannot mean (an unknown exporter in ``RAG_OTEL_EXPORTER``,
    ``OTEL_TRACES_EXPORTER``, ``RAG_OTEL_METRICS``, ``OTEL_METRICS_EXPORTER``, an unsupported
    protocol) becomes one of ``warnings``, and the default is used.
    """
    a = arguments
    settings = Options(
        capture_content=None if a.capture_content is None else bool(a.capture_content),
        workflow_name=None if a.workflow_name is None else (str(a.workflow_name) or None),
        redact=a.redact,
        max_content_length=None
        if a.max_content_length is None
        else max(1, int(a.max_content_length)),
        max_documents=None if a.max_documents is None else max(0, int(a.max_documents)),
    )
    if env_flag("OTEL_SDK_DISABLED"):
        return replace(settings, disabled=True)
    exporters = trace_exporters(
        a.exporter,
        otlp_endpoint=a.endpoint or env_first(*environment("endpoint")),
        file_path_given=a.file_path is not None,
    )
    traces_protocol = otlp_protocol("traces", a.protocol)
    metrics_options, metrics_warnings = _metrics_options(a)
    warnings = [exporters.warning]
    if "otlp" in exporters.names:
        warnings.append(traces_protocol.warning)
    warnings += metrics_warnings
    return replace(
        settings,
        service_name=a.service_name,
        resource_attributes=MappingProxyType(dict(a.resource_attributes or {})),
        sampler=a.sampler,
        exporters=exporters.names,
        endpoint=a.endpoint,
        protocol=traces_protocol.name,
        headers=None if a.headers is None else MappingProxyType(dict(a.headers)),
        file_path=None if a.file_path is None else Path(a.file_path),
        span_exporters=_span_exporters(a.span_exporter),
        propagate_context=a.propagate_context,
        instrument=a.instrument,
        metrics=metrics_options,
        warnings=tuple(dict.fromkeys(w for w in warnings if w is not None)),
    )

"""resolve_options(): configure()'s arguments and environment, resolved without side effects.

In this process: resolving installs no provider, opens no file, starts no thread. The
bad-protocol cases go through configure() in a fresh interpreter too (test_configure.py)."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import pytest
from opentelemetry import trace

from rag_otel._config import SETTINGS
from rag_otel._otel_private import installed_tracer_provider
from rag_otel.options import MetricsOptions, Options, otlp_protocol, resolve_options

pytestmark = pytest.mark.lowest  # also run on the lowest declared versions


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "RAG_OTEL_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_without_environment() -> None:
    options = resolve_options()
    assert options.exporters == ("file",)
    assert options.protocol == "http/protobuf"
    assert options.metrics == MetricsOptions()
    assert not options.metrics.on
    assert options.warnings == ()
    assert not options.disabled


def test_resolving_has_no_side_effect(tmp_path: Path) -> None:
    provider = installed_tracer_provider()
    threads = threading.active_count()
    capture = SETTINGS.capture_content
    options = resolve_options(
        "faq-bot", endpoint="http://127.0.0.1:1", file_path="out/spans.jsonl",
        metrics="prometheus", capture_content=not capture,
    )  # fmt: skip
    assert options.exporters == ("otlp", "file")
    assert options.file_path == Path("out/spans.jsonl")
    assert options.capture_content is (not capture)
    assert installed_tracer_provider() is provider
    assert trace.get_tracer_provider() is not None
    assert threading.active_count() == threads
    assert SETTINGS.capture_content is capture
    assert list(tmp_path.iterdir()) == []


def test_options_are_immutable() -> None:
    options = resolve_options(resource_attributes={"team": "search"}, headers={"k": "v"})
    with pytest.raises(AttributeError):
        options.exporters = ("console",)  # type: ignore[misc]
    with pytest.raises(TypeError):
        options.resource_attributes["team"] = "other"  # type: ignore[index]
    with pytest.raises(TypeError):
        options.headers["k"] = "w"  # type: ignore[index]


def test_argument_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "console,none")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf")
    monkeypatch.setenv("RAG_OTEL_METRICS", "otlp,prometheus")
    options = resolve_options()
    assert options.exporters == ("console",)
    assert options.protocol == "grpc"
    assert options.metrics.exporters == ("otlp", "prometheus")
    assert options.metrics.protocol == "http/protobuf"  # the signal's own variable first
    options = resolve_options(exporter=["otlp", "file"], protocol="http/protobuf", metrics=False)
    assert options.exporters == ("otlp", "file")
    assert (options.protocol, options.metrics.protocol) == ("http/protobuf", "http/protobuf")
    assert options.metrics.exporters == ()


def test_metrics_options_are_grouped() -> None:
    options = resolve_options(
        metrics="prometheus", metrics_port=0, metrics_histogram="explicit", protocol="grpc"
    )
    assert options.metrics == MetricsOptions(
        exporters=("prometheus",), protocol="grpc", port=0, histogram="explicit"
    )
    assert options.metrics.on


def test_sdk_disabled_keeps_only_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    options = resolve_options(exporter="console", max_documents=3)
    assert options == Options(disabled=True, max_documents=3)


@pytest.mark.parametrize("signal", ["traces", "metrics"])
def test_bad_protocol_argument_is_a_value_error(signal: str) -> None:
    with pytest.raises(ValueError, match=r"^rag-otel: protocol='http/json'; expected one of"):
        otlp_protocol(signal, "http/json")
    traces_off = {"exporter": "none"} if signal == "metrics" else {}
    with pytest.raises(ValueError, match="protocol='http/json'"):
        resolve_options(protocol="http/json", metrics="otlp", **traces_off)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("variable", "traces", "metrics"),
    [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", True, True),
        ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", True, False),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", False, True),
    ],
)
def test_bad_protocol_variable_falls_back_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    variable: str, traces: bool, metrics: bool,
) -> None:  # fmt: skip
    monkeypatch.setenv(variable, "http/json")
    with caplog.at_level(logging.WARNING, logger="rag_otel"):
        options = resolve_options(endpoint="http://127.0.0.1:1", metrics="otlp")
    assert caplog.records == []  # pure: the warning is returned, configure() logs it
    assert (options.protocol, options.metrics.protocol) == ("http/protobuf", "http/protobuf")
    expected = f"rag-otel: {variable}='http/json' is not supported (http/protobuf, grpc); "
    assert options.warnings == (expected + "using http/protobuf",)  # one, even for both signals
    warning = options.warnings[0]
    assert otlp_protocol("traces", None).warning == (warning if traces else None)
    assert otlp_protocol("metrics", None).warning == (warning if metrics else None)


def test_bad_protocol_variable_is_silent_when_no_otlp_exporter_uses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
    assert resolve_options(exporter="console", metrics="prometheus").warnings == ()


def test_unknown_exporter_names_are_value_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="exporter= names unknown exporter 'zipkin'"):
        resolve_options(exporter="zipkin")
    with pytest.raises(ValueError, match="unknown metrics exporter 'statsd'"):
        resolve_options(metrics="statsd")


# --- a typo in an environment variable: warned once, the default used ----------------------


@pytest.mark.parametrize(
    ("variable", "value", "endpoint", "default"),
    [
        ("RAG_OTEL_EXPORTER", "otlpp", None, ("file",)),
        ("OTEL_TRACES_EXPORTER", "consol", "http://127.0.0.1:4318", ("otlp",)),
        ("OTEL_TRACES_EXPORTER", "console,zipkin", None, ("file",)),
    ],
)
def test_an_unknown_span_exporter_in_the_environment_falls_back_to_the_default(
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    endpoint: str | None,
    default: tuple[str, ...],
) -> None:
    monkeypatch.setenv(variable, value)
    options = resolve_options(endpoint=endpoint)
    assert options.exporters == default
    (warning,) = options.warnings
    assert warning.startswith(f"rag-otel: {variable}={value!r} names unknown exporter ")
    assert "expected one of otlp, file, console, none" in warning
    assert warning.endswith(f"using the default ({', '.join(default)})")


def test_an_unknown_metrics_exporter_in_the_environment_falls_back_to_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RAG_OTEL_METRICS", "promethus")
    options = resolve_options()
    assert options.metrics.exporters == ()  # RAG_OTEL_METRICS's default: metrics off
    assert options.warnings == (
        "rag-otel: RAG_OTEL_METRICS='promethus' names unknown metrics exporter 'promethus' "
        "(expected one of otlp, prometheus, console); using the default (none)",
    )
    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "statsd")
    options = resolve_options(metrics=True)
    assert options.metrics.exporters == ("prometheus",)  # metrics=True's default
    assert "OTEL_METRICS_EXPORTER='statsd' names unknown metrics exporter" in options.warnings[0]


def test_an_unknown_exporter_as_an_argument_still_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAG_OTEL_EXPORTER", "otlpp")  # the argument wins, and is checked
    with pytest.raises(ValueError, match="exporter= names unknown exporter 'zipkin'"):
        resolve_options(exporter="zipkin")
    with pytest.raises(ValueError, match="metrics= names unknown metrics exporter 'statsd'"):
        resolve_options(metrics=["otlp", "statsd"])


# --- configure()'s parameters: declared once -----------------------------------------------


def test_configure_and_resolve_options_take_the_declared_arguments() -> None:
    import inspect
    from dataclasses import MISSING, fields

    import rag_otel
    from rag_otel.options import Arguments

    declared = [(f.name, f.default) for f in fields(Arguments) if f.default is not MISSING]
    assert [f.name for f in fields(Arguments)] == [name for name, _ in declared]
    for func in (rag_otel.configure, resolve_options):
        params = inspect.signature(func).parameters.values()
        assert [(p.name, p.default) for p in params] == declared, func
        first, *rest = params
        assert first.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD  # configure("faq-bot")
        assert {p.kind for p in rest} == {inspect.Parameter.KEYWORD_ONLY}
    assert "exporter=" in (rag_otel.configure.__doc__ or "")
    assert inspect.signature(rag_otel.configure).return_annotation == "Configuration"


DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def _documented_options() -> list[tuple[str, set[str]]]:
    """docs/configuration.md's option table: (argument, the variables its row names)."""
    import re

    text = DOCS.read_text(encoding="utf-8")
    table = text.split("## Options", 1)[1].split("\n\n", 2)[1]
    rows = []
    for line in table.splitlines()[2:]:
        argument, variables = (cell.strip() for cell in line.strip("|").split("|")[:2])
        if argument:
            rows.append((argument.strip("`"), set(re.findall(r"`([A-Z][A-Z0-9_]+)`", variables))))
    return rows


def test_the_docs_table_lists_the_declared_arguments_and_their_variables() -> None:
    from dataclasses import fields

    from rag_otel.options import Arguments, environment

    documented = _documented_options()
    assert [name for name, _ in documented] == [f.name for f in fields(Arguments)]
    for name, variables in documented:
        assert variables == set(environment(name)), name

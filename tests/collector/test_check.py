"""`rag-otel collector check`: the bundled stack is clean, broken configs are caught."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rag_otel.cli import main
from rag_otel.collector import components
from rag_otel.collector.check import (
    Finding,
    UnreadableInput,
    bundled_stack,
    check_paths,
    has_errors,
)

REPO = Path(__file__).resolve().parents[2]

GOOD_COLLECTOR = """\
receivers:
  otlp:
    protocols:
      http:
        endpoint: 0.0.0.0:4318
processors:
  memory_limiter:
    check_interval: 1s
    limit_percentage: 80
  batch:
connectors:
  span_metrics:
    histogram:
      unit: ms
exporters:
  otlp_grpc/jaeger:
    endpoint: jaeger:4317
  prometheus:
    endpoint: 0.0.0.0:8889
service:
  pipelines:
    traces:
      receivers: [otlp]
      processors: [memory_limiter, batch]
      exporters: [otlp_grpc/jaeger, span_metrics]
    metrics:
      receivers: [span_metrics]
      exporters: [prometheus]
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def messages(findings: list[Finding], severity: str | None = None) -> list[str]:
    return [f"{f.line}:{f.message}" for f in findings if severity in (None, f.severity)]


def line_of(path: Path, needle: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


# --- the bundled stack ---------------------------------------------------------------------


def test_bundled_stack_is_found_and_checks_clean() -> None:
    bundle = bundled_stack()
    assert bundle is not None
    assert bundle.root == REPO
    names = {p.relative_to(REPO).as_posix() for p in bundle.files}
    assert {
        "docker-compose.yml",
        "collector/otel-collector.yaml",
        "collector/jaeger.yaml",
        "collector/prometheus.yaml",
    } <= names
    # one per vendor in docs/vendors.md, and the ClickHouse pipeline (docs/clickhouse.md)
    assert len(bundle.overlays) == 9
    assert bundle.overlays[-1] == REPO / "collector" / "clickhouse.yaml"
    findings = check_paths(bundle.files, base=bundle.base, overlays=bundle.overlays)
    assert findings == []


def test_cli_default_checks_the_bundle(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["collector", "check"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "0 errors, 0 warnings" in captured.err


def test_bundled_compose_follows_its_mounts() -> None:
    # checking the compose file alone also checks the configs it bind-mounts
    findings = check_paths([REPO / "docker-compose.yml"])
    assert findings == []


def test_component_tables_name_their_source() -> None:
    assert components.PINNED_RELEASE == "v0.165.1"
    assert "manifest.yaml" in components.SOURCE
    assert "span_metrics" in components.CONNECTORS
    assert components.DEPRECATED["exporters"] == {"otlp": "otlp_grpc", "otlphttp": "otlp_http"}
    assert "logging" in components.REMOVED["exporters"]


# --- broken Collector configs ------------------------------------------------------------------


def test_good_config_has_no_finding(tmp_path: Path) -> None:
    assert check_paths([write(tmp_path, "c.yaml", GOOD_COLLECTOR)]) == []


def test_undefined_exporter_is_an_error_on_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.yaml",
        GOOD_COLLECTOR.replace(
            "exporters: [otlp_grpc/jaeger, span_metrics]",
            "exporters: [otlp_grpc/jaeger, span_metrics, otlp_http/vendor]",
        ),
    )
    findings = check_paths([path])
    assert has_errors(findings)
    [error] = [f for f in findings if f.severity == "error"]
    assert error.line == line_of(path, "otlp_http/vendor")
    assert "exporter 'otlp_http/vendor'" in error.message
    assert "not defined" in error.message
    assert str(error) == f"{error.path}:{error.line}: error: {error.message}"


def test_undefined_receiver_processor_and_extension(tmp_path: Path) -> None:
    text = (
        GOOD_COLLECTOR.replace("receivers: [otlp]", "receivers: [otlp, zipkin]")
        .replace("processors: [memory_limiter, batch]", "processors: [memory_limiter, batch, tail]")
        .replace("service:\n", "service:\n  extensions: [health_check]\n")
    )
    findings = check_paths([write(tmp_path, "c.yaml", text)])
    errors = " | ".join(messages(findings, "error"))
    assert "receiver 'zipkin'" in errors
    assert "processor 'tail'" in errors
    assert "'health_check', which is not defined under extensions" in errors


def test_connector_used_on_one_side_only(tmp_path: Path) -> None:
    text = GOOD_COLLECTOR.replace(
        "    metrics:\n      receivers: [span_metrics]\n      exporters: [prometheus]\n",
        "    metrics:\n      receivers: [otlp]\n      exporters: [prometheus]\n",
    )
    path = write(tmp_path, "c.yaml", text)
    findings = check_paths([path])
    [error] = [f for f in findings if f.severity == "error"]
    assert "connector 'span_metrics' is used as an exporter but no pipeline receives from it" in (
        error.message
    )
    assert error.line == line_of(path, "  span_metrics:")


def test_connector_only_received_from(tmp_path: Path) -> None:
    text = GOOD_COLLECTOR.replace(
        "exporters: [otlp_grpc/jaeger, span_metrics]", "exporters: [otlp_grpc/jaeger]"
    )
    findings = check_paths([write(tmp_path, "c.yaml", text)])
    assert any("used as a receiver but no pipeline exports to it" in m for m in messages(findings))


def test_unknown_component_type_is_an_error(tmp_path: Path) -> None:
    text = GOOD_COLLECTOR.replace("  prometheus:\n    endpoint", "  promethues:\n    endpoint")
    text = text.replace("exporters: [prometheus]", "exporters: [promethues]")
    path = write(tmp_path, "c.yaml", text)
    findings = check_paths([path])
    [error] = [f for f in findings if f.severity == "error"]
    assert "unknown exporter type 'promethues'" in error.message
    assert components.PINNED_RELEASE in error.message
    assert error.line == line_of(path, "promethues:")


def test_deprecated_names_are_warned_with_the_new_name(tmp_path: Path) -> None:
    text = (
        GOOD_COLLECTOR.replace("otlp_grpc/jaeger", "otlp/jaeger")
        .replace("  span_metrics:\n", "  spanmetrics:\n")
        .replace("span_metrics]", "spanmetrics]")
    )
    findings = check_paths([write(tmp_path, "c.yaml", text)])
    assert not has_errors(findings)
    warnings = " | ".join(messages(findings, "warning"))
    assert "rename 'otlp/jaeger' to 'otlp_grpc/jaeger'" in warnings
    assert "rename 'spanmetrics' to 'span_metrics'" in warnings


def test_removed_logging_exporter_is_an_error(tmp_path: Path) -> None:
    text = GOOD_COLLECTOR.replace("  prometheus:\n", "  logging:\n  prometheus:\n").replace(
        "exporters: [prometheus]", "exporters: [prometheus, logging]"
    )
    findings = check_paths([write(tmp_path, "c.yaml", text)])
    assert any("'logging' was removed" in m and "debug" in m for m in messages(findings, "error"))


def test_unused_component_is_a_warning(tmp_path: Path) -> None:
    text = GOOD_COLLECTOR.replace("  batch:\n", "  batch:\n  attributes/unused:\n")
    findings = check_paths([write(tmp_path, "c.yaml", text)])
    assert not has_errors(findings)
    assert messages(findings) == [
        f"{line_of(tmp_path / 'c.yaml', 'attributes/unused')}:processor 'attributes/unused' "
        "is defined but not used in any pipeline"
    ]


def test_collector_pitfalls(tmp_path: Path) -> None:
    text = GOOD_COLLECTOR.replace("    histogram:\n      unit: ms\n", "    dimensions: []\n")
    text = text.replace(
        "  prometheus:\n", "  file/traces:\n    path: /data/t.jsonl\n  prometheus:\n"
    ).replace(
        "exporters: [otlp_grpc/jaeger, span_metrics]", "exporters: [file/traces, span_metrics]"
    )
    text = text.replace("  otlp_grpc/jaeger:\n    endpoint: jaeger:4317\n", "")
    text = text.replace(
        "processors: [memory_limiter, batch]", "processors: [batch, memory_limiter]"
    )
    warnings = " | ".join(messages(check_paths([write(tmp_path, "c.yaml", text)]), "warning"))
    assert "set histogram.unit explicitly" in warnings
    assert "append is false by default" in warnings
    assert "memory_limiter should be the first processor" in warnings


def test_literal_credentials_are_warned(tmp_path: Path) -> None:
    text = GOOD_COLLECTOR.replace(
        "  prometheus:\n",
        "  otlp_http/vendor:\n"
        "    endpoint: https://otlp.example.com\n"
        "    headers:\n"
        "      api-key: abc123def456ghi789\n"
        "      Authorization: Bearer eyJhbGciOiJIUzI1NiJ9xyz\n"
        "      x-from-env: ${env:VENDOR_KEY}\n"
        "  prometheus:\n",
    ).replace("exporters: [prometheus]", "exporters: [prometheus, otlp_http/vendor]")
    path = write(tmp_path, "c.yaml", text)
    write(tmp_path, ".env.example", "VENDOR_KEY=\n")
    findings = check_paths([path])
    credential = [f for f in findings if "literal credential" in f.message]
    assert [f.line for f in credential] == [
        line_of(path, "api-key:"),
        line_of(path, "Authorization:"),
    ]
    assert all(f.severity == "warning" for f in credential)


def test_env_reference_must_be_documented(tmp_path: Path) -> None:
    text = GOOD_COLLECTOR.replace("jaeger:4317", "${env:JAEGER_HOST:-jaeger}:4317")
    text += "# ${env:IN_A_COMMENT} is not a reference\n"
    path = write(tmp_path, "c.yaml", text)
    [finding] = check_paths([path])
    assert finding.severity == "warning"
    assert "JAEGER_HOST is not documented" in finding.message
    assert finding.line == line_of(path, "JAEGER_HOST")
    # documented in docs/collector.md next to the config: clean
    write(tmp_path, "docs/collector.md", "Set `JAEGER_HOST` to the Jaeger host.\n")
    assert check_paths([path]) == []


def test_extra_docs_option(tmp_path: Path) -> None:
    path = write(tmp_path, "c.yaml", GOOD_COLLECTOR.replace("jaeger:4317", "${JAEGER}:4317"))
    notes = write(tmp_path / "elsewhere", "notes.md", "JAEGER: where Jaeger runs\n")
    assert len(check_paths([path])) == 1
    assert check_paths([path], extra_docs=[notes]) == []


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "c.yaml",
        "receivers:\n  otlp:\n    protocols: [grpc\nexporters:\n  debug:\n",
    )
    [finding] = check_paths([path])
    assert finding.severity == "error"
    assert finding.message.startswith("YAML does not parse")
    assert finding.line in (4, 5)  # where the parser noticed the unclosed flow sequence


def test_overlay_is_checked_merged_onto_base(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", GOOD_COLLECTOR)
    overlay = write(
        tmp_path,
        "vendor.yaml",
        """\
        exporters:
          otlp_http/v:
            endpoint: https://example.com
        service:
          pipelines:
            traces/v:
              receivers: [otlp]
              processors: [memory_limiter, batch]
              exporters: [otlp_http/v, otlp_http/typo]
        """,
    )
    findings = check_paths([], base=base, overlays=[overlay])
    # otlp, memory_limiter and batch come from the base; only the typo is wrong
    assert [(f.path.endswith("vendor.yaml"), f.severity) for f in findings] == [(True, "error")]
    assert "otlp_http/typo" in findings[0].message
    # alone, the overlay misses the base's components
    alone = check_paths([overlay])
    assert sum("receiver 'otlp'" in m for m in messages(alone, "error")) == 1


# --- Jaeger ---------------------------------------------------------------------------------------


def test_jaeger_storage_names_must_exist(tmp_path: Path) -> None:
    text = (REPO / "collector" / "jaeger.yaml").read_text()
    path = write(
        tmp_path, "jaeger.yaml", text.replace("metrics: span_metrics_store", "metrics: prom")
    )
    [finding] = check_paths([path])
    assert finding.severity == "error"
    assert "storage.metrics 'prom' is not defined under jaeger_storage (metric_backends)" in (
        finding.message
    )


# --- compose ------------------------------------------------------------------------------------


def compose(tmp_path: Path, service: str) -> Path:
    return write(tmp_path, "docker-compose.yml", "services:\n" + textwrap.indent(service, "  "))


def test_ports_not_on_loopback_are_warned(tmp_path: Path) -> None:
    path = compose(
        tmp_path,
        """\
        app:
          image: nginx:1.27.3
          ports:
            - "127.0.0.1:8080:80"
            - "0.0.0.0:4317:4317"
            - "4318:4318"
            - "9000"
            - target: 80
              published: "8081"
            - target: 81
              published: "8082"
              host_ip: 127.0.0.1
        """,
    )
    findings = check_paths([path])
    assert not has_errors(findings)
    assert [f.line for f in findings] == [
        line_of(path, "0.0.0.0:4317"),
        line_of(path, '"4318:4318"'),
        line_of(path, '"9000"'),
        line_of(path, "target: 80"),
    ]
    assert "bound to 0.0.0.0" in findings[0].message
    assert "no host IP" in findings[1].message


def test_unpinned_images_are_errors(tmp_path: Path) -> None:
    path = compose(
        tmp_path,
        """\
        a:
          image: prom/prometheus:latest
        b:
          image: jaegertracing/jaeger
        c:
          image: otel/opentelemetry-collector-contrib:${TAG:-0.165.1}
        d:
          image: busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000
        e:
          image: localhost:5000/thing
        """,
    )
    write(tmp_path, ".env.example", "TAG=0.165.1\n")
    findings = check_paths([path])
    assert [(f.line, f.severity) for f in findings] == [
        (line_of(path, "prometheus:latest"), "error"),
        (line_of(path, "jaegertracing/jaeger"), "error"),
        (line_of(path, "localhost:5000/thing"), "error"),
    ]
    assert "moving tag :latest" in findings[0].message
    assert "has no tag" in findings[1].message


def test_merge_keys_are_followed(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "docker-compose.yml",
        """\
        x-common: &common
          image: otel/opentelemetry-collector-contrib:latest
          ports: ["4318:4318"]
        services:
          a:
            <<: *common
          b:
            <<: *common
            image: otel/opentelemetry-collector-contrib:0.165.1
            ports: ["127.0.0.1:4318:4318"]
        """,
    )
    findings = check_paths([path])
    assert [(f.line, f.severity, f.message.split(":")[0]) for f in findings] == [
        (2, "error", "service 'a'"),
        (3, "warning", "service 'a'"),
    ]


def test_mounts_must_exist_and_are_checked(tmp_path: Path) -> None:
    write(tmp_path, "otel.yaml", GOOD_COLLECTOR.replace("[otlp]", "[otlp, nope]"))
    (tmp_path / "data").mkdir()
    path = write(
        tmp_path,
        "docker-compose.yml",
        """\
        services:
          otel:
            image: otel/opentelemetry-collector-contrib:0.165.1
            volumes:
              - ./otel.yaml:/etc/otelcol-contrib/config.yaml:ro
              - ./missing.yaml:/etc/other.yaml:ro
              - ./data:/data
              - type: bind
                source: ./also-missing
                target: /x
              - cache:/cache
              - undeclared:/other
        volumes:
          cache:
        """,
    )
    findings = check_paths([path])
    by_file = {(Path(f.path).name, f.severity, f.message.split(",")[0][:60]) for f in findings}
    errors = messages([f for f in findings if f.path.endswith("docker-compose.yml")], "error")
    assert any("./missing.yaml does not exist" in m for m in errors)
    assert any("./also-missing does not exist" in m for m in errors)
    assert any("named volume 'undeclared' is not declared" in m for m in errors)
    assert not any("'cache'" in m for m in errors)
    # the mounted Collector config was checked too
    assert any(name == "otel.yaml" and sev == "error" for name, sev, _ in by_file)


def test_compose_env_and_credentials(tmp_path: Path) -> None:
    path = compose(
        tmp_path,
        """\
        app:
          image: app:1.0.0
          user: "${APP_UID:-1000}"
          environment:
            - OTEL_EXPORTER_OTLP_HEADERS=api-key=${NR_KEY}
            - DD_API_KEY=0123456789abcdef0123456789abcdef
            - PASSTHROUGH_TOKEN
          command: ["sh", "-c", "echo $$HOME"]
        """,
    )
    write(tmp_path, ".env.example", "APP_UID=1000\n")
    findings = check_paths([path])
    assert [f.line for f in findings if "literal credential" in f.message] == [
        line_of(path, "DD_API_KEY=")
    ]
    undocumented = [f.message.split()[2] for f in findings if "not documented" in f.message]
    assert undocumented == ["NR_KEY"]  # $$HOME is an escaped dollar, APP_UID is documented


# --- input problems and the CLI -----------------------------------------------------------------------


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnreadableInput, match="no such file"):
        check_paths([tmp_path / "nope.yaml"])


def test_unrecognised_file_is_a_warning(tmp_path: Path) -> None:
    [finding] = check_paths([write(tmp_path, "x.yaml", "just: data\n")])
    assert finding.severity == "warning"
    assert "not recognised" in finding.message


def test_directory_argument_checks_its_yaml(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD_COLLECTOR)
    write(tmp_path, "b.yml", GOOD_COLLECTOR.replace("[prometheus]", "[prometheus, x]"))
    findings = check_paths([tmp_path])
    assert {Path(f.path).name for f in findings} == {"b.yml"}


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rag_otel", "collector", "check", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


def test_cli_exit_codes_and_output_format(tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", GOOD_COLLECTOR)
    write(tmp_path, "warn.yaml", GOOD_COLLECTOR.replace("otlp_grpc/", "otlp/"))
    bad = write(tmp_path, "bad.yaml", GOOD_COLLECTOR.replace("[prometheus]", "[prometheus, x]"))

    ok = run_cli("good.yaml", cwd=tmp_path)
    assert (ok.returncode, ok.stdout) == (0, "")

    warned = run_cli("warn.yaml", cwd=tmp_path)
    assert warned.returncode == 0
    assert warned.stdout.startswith("warn.yaml:")
    assert ": warning: exporter type 'otlp' is a deprecated alias" in warned.stdout

    failed = run_cli(str(good), str(bad), cwd=tmp_path)
    assert failed.returncode == 1
    [line] = failed.stdout.splitlines()
    assert line == (
        f"bad.yaml:{line_of(bad, '[prometheus, x]')}: error: pipeline 'metrics' uses exporter "
        "'x', which is not defined under exporters or connectors"
    )
    assert "1 error, 0 warnings" in failed.stderr

    quiet = run_cli("-q", "warn.yaml", cwd=tmp_path)
    assert (quiet.returncode, quiet.stdout) == (0, "")

    missing = run_cli("nope.yaml", cwd=tmp_path)
    assert missing.returncode == 2
    assert missing.stdout == ""
    assert "nope.yaml: no such file" in missing.stderr
    assert "Traceback" not in missing.stderr

    write(tmp_path, "broken.yaml", "a: [1\n")
    syntax = run_cli("broken.yaml", cwd=tmp_path)
    assert syntax.returncode == 1
    assert syntax.stdout.startswith("broken.yaml:2: error: YAML does not parse")


def test_cli_without_bundle_needs_paths(tmp_path: Path) -> None:
    # outside a source tree (as from a wheel) there is no bundle; run a copy of the package
    site = tmp_path / "site"
    import shutil

    import rag_otel

    shutil.copytree(Path(rag_otel.__file__).parent, site / "rag_otel")
    result = subprocess.run(
        [sys.executable, "-m", "rag_otel", "collector", "check"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "pass the files to check" in result.stderr


def test_cli_collector_without_subcommand_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["collector"]) == 2
    assert "check" in capsys.readouterr().err

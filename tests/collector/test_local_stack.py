"""`rag-otel stack`: the compose configs rewritten for one host, and the one-line errors
(no binaries needed; test_stack_live.py runs the real programs)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from rag_otel.cli import main
from rag_otel.collector.local_stack import DEFAULT_PORTS, derive, parse_ports
from rag_otel.collector.run import Binaries, StackUsageError, free_ports, start, write_configs

REPO = Path(__file__).resolve().parents[2]


def _load(name: str) -> dict[str, object]:
    return dict(yaml.safe_load((REPO / "collector" / name).read_text()))


def test_derived_configs_listen_on_loopback_with_ports_that_do_not_clash(tmp_path: Path) -> None:
    ports = free_ports(list(DEFAULT_PORTS))
    paths = write_configs(tmp_path, ports, source=REPO)
    texts = {name: path.read_text() for name, path in paths.items()}
    for name, text in texts.items():
        assert "0.0.0.0" not in text, name
    collector = yaml.safe_load(texts["collector"])
    protocols = collector["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == f"127.0.0.1:{ports['otlp_grpc']}"
    assert protocols["http"]["endpoint"] == f"127.0.0.1:{ports['otlp_http']}"
    jaeger_export = collector["exporters"]["otlp_grpc/jaeger"]
    assert jaeger_export["endpoint"] == f"127.0.0.1:{ports['jaeger_otlp']}"
    assert jaeger_export["sending_queue"]["enabled"] is True  # the rest is the bundled file
    assert collector["exporters"]["file/traces"]["path"] == str(tmp_path / "data/traces.jsonl")
    jaeger = yaml.safe_load(texts["jaeger"])
    assert jaeger["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == (
        f"127.0.0.1:{ports['jaeger_otlp']}"
    )
    backend = jaeger["extensions"]["jaeger_storage"]["metric_backends"]["span_metrics_store"]
    assert backend["prometheus"]["endpoint"] == f"http://127.0.0.1:{ports['prometheus']}"
    prometheus = yaml.safe_load(texts["prometheus"])
    targets = prometheus["scrape_configs"][0]["static_configs"][0]["targets"]
    assert targets == [f"127.0.0.1:{ports['span_metrics']}"]
    # each program's own metrics on a port of its own
    for name, port in (("collector", "collector_metrics"), ("jaeger", "jaeger_metrics")):
        reader = yaml.safe_load(texts[name])["service"]["telemetry"]["metrics"]["readers"][0]
        assert reader["pull"]["exporter"]["prometheus"]["port"] == ports[port]


def test_default_ports_keep_what_compose_publishes() -> None:
    configs = derive(
        _load("otel-collector.yaml"),
        _load("jaeger.yaml"),
        _load("prometheus.yaml"),
        ports=DEFAULT_PORTS,
        traces_file="t.jsonl",
    )
    otlp = configs.collector["receivers"]["otlp"]["protocols"]
    assert otlp["http"]["endpoint"] == "127.0.0.1:4318"
    assert configs.jaeger["extensions"]["jaeger_query"]["http"]["endpoint"] == "127.0.0.1:16686"
    assert len(set(DEFAULT_PORTS.values())) == len(DEFAULT_PORTS)


@pytest.mark.parametrize("pair", ["nope=1", "otlp_grpc=x", "otlp_grpc=70000", "otlp_grpc"])
def test_bad_port_option_is_one_line(pair: str) -> None:
    with pytest.raises(ValueError, match="--port"):
        parse_ports([pair])


def test_missing_binary_is_named_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path), "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "rag_otel", "stack", "up", "--dir", str(tmp_path / "run"),
         "--bin-dir", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "otelcol / otelcol-contrib not found in" in lines[0]
    assert "dev.py stack-binaries" in lines[0]


def test_a_busy_port_is_named_before_anything_starts(tmp_path: Path) -> None:
    ports = free_ports(list(DEFAULT_PORTS))
    missing = tmp_path / "no-such-program"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ports["jaeger_ui"]))
        taken.listen()
        with pytest.raises(StackUsageError) as raised:
            start(tmp_path / "run", Binaries(missing, missing, missing), ports=ports)
    message = str(raised.value)
    assert "--port NAME=N" in message
    assert "\n" not in message
    assert [p for p in message.split() if "=" in p and p[0].isalpha()] == [
        f"jaeger_ui={ports['jaeger_ui']}",
        "NAME=N",
    ]  # only the busy one is named
    assert not (tmp_path / "run").exists()  # nothing written, nothing started


def test_status_and_down_without_a_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stack", "status", "--dir", str(tmp_path)]) == 2
    assert main(["stack", "down", "--dir", str(tmp_path)]) == 2
    assert "no stack was started from" in capsys.readouterr().err


def test_stack_binaries_without_the_module_proxy_exits_2(tmp_path: Path) -> None:
    go = "/usr/local/go/bin/go"
    if not Path(go).exists():
        pytest.skip("no Go on this machine")
    env = {**os.environ, "RAG_OTEL_GO_CACHE": str(tmp_path / "cache"), "GOPROXY": "off"}
    done = subprocess.run(
        [sys.executable, str(REPO / "dev.py"), "stack-binaries", str(tmp_path / "bin")],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert (
        done.stdout.strip().splitlines()[-1].startswith("stack-binaries: cannot fetch Go modules")
    )

"""The bundled stack's configs, rewritten to run on one host without Docker.

``rag-otel stack up`` runs the Collector, Jaeger v2 and Prometheus as plain processes. Their
configs are derived from the files compose mounts (``collector/otel-collector.yaml``,
``collector/jaeger.yaml``, ``collector/prometheus.yaml``): nothing is a second copy. Inside
compose every service has its own network address; on one host they share 127.0.0.1, so
every listening endpoint is moved to loopback and to its own port (Jaeger and the Collector
both listen for OTLP on 4317), and every ``service:port`` address of another compose service
is pointed at that service's port here::

    compose                                  one host
    otel-collector  0.0.0.0:4317  (OTLP)  -> 127.0.0.1:ports["otlp_grpc"]
    jaeger          0.0.0.0:4317  (OTLP)  -> 127.0.0.1:ports["jaeger_otlp"]
    collector  -> jaeger:4317             -> 127.0.0.1:ports["jaeger_otlp"]
    prometheus -> otel-collector:8889     -> 127.0.0.1:ports["span_metrics"]

Both programs also serve their own metrics (``:8888`` by default); each gets a port of its own.
Pure functions of the parsed YAML: `derive` returns the three configs as Python objects.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

LOOPBACK: Final = "127.0.0.1"

DEFAULT_PORTS: Final[dict[str, int]] = {
    # the ports compose publishes on the host keep their numbers
    "otlp_grpc": 4317,
    "otlp_http": 4318,
    "jaeger_ui": 16686,
    "jaeger_grpc": 16685,
    "prometheus": 9090,
    # ports only reachable inside compose move where they would clash
    "collector_health": 13133,
    "collector_metrics": 8888,
    "span_metrics": 8889,
    "jaeger_otlp": 14317,
    "jaeger_health": 13134,
    "jaeger_metrics": 8887,
}
"""Port names `rag-otel stack up --port NAME=N` accepts, with their defaults."""

# (compose service, port inside its container) -> port name on this host
CONTAINER_PORTS: Final[dict[tuple[str, int], str]] = {
    ("otel-collector", 4317): "otlp_grpc",
    ("otel-collector", 4318): "otlp_http",
    ("otel-collector", 13133): "collector_health",
    ("otel-collector", 8888): "collector_metrics",
    ("otel-collector", 8889): "span_metrics",
    ("jaeger", 4317): "jaeger_otlp",
    ("jaeger", 16686): "jaeger_ui",
    ("jaeger", 16685): "jaeger_grpc",
    ("jaeger", 13133): "jaeger_health",
    ("jaeger", 8888): "jaeger_metrics",
    ("prometheus", 9090): "prometheus",
}

_ADDRESS = re.compile(
    r"^(?P<scheme>[a-z]+://)?(?P<host>[A-Za-z0-9_.-]*):(?P<port>\d+)(?P<rest>/.*)?$"
)
_LOCAL_HOSTS: Final = frozenset({"", "0.0.0.0", "localhost", "127.0.0.1", "[::]", "::"})


class StackConfigError(Exception):
    """A bundled config does not have the shape the rewrite expects (one line, names the file)."""


@dataclass(frozen=True, slots=True)
class LocalConfigs:
    collector: dict[str, Any]
    jaeger: dict[str, Any]
    prometheus: dict[str, Any]


def _remap(value: str, own: str, ports: Mapping[str, int]) -> str:
    """One ``[scheme://]host:port[/path]`` address, as seen from this host."""
    match = _ADDRESS.match(value)
    if match is None:
        return value
    host, port = match["host"], int(match["port"])
    service = own if host in _LOCAL_HOSTS else host
    name = CONTAINER_PORTS.get((service, port))
    if name is None:
        if host in _LOCAL_HOSTS:  # an endpoint of its own not in the table: loopback, same port
            return f"{match['scheme'] or ''}{LOOPBACK}:{port}{match['rest'] or ''}"
        return value  # an outside address (a vendor): left alone
    return f"{match['scheme'] or ''}{LOOPBACK}:{ports[name]}{match['rest'] or ''}"


def _rewrite(node: Any, own: str, ports: Mapping[str, int]) -> Any:
    if isinstance(node, dict):
        return {k: _rewrite(v, own, ports) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite(v, own, ports) for v in node]
    if isinstance(node, str):
        return _remap(node, own, ports)
    return node


def _own_telemetry(config: dict[str, Any], port: int) -> None:
    """The program's own metrics (``otelcol_receiver_accepted_spans`` ...) on loopback:`port`."""
    service = config.setdefault("service", {})
    telemetry = service.setdefault("telemetry", {})
    metrics = telemetry.setdefault("metrics", {})
    metrics["readers"] = [{"pull": {"exporter": {"prometheus": {"host": LOOPBACK, "port": port}}}}]


def derive(
    collector: Mapping[str, Any],
    jaeger: Mapping[str, Any],
    prometheus: Mapping[str, Any],
    *,
    ports: Mapping[str, int],
    traces_file: str,
    scrape_interval: str | None = None,
) -> LocalConfigs:
    """The compose configs rewritten for one host; `traces_file` replaces the file exporter's
    path (``/data/traces.jsonl`` is a container path)."""
    col = _rewrite(copy.deepcopy(dict(collector)), "otel-collector", ports)
    files = [
        cfg
        for name, cfg in (col.get("exporters") or {}).items()
        if name.split("/", 1)[0] == "file" and isinstance(cfg, dict)
    ]
    if len(files) != 1:
        raise StackConfigError(
            f"collector/otel-collector.yaml: expected one file exporter, found {len(files)}"
        )
    files[0]["path"] = traces_file
    _own_telemetry(col, ports["collector_metrics"])

    jae = _rewrite(copy.deepcopy(dict(jaeger)), "jaeger", ports)
    _own_telemetry(jae, ports["jaeger_metrics"])

    prom = _rewrite(copy.deepcopy(dict(prometheus)), "prometheus", ports)
    if scrape_interval is not None:
        prom.setdefault("global", {})["scrape_interval"] = scrape_interval
        prom["global"]["evaluation_interval"] = scrape_interval
        for connector, cfg in (col.get("connectors") or {}).items():
            if connector.split("/", 1)[0] == "span_metrics" and isinstance(cfg, dict):
                cfg["metrics_flush_interval"] = scrape_interval
    return LocalConfigs(col, jae, prom)


def parse_ports(pairs: list[str]) -> dict[str, int]:
    """``["otlp_grpc=5317", ...]`` -> the full port table; ValueError names a bad pair."""
    ports = dict(DEFAULT_PORTS)
    for pair in pairs:
        name, sep, number = pair.partition("=")
        if not sep or name not in DEFAULT_PORTS or not number.isdigit():
            raise ValueError(
                f"--port {pair}: expected NAME=PORT with NAME one of {', '.join(DEFAULT_PORTS)}"
            )
        port = int(number)
        if not 0 < port < 65536:
            raise ValueError(f"--port {pair}: {port} is not a TCP port")
        ports[name] = port
    return ports

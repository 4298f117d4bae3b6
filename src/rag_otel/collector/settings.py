"""The settings of the components the bundled stack uses: their keys and value types.

``otelcol validate`` rejects a key a component does not have (``has invalid keys``), a value
of the wrong type and an empty sending queue; `check_settings` reports the same for the
components below, so ``rag-otel collector check`` agrees with the real parser on them
(tests/collector/test_validate_live.py compares the two on good and bad configs). Components
not listed here are checked for their type only.

The key lists are the ``mapstructure`` tags of each component's ``Config`` in the pinned
release (collector core v0.165.0 / v1.71.0, contrib v0.165.1): ``confighttp`` and
``configgrpc`` ``ClientConfig``, ``exporterhelper``'s queue and timeout, ``configretry``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from yaml.nodes import MappingNode, Node, ScalarNode

from rag_otel.collector import components as comp
from rag_otel.collector.documents import Finding, items, line_of, scalar

_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$|^0$")


@dataclass(frozen=True, slots=True)
class Block:
    """A mapping of settings: its keys (None: not checked), typed scalars and nested blocks."""

    keys: frozenset[str] | None = None
    ints: frozenset[str] = frozenset()
    durations: frozenset[str] = frozenset()
    bools: frozenset[str] = frozenset()
    positive_when_enabled: frozenset[str] = frozenset()
    blocks: Mapping[str, Block] = field(default_factory=dict)


RETRY: Final = Block(
    keys=frozenset(
        {"enabled", "initial_interval", "randomization_factor", "multiplier", "max_interval",
         "max_elapsed_time"}
    ),
    durations=frozenset({"initial_interval", "max_interval", "max_elapsed_time"}),
    bools=frozenset({"enabled"}),
)  # fmt: skip
QUEUE: Final = Block(
    keys=frozenset(
        {"enabled", "wait_for_result", "sizer", "queue_size", "block_on_overflow", "storage",
         "num_consumers", "batch"}
    ),
    ints=frozenset({"queue_size", "num_consumers"}),
    bools=frozenset({"enabled", "wait_for_result", "block_on_overflow"}),
    positive_when_enabled=frozenset({"queue_size", "num_consumers"}),
)  # fmt: skip
_HELPER: Final = frozenset({"timeout", "sending_queue", "retry_on_failure"})
_HTTP_CLIENT: Final = frozenset(
    {"dialer_middleware", "endpoint", "proxy_url", "tls", "read_buffer_size", "write_buffer_size",
     "timeout", "headers", "auth", "compression", "compression_params", "max_conns_per_host",
     "http2_read_idle_timeout", "http2_ping_timeout", "cookies", "force_attempt_http2",
     "middlewares", "keepalive"}
)  # fmt: skip
_GRPC_CLIENT: Final = frozenset(
    {"auth", "authority", "balancer_name", "compression", "endpoint", "headers", "keepalive",
     "dialer_middleware", "middlewares", "read_buffer_size", "tls", "user_agent",
     "wait_for_ready", "write_buffer_size"}
)  # fmt: skip
# exporter/clickhouseexporter config.schema.yaml (its properties; exporterhelper's timeout
# and configretry's retry_on_failure, squashed in, are `_HELPER`) and config_auth.go (auth)
_CLICKHOUSE: Final = frozenset(
    {"async_insert", "auth", "cluster_name", "compress", "connection_params", "create_schema",
     "database", "endpoint", "json", "logs_table_name", "metrics_table_name", "metrics_tables",
     "password", "profiles_table_name", "table_engine", "tls", "traces_table_name", "ttl",
     "username"}
)  # fmt: skip
_EXPORTER_BLOCKS: Final = {"sending_queue": QUEUE, "retry_on_failure": RETRY}

SETTINGS: Final[dict[tuple[str, str], Block]] = {
    ("exporters", "otlp_http"): Block(
        keys=_HTTP_CLIENT
        | _HELPER
        | {"traces_endpoint", "metrics_endpoint", "logs_endpoint", "profiles_endpoint", "encoding"},
        ints=frozenset({"read_buffer_size", "write_buffer_size", "max_conns_per_host"}),
        durations=frozenset({"timeout"}),
        blocks=_EXPORTER_BLOCKS,
    ),
    ("exporters", "otlp_grpc"): Block(
        keys=_GRPC_CLIENT | _HELPER,
        ints=frozenset({"read_buffer_size", "write_buffer_size"}),
        durations=frozenset({"timeout"}),
        blocks=_EXPORTER_BLOCKS,
    ),
    ("exporters", "clickhouse"): Block(
        keys=_CLICKHOUSE | _HELPER,
        durations=frozenset({"timeout"}),
        blocks=_EXPORTER_BLOCKS,
    ),
    ("processors", "batch"): Block(
        keys=frozenset(
            {
                "timeout",
                "send_batch_size",
                "send_batch_max_size",
                "metadata_keys",
                "metadata_cardinality_limit",
            }
        ),
        ints=frozenset({"send_batch_size", "send_batch_max_size", "metadata_cardinality_limit"}),
        durations=frozenset({"timeout"}),
    ),
    ("processors", "memory_limiter"): Block(
        keys=frozenset(
            {
                "check_interval",
                "min_gc_interval_when_soft_limited",
                "min_gc_interval_when_hard_limited",
                "max_gc_interval_when_soft_limited",
                "max_gc_interval_when_hard_limited",
                "limit_mib",
                "spike_limit_mib",
                "limit_percentage",
                "spike_limit_percentage",
            }
        ),
        ints=frozenset(
            {"limit_mib", "spike_limit_mib", "limit_percentage", "spike_limit_percentage"}
        ),
        durations=frozenset({"check_interval"}),
    ),
}
# the deprecated names load the same component
SETTINGS[("exporters", "otlp")] = SETTINGS[("exporters", "otlp_grpc")]
SETTINGS[("exporters", "otlphttp")] = SETTINGS[("exporters", "otlp_http")]


def _templated(value: str) -> bool:
    return "${" in value or value.startswith("$")


def _check_block(path: str, where: str, node: Node, block: Block, found: list[Finding]) -> None:
    if not isinstance(node, MappingNode):
        return
    enabled = True
    for key, knode, value in items(node):
        text = scalar(value)
        if block.keys is not None and key not in block.keys:
            found.append(
                Finding(
                    path,
                    line_of(knode),
                    "error",
                    f"{where}: '{key}' is not one of its settings (the Collector refuses "
                    f"invalid keys; it knows: {', '.join(sorted(block.keys))})",
                )
            )
            continue
        if text is None or _templated(text) or not isinstance(value, ScalarNode):
            if key in block.blocks:
                _check_block(path, f"{where}.{key}", value, block.blocks[key], found)
            continue
        if key in block.ints and not re.fullmatch(r"-?\d+", text):
            found.append(
                Finding(
                    path,
                    line_of(value),
                    "error",
                    f"{where}.{key}: expected an integer, got '{text}'",
                )
            )
        elif key in block.durations and not (_DURATION.match(text) or re.fullmatch(r"\d+", text)):
            found.append(
                Finding(
                    path,
                    line_of(value),
                    "error",
                    f"{where}.{key}: expected a duration such as 5s or 200ms, got '{text}'",
                )
            )
        elif key in block.bools and text.lower() not in ("true", "false"):
            found.append(
                Finding(
                    path,
                    line_of(value),
                    "error",
                    f"{where}.{key}: expected true or false, got '{text}'",
                )
            )
        if key == "enabled" and text.lower() == "false":
            enabled = False
    if enabled:
        for key, _, value in items(node):
            text = scalar(value)
            if (
                key in block.positive_when_enabled
                and text is not None
                and re.fullmatch(r"-?\d+", text)
                and int(text) <= 0
            ):
                found.append(
                    Finding(
                        path,
                        line_of(value),
                        "error",
                        f"{where}.{key}: must be positive (got {text})",
                    )
                )


def check_settings(bodies: Mapping[str, Mapping[str, tuple[str, Node]]]) -> list[Finding]:
    """Findings for every component with a known settings table.

    `bodies`: kind -> component id -> (file name, the node of its settings)."""
    found: list[Finding] = []
    for kind, by_id in bodies.items():
        for cid, (path, node) in by_id.items():
            block = SETTINGS.get((kind, comp.component_type(cid)))
            if block is not None:
                _check_block(path, f"{kind[:-1]} '{cid}'", node, block, found)
    return found

"""Where an OTLP exporter sends, resolved from public inputs, and a quick "is it up?" check.

Shutdown uses ``check()`` to tell a collector that refuses connections (nothing queued can be
delivered: stop at once) from one that accepts and is slow (wait, up to the export timeout).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from rag_otel._config import env_first

DEFAULT_EXPORT_TIMEOUT_S: Final = 10.0
DEFAULT_HTTP_ENDPOINT: Final = "http://localhost:4318"
DEFAULT_GRPC_ENDPOINT: Final = "localhost:4317"

REFUSED: Final = "refused"
UNREACHABLE: Final = "unreachable"
TIMED_OUT: Final = "timed out"


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def export_timeout_seconds(signal: str) -> float:
    """``OTEL_EXPORTER_OTLP_<SIGNAL>_TIMEOUT`` else ``OTEL_EXPORTER_OTLP_TIMEOUT`` (seconds, as
    the Python SDK reads them), else 10."""
    raw = env_first(f"OTEL_EXPORTER_OTLP_{signal.upper()}_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")
    try:
        value = float(raw) if raw is not None else DEFAULT_EXPORT_TIMEOUT_S
    except ValueError:
        return DEFAULT_EXPORT_TIMEOUT_S
    return value if value > 0 else DEFAULT_EXPORT_TIMEOUT_S


def http_endpoint(endpoint: str | None, signal: str) -> str:
    """The URL the SDK's OTLP/HTTP exporter posts ``signal`` (``traces``, ``metrics``) to.

    An explicit ``endpoint`` gets ``/v1/<signal>`` appended unless it ends so, as
    ``OTEL_EXPORTER_OTLP_ENDPOINT`` does."""
    path = f"/v1/{signal}"
    if endpoint is not None:
        base = endpoint.rstrip("/")
        return base if base.endswith(path) else base + path
    specific = os.environ.get(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", "").strip()
    if specific:
        return specific
    base = env_first("OTEL_EXPORTER_OTLP_ENDPOINT") or DEFAULT_HTTP_ENDPOINT
    return base.rstrip("/") + path


def grpc_endpoint(endpoint: str | None, signal: str) -> str:
    """The ``[scheme://]host:port`` the SDK's OTLP/gRPC exporter connects to for ``signal``."""
    return (
        endpoint
        or env_first(f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
        or DEFAULT_GRPC_ENDPOINT
    )


def address(endpoint: str) -> Address | None:
    """Host and TCP port of an endpoint URL or ``host:port``; None when there is none (unix:)."""
    try:
        parts = urlsplit(endpoint if "//" in endpoint else f"//{endpoint}")
        if parts.scheme not in ("", "http", "https", "grpc") or not parts.hostname:
            return None
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    return Address(host=parts.hostname, port=port)


def check(where: Address, timeout_s: float) -> str | None:
    """``"refused"`` / ``"unreachable"`` when a TCP connection to ``where`` fails at once;
    None when it connects (or does not answer within ``timeout_s``: slow, not refused)."""
    try:
        with socket.create_connection((where.host, where.port), timeout=max(0.05, timeout_s)):
            return None
    except ConnectionRefusedError:
        return REFUSED
    except TimeoutError:
        return None
    except OSError:  # unresolvable name, no route
        return UNREACHABLE

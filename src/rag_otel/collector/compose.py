"""docker compose files: ports bound to loopback, pinned images, mounts that exist."""

from __future__ import annotations

import re
from pathlib import Path

from yaml.nodes import MappingNode, Node

from rag_otel.collector.documents import (
    Document,
    Finding,
    display,
    get,
    items,
    line_of,
    scalar,
    sequence,
)

_LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def _split_port(spec: str) -> tuple[str | None, str]:
    """Host IP (None when absent) and the rest of a short-syntax port mapping."""
    spec = spec.split("/", 1)[0]
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]:")
        return host, rest
    parts = spec.split(":")
    if len(parts) == 3:
        return parts[0], ":".join(parts[1:])
    return None, spec


def _image_pinned(image: str) -> str | None:
    """None when pinned, else why not."""
    if "@sha256:" in image:
        return None
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag (pulls :latest)"
    tag = last.split(":", 1)[1]
    if tag == "latest":
        return "uses the moving tag :latest"
    env = re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*(?::?-(?P<default>[^}]*))?\}", tag)
    if env:
        default = env.group("default")
        if not default:
            return f"takes its tag from {tag} with no pinned default"
        if default == "latest":
            return "defaults to the moving tag :latest"
    return None


def check_compose(doc: Document) -> tuple[list[Finding], list[Path]]:
    """Findings for a compose file, and the YAML files it bind-mounts (to check next)."""
    found: list[Finding] = []
    mounted: list[Path] = []
    base = doc.path.parent
    declared_volumes = {k for k, _, _ in items(get(doc.root, "volumes"))}
    for service, _, body in items(get(doc.root, "services")):
        image_node = get(body, "image")
        image = scalar(image_node)
        if image_node is not None and image is not None:
            why = _image_pinned(image)
            if why:
                found.append(
                    Finding(
                        doc.name,
                        line_of(image_node),
                        "error",
                        f"service '{service}': image {image} {why}; pin a version",
                    )
                )
        for port in sequence(get(body, "ports")):
            found.extend(_port_finding(doc, service, port))
        for volume in sequence(get(body, "volumes")):
            finding, path = _volume(doc, service, volume, base, declared_volumes)
            if finding:
                found.append(finding)
            if path is not None and path.is_file() and path.suffix in (".yaml", ".yml"):
                mounted.append(path)
    return found, mounted


def _port_finding(doc: Document, service: str, port: Node) -> list[Finding]:
    if isinstance(port, MappingNode):
        host = scalar(get(port, "host_ip"))
        label = scalar(get(port, "published")) or scalar(get(port, "target")) or "?"
    else:
        spec = scalar(port) or ""
        host, rest = _split_port(spec)
        label = rest.split(":", 1)[0]
    if host in _LOOPBACK:
        return []
    if host is None:
        why = "has no host IP, so it is published on every interface"
    elif host in ("0.0.0.0", "::", "[::]"):
        why = f"is bound to {host} (every interface)"
    else:
        return []
    return [
        Finding(
            doc.name,
            line_of(port),
            "warning",
            f"service '{service}': port {label} {why}; bind it to 127.0.0.1 "
            f'(e.g. "127.0.0.1:{label}:...")',
        )
    ]


def _volume(
    doc: Document, service: str, volume: Node, base: Path, declared: set[str]
) -> tuple[Finding | None, Path | None]:
    if isinstance(volume, MappingNode):
        vtype = scalar(get(volume, "type")) or "volume"
        source = scalar(get(volume, "source"))
        if source is None or vtype not in ("bind", "volume"):
            return None, None
        bind = vtype == "bind"
    else:
        spec = scalar(volume) or ""
        if ":" not in spec:
            return None, None  # anonymous volume
        source = spec.split(":", 1)[0]
        bind = source.startswith((".", "/", "~"))
    if "$" in source:
        return None, None  # depends on the environment
    if not bind:
        if source not in declared:
            return (
                Finding(
                    doc.name,
                    line_of(volume),
                    "error",
                    f"service '{service}': named volume '{source}' is not declared under "
                    "top-level volumes",
                ),
                None,
            )
        return None, None
    path = Path(source).expanduser()
    if not path.is_absolute():
        path = base / path
    if not path.exists():
        return (
            Finding(
                doc.name,
                line_of(volume),
                "error",
                f"service '{service}': mounted path {source} does not exist "
                f"(relative to {display(base) or '.'})",
            ),
            None,
        )
    return None, path

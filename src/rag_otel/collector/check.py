"""Static checks for a Collector + Jaeger + Prometheus stack, without running any of it.

Usage (the CLI is ``rag-otel collector check [PATHS]``)::

    from rag_otel.collector.check import check_paths
    for finding in check_paths(["docker-compose.yml"]):
        print(finding)          # docker-compose.yml:12: warning: port 4317 is published on every interface ...

Each file is recognised by its content: a compose file (``services:``), an OpenTelemetry
Collector or Jaeger v2 config (``receivers:``/``exporters:``/``service:``), a Prometheus
config (``scrape_configs:``). A compose file also brings in the YAML files it bind-mounts.
Overlay configs (a file passed with a second ``--config``) are checked merged onto a base
config, as the Collector merges them.

The checks are pure functions of the files' text; each finding names the file, the line
(from the YAML node marks) and what is wrong. ``UnreadableInput`` is raised for a file that
cannot be read at all (missing, not text); a YAML syntax error is a finding, not an exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from yaml.nodes import MappingNode

from rag_otel.collector import components as comp
from rag_otel.collector.compose import check_compose
from rag_otel.collector.documents import (
    Document,
    Finding,
    UnreadableInput,
    display,
    get,
    items,
    load,
)
from rag_otel.collector.environment import credential_findings, env_findings
from rag_otel.collector.pipelines import CollectorModel, check_collector, check_jaeger_storage
from rag_otel.collector.prometheus import check_prometheus
from rag_otel.collector.stack import (
    COLLECTOR_CONFIG,
    COLLECTOR_OVERLAYS,
    COMPOSE_FILE,
    is_stack,
    stack_root,
)

__all__ = [
    "Bundle",
    "Finding",
    "UnreadableInput",
    "bundle_at",
    "bundled_stack",
    "check_document",
    "check_paths",
    "classify",
    "has_errors",
]

FileKind = Literal["compose", "collector", "jaeger", "prometheus", "unknown"]


def classify(doc: Document) -> FileKind:
    root = doc.root
    keys = {k for k, _, _ in items(root)}
    if "services" in keys and isinstance(get(root, "services"), MappingNode):
        return "compose"
    if "scrape_configs" in keys or ("global" in keys and "rule_files" in keys):
        return "prometheus"
    if keys & {"receivers", "exporters", "processors", "connectors", "extensions", "service"}:
        ids = {
            comp.component_type(name)
            for kind in comp.KINDS
            for name, _, _ in items(get(root, kind))
        }
        return "jaeger" if ids & comp.JAEGER_MARKERS else "collector"
    return "unknown"


# --- putting it together --------------------------------------------------------------------------


def check_document(
    doc: Document,
    *,
    base: Document | None = None,
    extra_docs: Sequence[Path] = (),
) -> tuple[list[Finding], list[Path]]:
    """Findings for one parsed file (merged onto `base` when it is a Collector overlay)."""
    if doc.parse_error:
        return [doc.parse_error], []
    if doc.root is None:
        return [Finding(doc.name, 0, "warning", "file is empty")], []
    kind = classify(doc)
    found: list[Finding] = credential_findings(doc)
    mounted: list[Path] = []
    if kind == "compose":
        compose_found, mounted = check_compose(doc)
        found += compose_found
        found += env_findings(doc, bare=True, extra_docs=extra_docs)
    elif kind in ("collector", "jaeger"):
        model = CollectorModel()
        if base is not None and base.root is not None and base.path != doc.path:
            model.add(base)
        model.add(doc)
        # merged onto a base, report only what is in the overlay (the base is checked on its own)
        found += [
            f
            for f in check_collector(model, jaeger=kind == "jaeger")
            if base is None or f.path == doc.name
        ]
        if kind == "jaeger":
            found += check_jaeger_storage(doc)
        found += env_findings(doc, bare=False, extra_docs=extra_docs)
    elif kind == "prometheus":
        found += check_prometheus(doc)
    else:
        found.append(
            Finding(
                doc.name,
                0,
                "warning",
                "not recognised as a compose, Collector, Jaeger or Prometheus file; not checked",
            )
        )
    return found, mounted


def check_paths(
    paths: Iterable[Path | str],
    *,
    base: Path | str | None = None,
    overlays: Iterable[Path | str] = (),
    extra_docs: Sequence[Path] = (),
) -> list[Finding]:
    """Check files (a directory means its *.yaml/*.yml files); compose files bring in their mounts.

    `overlays` are Collector config fragments checked merged onto `base`, as
    ``otelcol --config base --config overlay`` would load them. Raises UnreadableInput.
    """
    base_doc = load(Path(base)) if base is not None else None
    queue: list[tuple[Path, bool]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted([*path.glob("*.yaml"), *path.glob("*.yml")])
            if not files:
                raise UnreadableInput(f"{display(path)}: directory holds no *.yaml or *.yml file")
            queue += [(f, False) for f in files]
        else:
            queue.append((path, False))
    queue += [(Path(o), True) for o in overlays]

    seen: set[Path] = set()
    findings: list[Finding] = []
    while queue:
        path, is_overlay = queue.pop(0)
        key = path.resolve()
        if key in seen:
            continue
        seen.add(key)
        doc = load(path)
        found, mounted = check_document(
            doc, base=base_doc if is_overlay else None, extra_docs=extra_docs
        )
        findings += found
        queue += [(m, False) for m in mounted if m.resolve() not in seen]
    return sorted(set(findings), key=lambda f: (f.path, f.line, f.severity, f.message))


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)


# --- the stack this repository ships --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bundle:
    root: Path
    files: tuple[Path, ...]
    base: Path
    overlays: tuple[Path, ...]


def bundle_at(root: Path) -> Bundle | None:
    """The stack in `root` (as ``rag-otel collector init`` writes it), or None if it is not one."""
    if not is_stack(root):
        return None
    files = [root / COMPOSE_FILE, *sorted(root.glob("docker-compose.*.yml"))]
    overlays = (
        *sorted((root / "collector" / "vendors").glob("*.yaml")),
        *(root / o for o in COLLECTOR_OVERLAYS if (root / o).is_file()),
    )
    files += [p for p in sorted((root / "collector").glob("*.yaml")) if p not in overlays]
    return Bundle(root, tuple(files), root / COLLECTOR_CONFIG, overlays)


def bundled_stack() -> Bundle | None:
    """The stack shipped with rag-otel: in the wheel, or at the root of a source checkout."""
    root = stack_root()
    return None if root is None else bundle_at(root)

"""Collector and Jaeger v2 configs: pipelines, connectors, component types, known pitfalls.

Several files merge into one `CollectorModel` the way ``otelcol --config a --config b`` merges
them (components by id, a pipeline's lists replaced by the later file), so an overlay is
checked against the base it extends; every reference keeps the file and node it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from yaml.nodes import Node

from rag_otel.collector import components as comp
from rag_otel.collector.documents import (
    Document,
    Finding,
    Severity,
    get,
    items,
    line_of,
    scalar,
    sequence,
)
from rag_otel.collector.settings import check_settings

PIPELINE_SIGNALS = ("traces", "metrics", "logs", "profiles")


@dataclass(slots=True)
class Ref:
    doc: Document
    node: Node

    @property
    def name(self) -> str:
        return scalar(self.node) or ""


@dataclass(slots=True)
class Pipeline:
    doc: Document
    key: Node
    lists: dict[str, list[Ref]] = field(default_factory=dict)


@dataclass(slots=True)
class CollectorModel:
    """One or more Collector config files merged the way ``--config a --config b`` merges them."""

    components: dict[str, dict[str, Ref]] = field(default_factory=dict)
    """kind -> component id -> the key node that defines it."""
    bodies: dict[str, dict[str, Ref]] = field(default_factory=dict)
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    extensions: list[Ref] | None = None
    docs: list[Document] = field(default_factory=list)

    def add(self, doc: Document) -> None:
        self.docs.append(doc)
        root = doc.root
        for kind in comp.KINDS:
            for name, knode, value in items(get(root, kind)):
                self.components.setdefault(kind, {})[name] = Ref(doc, knode)
                self.bodies.setdefault(kind, {})[name] = Ref(doc, value)
        service = get(root, "service")
        ext = get(service, "extensions")
        if ext is not None:
            self.extensions = [Ref(doc, n) for n in sequence(ext)]
        for pid, knode, body in items(get(service, "pipelines")):
            pipeline = self.pipelines.setdefault(pid, Pipeline(doc, knode))
            pipeline.doc, pipeline.key = doc, knode
            for role in ("receivers", "processors", "exporters"):
                refs = get(body, role)
                if refs is not None:
                    pipeline.lists[role] = [Ref(doc, n) for n in sequence(refs)]


def _finding(ref: Ref, severity: Severity, message: str) -> Finding:
    return Finding(ref.doc.name, line_of(ref.node), severity, message)


def check_collector(model: CollectorModel, *, jaeger: bool = False) -> list[Finding]:
    """Pipelines, component types, connectors and Collector pitfalls of one (merged) config."""
    found: list[Finding] = []
    allowed = comp.JAEGER_ALLOWED if jaeger else comp.ALLOWED
    product = (
        f"Jaeger {comp.JAEGER_PINNED_IMAGE}" if jaeger else f"otelcol-contrib {comp.PINNED_RELEASE}"
    )
    unknown_severity: Severity = "warning" if jaeger else "error"

    # component types
    for kind in comp.KINDS:
        for cid, ref in model.components.get(kind, {}).items():
            ctype = comp.component_type(cid)
            singular = kind[:-1]
            if ctype in comp.DEPRECATED[kind]:
                new = comp.DEPRECATED[kind][ctype]
                found.append(
                    _finding(
                        ref,
                        "warning",
                        f"{singular} type '{ctype}' is a deprecated alias; rename '{cid}' to "
                        f"'{new}{cid[len(ctype) :]}'",
                    )
                )
            elif ctype in comp.REMOVED[kind]:
                found.append(
                    _finding(
                        ref,
                        "error",
                        f"{singular} type '{ctype}' was removed from the Collector; use "
                        f"{comp.REMOVED[kind][ctype]}",
                    )
                )
            elif ctype not in allowed[kind]:
                found.append(
                    _finding(
                        ref,
                        unknown_severity,
                        f"unknown {singular} type '{ctype}' (not in {product}; the list of "
                        "allowed types is in rag_otel/collector/components.py)",
                    )
                )

    # pipelines
    used: dict[str, set[str]] = {kind: set() for kind in comp.KINDS}
    connector_as_exporter: set[str] = set()
    connector_as_receiver: set[str] = set()
    connectors = model.components.get("connectors", {})
    if not model.pipelines and model.docs and get(model.docs[-1].root, "service") is not None:
        found.append(
            Finding(model.docs[-1].name, 0, "error", "service.pipelines defines no pipeline")
        )
    for pid, pipeline in model.pipelines.items():
        signal = pid.split("/", 1)[0]
        pref = Ref(pipeline.doc, pipeline.key)
        if signal not in PIPELINE_SIGNALS:
            found.append(
                _finding(
                    pref,
                    "error",
                    f"pipeline '{pid}': '{signal}' is not a signal (one of {', '.join(PIPELINE_SIGNALS)})",
                )
            )
        for role in ("receivers", "processors", "exporters"):
            refs = pipeline.lists.get(role, [])
            if role != "processors" and not refs:
                found.append(_finding(pref, "error", f"pipeline '{pid}' has no {role}"))
            defined = model.components.get(role, {})
            for ref in refs:
                name = ref.name
                if role != "processors" and name in connectors:
                    used["connectors"].add(name)
                    (connector_as_receiver if role == "receivers" else connector_as_exporter).add(
                        name
                    )
                    continue
                if name not in defined:
                    extra = " or connectors" if role != "processors" else ""
                    found.append(
                        _finding(
                            ref,
                            "error",
                            f"pipeline '{pid}' uses {role[:-1]} '{name}', which is not defined "
                            f"under {role}{extra}",
                        )
                    )
                    continue
                used[role].add(name)
        processors = [r.name for r in pipeline.lists.get("processors", [])]
        for index, name in enumerate(processors):
            if comp.component_type(name) == "memory_limiter" and index != 0:
                ref = pipeline.lists["processors"][index]
                found.append(
                    _finding(
                        ref,
                        "warning",
                        f"pipeline '{pid}': memory_limiter should be the first processor",
                    )
                )

    for name, ref in connectors.items():
        if name in connector_as_exporter and name not in connector_as_receiver:
            found.append(
                _finding(
                    ref,
                    "error",
                    f"connector '{name}' is used as an exporter but no pipeline receives from it",
                )
            )
        elif name in connector_as_receiver and name not in connector_as_exporter:
            found.append(
                _finding(
                    ref,
                    "error",
                    f"connector '{name}' is used as a receiver but no pipeline exports to it",
                )
            )

    # extensions
    ext_refs = model.extensions or []
    for ref in ext_refs:
        if ref.name not in model.components.get("extensions", {}):
            found.append(
                _finding(
                    ref,
                    "error",
                    f"service.extensions lists '{ref.name}', which is not defined under extensions",
                )
            )
        used["extensions"].add(ref.name)

    # defined but unused
    for kind in comp.KINDS:
        for cid, ref in model.components.get(kind, {}).items():
            if cid not in used[kind]:
                where = "service.extensions" if kind == "extensions" else "any pipeline"
                found.append(
                    _finding(
                        ref, "warning", f"{kind[:-1]} '{cid}' is defined but not used in {where}"
                    )
                )

    found.extend(_component_pitfalls(model))
    if not jaeger:
        found.extend(
            check_settings(
                {
                    kind: {cid: (ref.doc.name, ref.node) for cid, ref in by_id.items()}
                    for kind, by_id in model.bodies.items()
                }
            )
        )
    return found


def _component_pitfalls(model: CollectorModel) -> list[Finding]:
    found: list[Finding] = []
    for cid, body in model.bodies.get("exporters", {}).items():
        if comp.component_type(cid) != "file":
            continue
        key = model.components["exporters"][cid]
        appends = scalar(get(body.node, "append")) in ("true", "True")
        rotates = get(body.node, "rotation") is not None
        if appends and rotates:
            found.append(
                _finding(
                    key,
                    "error",
                    f"exporter '{cid}': append and rotation cannot be set together (the "
                    "Collector refuses it); rotation already reopens the file for appending",
                )
            )
        elif not appends and not rotates:
            found.append(
                _finding(
                    key,
                    "warning",
                    f"exporter '{cid}': append is false by default, which truncates the file "
                    "at every Collector start; set append: true (or rotation)",
                )
            )
    for cid, body in model.bodies.get("connectors", {}).items():
        if comp.component_type(cid) in ("span_metrics", "spanmetrics"):
            unit = scalar(get(get(body.node, "histogram"), "unit"))
            if unit is None:
                key = model.components["connectors"][cid]
                found.append(
                    _finding(
                        key,
                        "warning",
                        f"connector '{cid}': set histogram.unit explicitly (ms for Jaeger's "
                        "Monitor tab); a feature gate moves the default to seconds",
                    )
                )
    return found


def check_jaeger_storage(doc: Document) -> list[Finding]:
    """jaeger_query and jaeger_storage_exporter name backends that jaeger_storage defines."""
    found: list[Finding] = []
    extensions = get(doc.root, "extensions")
    storage = None
    query = None
    for name, _, body in items(extensions):
        if comp.component_type(name) == "jaeger_storage":
            storage = body
        elif comp.component_type(name) == "jaeger_query":
            query = body
    traces = {k for k, _, _ in items(get(storage, "backends"))}
    metrics = {k for k, _, _ in items(get(storage, "metric_backends"))}

    def need(node: Node | None, names: set[str], what: str) -> None:
        value = scalar(node)
        if node is not None and value is not None and value not in names:
            found.append(
                Finding(
                    doc.name,
                    line_of(node),
                    "error",
                    f"{what} '{value}' is not defined under jaeger_storage "
                    f"({'metric_backends' if names is metrics else 'backends'})",
                )
            )

    qstorage = get(query, "storage")
    need(get(qstorage, "traces"), traces, "jaeger_query storage.traces")
    need(get(qstorage, "traces_archive"), traces, "jaeger_query storage.traces_archive")
    need(get(qstorage, "metrics"), metrics, "jaeger_query storage.metrics")
    for name, _, body in items(get(doc.root, "exporters")):
        if comp.component_type(name) == "jaeger_storage_exporter":
            need(get(body, "trace_storage"), traces, f"exporter '{name}' trace_storage")
    return found

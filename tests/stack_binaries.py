"""The real Collector, Jaeger and Prometheus binaries for the end-to-end stack tests, and what
the distribution recipe (collector/distribution/) and the bundled configs name.

``python3 dev.py test`` builds ``otelcol`` and ``jaeger`` with ``dev.py stack-binaries`` into
``~/.cache/rag-otel-stack/bin`` and passes that folder as RAG_OTEL_STACK_BIN; Prometheus is
Debian's (``apt-get install prometheus``) on PATH. Without them the tests that need them skip,
saying so in one line.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
import yaml

from rag_otel.collector import components as comp
from rag_otel.collector.check import classify
from rag_otel.collector.documents import load

BIN_DIR = Path(os.environ.get("RAG_OTEL_STACK_BIN", Path.home() / ".cache/rag-otel-stack/bin"))


def binary(name: str) -> Path:
    """`name` from the stack-binaries folder, else PATH; skips the test when missing."""
    candidate = BIN_DIR / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which(name)
    if found is None:
        pytest.skip(
            f"{name} not built: python3 dev.py stack-binaries {BIN_DIR} (needs Go and its "
            "module proxy)"
            if name in ("otelcol", "jaeger")
            else f"{name} not on PATH (apt-get install {name})"
        )
    return Path(found)


REPO = Path(__file__).resolve().parents[1]
DISTRIBUTION = REPO / "collector" / "distribution"
KIND_OF = {
    "receiver": "receivers",
    "processor": "processors",
    "exporter": "exporters",
    "connector": "connectors",
    "extension": "extensions",
}
ALWAYS = {("exporters", "clickhouse")}
"""In the distribution even before a bundled config names it (contract 5: ClickHouse)."""
NOT_BUILDABLE = {("exporters", "datadog"), ("connectors", "datadog")}
"""Used by collector/vendors/datadog.yaml, but the Go module proxy serves no v0.165.x of
datadogexporter / datadogconnector: that overlay needs the released otelcol-contrib."""
CORE_RELEASES = {"v0.165.0", "v1.71.0"}
CONTRIB_RELEASE = "v0.165.1"
JAEGER_RELEASE = "2.12.0"  # Jaeger v2 release of the module version v1.75.0


def recipe_components() -> set[tuple[str, str]]:
    """(kind, type) from the `// kind: type` comment on each factory in main.go."""
    text = (DISTRIBUTION / "main.go").read_text()
    found = re.findall(r"\.NewFactory\(\),\s*// (\w+): (\w+)", text)
    assert found, "no `NewFactory(), // kind: type` lines in main.go"
    return {(KIND_OF[kind], name) for kind, name in found}


def collector_configs() -> list[Path]:
    """Every Collector config the stack ships (Jaeger's and Prometheus' are other programs)."""
    files = sorted((REPO / "collector").glob("*.yaml"))
    files += sorted((REPO / "collector" / "vendors").glob("*.yaml"))
    return [f for f in files if classify(load(f)) == "collector"]


def config_components(path: Path) -> set[tuple[str, str]]:
    data = yaml.safe_load(path.read_text()) or {}
    return {
        (kind, comp.component_type(str(name)))
        for kind in comp.KINDS
        for name in (data.get(kind) or {})
    }

"""Reading metric points back, and a clean-subprocess runner, for the metrics tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Point:
    attributes: dict[str, Any]
    count: int
    sum: float
    data: Any


def points(reader: InMemoryMetricReader, name: str) -> list[Point]:
    """The data points of metric ``name`` in one collection of ``reader``."""
    data = reader.get_metrics_data()
    found: list[Point] = []
    if data is None:
        return found
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                if metric.name == name:
                    found.extend(
                        Point(dict(p.attributes or {}), p.count, p.sum, p)
                        for p in metric.data.data_points
                    )
    return found


def by_stage(found: list[Point]) -> dict[tuple[str, str | None], Point]:
    """Points keyed by (rag.stage, error.type)."""
    return {(p.attributes.get("rag.stage", ""), p.attributes.get("error.type")): p for p in found}


def run_python(
    code: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (no provider installed), OTEL_*/RAG_OTEL_* scrubbed."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAG_OTEL_"))}
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=base,
        cwd=ROOT,
        timeout=timeout,
    )

"""Reading metric points back, for the metrics tests."""

from __future__ import annotations

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

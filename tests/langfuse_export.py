"""Langfuse observations exports made with the langfuse package's own API models.

The JSON is what ``ObservationsV2Response.json()`` writes (the model behind Langfuse's
``GET /api/public/v2/observations``), so field names, aliases and timestamp formats are
Langfuse's, not typed by hand. Two traces:

- ``TRACE_OTEL``: observations as Langfuse stores spans its SDK (v3+) sent over OTLP: hex
  ids, one root ``SPAN`` ``rag-pipeline`` with an ``EMBEDDING``, a ``RETRIEVER``, an
  ``EVENT`` and a ``GENERATION`` (model, ``completionStartTime``) below it, metadata holding
  the OTel resource and span attributes, ``traceName`` ``faq``;
- ``TRACE_V2``: a trace as the v2 SDK made them: UUID observation ids, a free-form trace
  id, two top-level observations (a ``SPAN`` and a ``GENERATION`` at level ``ERROR``).

Run as a script to (re)write the committed fixture:
``python tests/langfuse_export.py tests/fixtures/traces/langfuse-5.0.4_observations-v2.json``
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from langfuse.api.commons.types.observation_v2 import ObservationV2
from langfuse.api.observations.types import ObservationsV2Meta, ObservationsV2Response
from langfuse.api.utils.pagination.types.meta_response import MetaResponse

T0 = dt.datetime(2026, 12, 1, 10, 0, 0, tzinfo=dt.timezone.utc)
TRACE_OTEL = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACE_V2 = "faq-turn-2"
ROOT_ID = "00f067aa0ba902b7"
PROJECT = "cm-rag-otel-tests"


def at(ms: float) -> dt.datetime:
    return T0 + dt.timedelta(milliseconds=ms)


def _otel(
    id: str, name: str, type: str, start_ms: float, end_ms: float | None, **fields: Any
) -> ObservationV2:
    return ObservationV2(
        id=id,
        trace_id=TRACE_OTEL,
        project_id=PROJECT,
        type=type,
        name=name,
        start_time=at(start_ms),
        end_time=None if end_ms is None else at(end_ms),
        parent_observation_id=None if id == ROOT_ID else ROOT_ID,
        level="DEFAULT",
        trace_name="faq",
        environment="default",
        **fields,
    )


def observations() -> list[ObservationV2]:
    resource = {"service.name": "faq-bot", "telemetry.sdk.language": "python"}
    return [
        _otel(
            ROOT_ID,
            "rag-pipeline",
            "SPAN",
            0,
            1000,
            is_root_observation=True,
            metadata={"resourceAttributes": resource, "scope": {"name": "langfuse-sdk"}},
        ),
        _otel(
            "b7ad6b7169203331",
            "embed",
            "EMBEDDING",
            1,
            80,
            model="text-embedding-3-small",
            metadata={
                "resourceAttributes": resource,
                "attributes": {"gen_ai.operation.name": "embeddings"},
            },
        ),
        _otel(
            "c7ad6b7169203332",
            "retrieve",
            "RETRIEVER",
            80,
            300,
            metadata={"resourceAttributes": resource, "top_k": 5, "filters": {"lang": "en"}},
        ),
        _otel("d7ad6b7169203333", "cache-miss", "EVENT", 90, None),
        _otel(
            "e7ad6b7169203334",
            "generate",
            "GENERATION",
            300,
            990,
            model="gpt-4o-mini",
            completion_start_time=at(420),
            usage_details={"input": 812, "output": 64},
            metadata={"resourceAttributes": resource},
        ),
        ObservationV2(
            id="0b9e8c1e-6d0a-4f8e-9d65-1f4c1a2b3c4d",
            trace_id=TRACE_V2,
            project_id=PROJECT,
            type="SPAN",
            name="retrieval",
            start_time=at(2000),
            end_time=at(2150),
            level="DEFAULT",
        ),
        ObservationV2(
            id="5c2d7e3f-8a9b-4c0d-9e1f-2a3b4c5d6e7f",
            trace_id=TRACE_V2,
            project_id=PROJECT,
            type="GENERATION",
            name="llm",
            start_time=at(2150),
            end_time=at(2900),
            level="ERROR",
            status_message="rate limited",
            model="gpt-4o-mini",
        ),
    ]


def export_v2(items: list[ObservationV2] | None = None, cursor: str | None = None) -> str:
    """``GET /api/public/v2/observations``'s answer (cursor paging)."""
    meta = ObservationsV2Meta(cursor=cursor) if cursor else ObservationsV2Meta()
    return ObservationsV2Response(data=observations() if items is None else items, meta=meta).json()


def export_v1(items: list[ObservationV2] | None = None, page: int = 1, pages: int = 1) -> str:
    """The v1 ``GET /api/public/observations`` envelope: ``meta`` with page numbers."""
    data = observations() if items is None else items
    meta = MetaResponse(page=page, limit=50, total_items=len(data), total_pages=pages)
    return json.dumps(
        {"data": [json.loads(o.json()) for o in data], "meta": json.loads(meta.json())}
    )


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(export_v2() + "\n")

"""Spans and duration metrics agree on what counts as an error, and on its ``error.type``.

One rule (``rag_otel._outcome``) decides both: a stage that raises gets the same ``error.type``
on its span and on its ``rag.stage.duration`` sample; cancellation, early close and
interpreter exit leave both without one (the span marked cancelled or closed early instead).
"""

from __future__ import annotations

import asyncio
import json

import pytest
from metrics_helpers import points
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import rag_otel
from rag_otel import semconv as sc


class PipelineError(Exception):
    class Timeout(Exception):
        pass


class CancelledByUser(asyncio.CancelledError):
    pass


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ValueError, "ValueError"),
        (json.JSONDecodeError, "json.decoder.JSONDecodeError"),
        (PipelineError.Timeout, f"{__name__}.PipelineError.Timeout"),
        (asyncio.CancelledError, None),
        (CancelledByUser, None),
        (GeneratorExit, None),
        (KeyboardInterrupt, None),
        (SystemExit, None),
    ],
)
def test_span_and_metric_agree_on_error_type(
    error: type[BaseException],
    expected: str | None,
    metric_reader: InMemoryMetricReader,
    span_exporter: InMemorySpanExporter,
) -> None:
    instance = error("bad", "doc", 0) if error is json.JSONDecodeError else error()
    with pytest.raises(error), rag_otel.stage("judged", kind="retrieval"):
        raise instance

    [span] = span_exporter.get_finished_spans()
    [point] = points(metric_reader, sc.METRIC_STAGE_DURATION)
    assert span.attributes is not None
    assert span.attributes.get(sc.ERROR_TYPE) == expected
    assert point.attributes.get(sc.ERROR_TYPE) == expected
    assert (span.status.status_code is StatusCode.ERROR) == (expected is not None)
    if expected is None:
        assert span.attributes.get(sc.RAG_CANCELLED) or span.attributes.get(
            sc.RAG_STREAM_CLOSED_EARLY
        )

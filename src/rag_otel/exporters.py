"""Span exporters rag-otel adds to the SDK's: OTLP JSON lines to a file, and containment.

``OtlpJsonFileExporter`` writes what the OpenTelemetry Collector's ``file`` exporter
writes: one ``{"resourceSpans": [...]}`` object (OTLP/JSON: lowerCamelCase fields, hex
trace and span ids, integer enums, 64-bit integers as strings) per line, one line per
exported batch, so one reader handles both.

The encoding is the SDK's own protobuf encoder (opentelemetry-exporter-otlp-proto-common)
rendered by ``google.protobuf.json_format``; only the ids are re-spelled, because
protobuf's JSON mapping writes ``bytes`` as base64 where OTLP/JSON wants hex.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Final

from google.protobuf import json_format  # type: ignore[import-untyped]
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from rag_otel._errors import contained

FILE_PATH_ENV: Final = "RAG_OTEL_FILE_PATH"
DEFAULT_FILE_PATH: Final = "rag-otel-spans.jsonl"

_ID_FIELDS: Final = ("traceId", "spanId", "parentSpanId")


def default_file_path() -> Path:
    """``$RAG_OTEL_FILE_PATH``, else ``./rag-otel-spans.jsonl`` (relative to the working dir)."""
    return Path(os.environ.get(FILE_PATH_ENV) or DEFAULT_FILE_PATH)


def _hex_ids(obj: dict[str, Any]) -> None:
    for key in _ID_FIELDS:
        value = obj.get(key)
        if isinstance(value, str):
            obj[key] = base64.b64decode(value).hex()


def spans_to_otlp_json(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """``spans`` as one OTLP/JSON ``ExportTraceServiceRequest`` object."""
    message: dict[str, Any] = json_format.MessageToDict(
        encode_spans(spans), use_integers_for_enums=True
    )
    for resource_spans in message.get("resourceSpans", ()):
        for scope_spans in resource_spans.get("scopeSpans", ()):
            for span in scope_spans.get("spans", ()):
                _hex_ids(span)
                for link in span.get("links", ()):
                    _hex_ids(link)
    return message


class OtlpJsonFileExporter(SpanExporter):
    """Appends each exported batch to ``path`` as one OTLP/JSON line."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else default_file_path()
        self._lock = threading.Lock()
        self._file: IO[str] | None = None
        # A child forked while the parent's batch thread held the lock would wait forever.
        reinit = weakref.WeakMethod(self._after_fork_in_child)
        os.register_at_fork(after_in_child=lambda: (m := reinit()) and m())

    def _after_fork_in_child(self) -> None:
        self._lock = threading.Lock()

    def _open(self) -> IO[str]:
        if self._file is None:
            if self.path.parent != Path():
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a", encoding="utf-8")
        return self._file

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if not spans:
            return SpanExportResult.SUCCESS
        line = json.dumps(spans_to_otlp_json(spans), separators=(",", ":"), ensure_ascii=False)
        with self._lock:
            out = self._open()
            out.write(line + "\n")
            out.flush()
        return SpanExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        with self._lock:
            if self._file is not None:
                self._file.flush()
        return True

    def shutdown(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class ContainedExporter(SpanExporter):
    """Wraps an exporter so that its exceptions are counted and logged once, never raised."""

    def __init__(self, inner: SpanExporter, name: str) -> None:
        self.inner = inner
        self.name = name

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            return self.inner.export(spans)
        except Exception:
            contained(f"exporter.{self.name}", "the %s exporter failed; spans dropped", self.name)
            return SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        try:
            return self.inner.force_flush(timeout_millis)
        except Exception:
            contained(f"exporter.{self.name}", "flushing the %s exporter failed", self.name)
            return False

    def shutdown(self) -> None:
        try:
            self.inner.shutdown()
        except Exception:
            contained(f"exporter.{self.name}", "shutting down the %s exporter failed", self.name)


class CountingBatchSpanProcessor(BatchSpanProcessor):
    """The SDK's BatchSpanProcessor, but a span that finds the queue full is counted
    (``rag_otel._errors.COUNTS["queue.full"]``) and logged once, instead of the SDK's
    warning per span (a log record per dropped span, on the application's thread)."""

    def on_end(self, span: ReadableSpan) -> None:
        batch = self._batch_processor
        if len(batch._queue) >= batch._max_queue_size:
            contained(
                "queue.full",
                "the export queue is full (OTEL_BSP_MAX_QUEUE_SIZE=%d): dropping spans",
                batch._max_queue_size,
            )
            return
        super().on_end(span)

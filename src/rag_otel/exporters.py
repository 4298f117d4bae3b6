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
import time
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from google.protobuf import json_format  # type: ignore[import-untyped]
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from rag_otel._endpoints import DEFAULT_EXPORT_TIMEOUT_S, TIMED_OUT, Address, check
from rag_otel._errors import contained
from rag_otel._otel_private import batch_queue

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
    """Wraps an exporter: its exceptions are counted and logged once, never raised; what it
    did not deliver is counted by reason; shutdown can ``abandon`` it (later batches fail at
    once, counted) so that a dead collector cannot hold the application's exit.

    ``address`` (OTLP exporters) lets a failed export be told apart: ``refused`` (nothing
    listens), ``timed out`` (the export took the whole export timeout), ``rejected`` (the
    collector answered an error); other exporters' failures are ``failed``.
    """

    def __init__(
        self,
        inner: SpanExporter,
        name: str,
        *,
        address: Address | None = None,
        timeout_s: float = DEFAULT_EXPORT_TIMEOUT_S,
    ) -> None:
        self.inner = inner
        self.name = name
        self.address = address
        self.timeout_s = timeout_s
        self.delivered = 0
        self.lost: Counter[str] = Counter()
        """Spans not delivered, by reason."""
        self.in_flight = 0
        """Spans of the export running now (0 when none)."""
        self.abandoned: str | None = None
        self._shut = False
        self._shut_lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        count = len(spans)
        if self.abandoned is not None:
            self.lost[self.abandoned] += count
            return SpanExportResult.FAILURE
        self.in_flight = count
        started = time.monotonic()
        error: str | None = None
        try:
            result = self.inner.export(spans)
        except OSError as exc:  # connection refused, timed out (requests' errors too)
            error = f"{type(exc).__name__}: {exc}"
            result = SpanExportResult.FAILURE
        except Exception:
            result = SpanExportResult.FAILURE
            if self.abandoned is None:  # else: shutdown closed it under this export
                contained(  # a bug: logged once with its traceback
                    f"exporter.{self.name}", "the %s exporter failed; spans dropped", self.name
                )
        finally:
            self.in_flight = 0
        if error is not None and self.abandoned is None:  # one line, no traceback
            contained(f"exporter.{self.name}", "the %s exporter failed: %s", self.name, error)
        if result is SpanExportResult.SUCCESS:
            self.delivered += count
        else:
            self.lost[self._why(time.monotonic() - started)] += count
        return result

    def _why(self, elapsed_s: float) -> str:
        if self.abandoned is not None:
            return self.abandoned
        if self.address is None:
            return "failed"
        refused = check(self.address, timeout_s=1.0)
        if refused is not None:
            return refused
        return TIMED_OUT if elapsed_s >= 0.9 * self.timeout_s else "rejected"

    def abandon(self, reason: str) -> None:
        """Give up: later batches fail at once (counted under ``reason``); an export in
        progress is interrupted where the exporter allows it (its ``shutdown()``, on a
        helper thread: some releases wait for the running export)."""
        if self.abandoned is None:
            self.abandoned = reason
        start_daemon(self.shutdown, "rag-otel-abandon")  # at exit: not needed, may be refused

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        try:
            return self.inner.force_flush(timeout_millis)
        except Exception:
            contained(f"exporter.{self.name}", "flushing the %s exporter failed", self.name)
            return False

    def shutdown(self) -> None:
        with self._shut_lock:
            if self._shut:
                return
            self._shut = True
        try:
            self.inner.shutdown()
        except Exception:
            contained(f"exporter.{self.name}", "shutting down the %s exporter failed", self.name)


@dataclass
class Undelivered:
    """What one exporter did not deliver, by reason (``refused``, ``timed out``, ``queue
    full``, ...); ``unknown`` is True when some spans may still be queued uncounted."""

    exporter: str
    reasons: Counter[str]
    unknown: bool = False

    @property
    def total(self) -> int:
        return sum(self.reasons.values())


def start_daemon(target: Callable[[], object], name: str) -> threading.Thread | None:
    """``target`` on a new daemon thread; None when the interpreter refuses to start one
    (at exit, some Pythons: 3.12.0-3.12.x raise RuntimeError from an ``atexit`` hook)."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    try:
        thread.start()
    except RuntimeError:
        return None
    return thread


class _Closer:
    """A daemon thread started ahead of time that runs ``action`` once, when triggered.

    Shutdown often runs from an ``atexit`` hook, where Python 3.12 refuses to start threads,
    and it must not wait on the SDK's unbounded joins: so the thread exists beforehand (and
    is started again in a forked child, where threads do not survive).
    """

    def __init__(self, action: Callable[[], object]) -> None:
        self._action = action
        self._go = threading.Event()
        self._done = threading.Event()
        self._start()
        restart = weakref.WeakMethod(self._start)
        os.register_at_fork(after_in_child=lambda: (m := restart()) and m())

    def _start(self) -> None:
        self._go = threading.Event()
        self._done = threading.Event()
        threading.Thread(target=self._run, name="rag-otel-closer", daemon=True).start()

    def _run(self) -> None:
        self._go.wait()
        try:
            self._action()
        except Exception:
            contained("processor-shutdown", "shutting down a span processor failed")
        finally:
            self._done.set()

    def trigger(self) -> None:
        self._go.set()

    def wait(self, deadline: float) -> bool:
        """Wait until ``deadline`` (``time.monotonic()``); True when the action has ended
        (or was never triggered)."""
        if not self._go.is_set():
            return True
        return self._done.wait(max(0.0, deadline - time.monotonic()))


class CountingBatchSpanProcessor(BatchSpanProcessor):
    """The SDK's BatchSpanProcessor, plus:

    - a span that finds the queue full is counted and logged once (``queue.full`` in
      ``rag_otel._errors.COUNTS``) instead of the SDK's warning per span, on the
      application's thread (where the SDK release lets us see the queue: ``_otel_private``);
    - ``shutdown()`` and ``force_flush()`` are bounded: the SDK's own run on a helper thread,
      and the caller stops waiting at the deadline (the SDK's ignore their timeouts, or
      join the worker without one, on some releases). ``close``/``wait_closed`` split it so
      that several processors close in parallel under one deadline.
    """

    def __init__(self, span_exporter: ContainedExporter) -> None:
        super().__init__(span_exporter)
        self.exporter = span_exporter
        self.queue_full = 0
        self._rag_otel_queue = batch_queue(self)
        self._closer = _Closer(super().shutdown)

    def on_end(self, span: ReadableSpan) -> None:
        queue = self._rag_otel_queue
        if queue is not None and len(queue.spans) >= queue.max_size:
            self.queue_full += 1
            contained(
                "queue.full",
                "the export queue is full (OTEL_BSP_MAX_QUEUE_SIZE=%d): dropping spans",
                queue.max_size,
            )
            return
        super().on_end(span)

    def queued(self) -> int | None:
        """Spans waiting in the queue now; None where the SDK release hides the queue."""
        queue = self._rag_otel_queue
        return None if queue is None else len(queue.spans)

    def close(self) -> None:
        """Start the SDK's shutdown (export what is queued, stop the worker) in the background."""
        self._closer.trigger()

    def wait_closed(self, deadline: float) -> bool:
        """Wait for ``close()`` until ``deadline`` (``time.monotonic()``); True if it ended."""
        return self._closer.wait(deadline)

    def undelivered(self) -> Undelivered:
        """Spans not delivered so far: failed exports, full queue, and, once abandoned,
        the export in progress and what is still queued."""
        exporter = self.exporter
        reasons = Counter(exporter.lost)
        if self.queue_full:
            reasons["queue full"] += self.queue_full
        unknown = False
        if exporter.abandoned is not None:
            reasons[exporter.abandoned] += exporter.in_flight
            queued = self.queued()
            if queued is None:
                unknown = True
            else:
                reasons[exporter.abandoned] += queued
        return Undelivered(exporter=exporter.name, reasons=+reasons, unknown=unknown)

    def shutdown(self) -> None:
        """Bounded: the export timeout (``OTEL_EXPORTER_OTLP_TIMEOUT``); idempotent."""
        if self.exporter.abandoned is not None:
            return
        self.close()
        if not self.wait_closed(time.monotonic() + self.exporter.timeout_s):
            self.exporter.abandon(TIMED_OUT)

    def force_flush(self, timeout_millis: int | None = None) -> bool:
        """Bounded by ``timeout_millis`` (default: the export timeout)."""
        timeout_s = self.exporter.timeout_s if timeout_millis is None else timeout_millis / 1000
        done = threading.Event()
        outcome: list[bool] = []

        def flush() -> None:
            outcome.append(bool(BatchSpanProcessor.force_flush(self, int(timeout_s * 1000))))
            done.set()

        if start_daemon(flush, "rag-otel-flush") is None:
            flush()
        return done.wait(timeout_s) and all(outcome)

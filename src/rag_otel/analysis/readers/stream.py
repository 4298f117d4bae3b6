"""Bytes -> parsed JSON values -> `Span`s: gzip, a byte-order mark, one document or JSON lines.

    from rag_otel.analysis.readers.stream import read_stream

    with open("spans.jsonl.gz", "rb") as f:
        spans = list(read_stream(f, None, state))

Gzip is recognised by its magic bytes. A first line that parses alone makes the input JSON
lines, parsed one line at a time (memory grows with the spans kept, not with the file);
otherwise the input is one document, parsed whole. Each value goes to
`detect.decode_value`, except OTLP ``resourceSpans`` lines, which the JSON-lines loop hands
to `otlp.decode_resource_spans` directly (the benchmark's hot path). Broken input raises
`InputError` naming the line and byte offset.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from typing import IO, Any, cast

import orjson

from rag_otel.analysis.model import InputError, Span
from rag_otel.analysis.readers import otlp
from rag_otel.analysis.readers.common import ReadState
from rag_otel.analysis.readers.detect import decode_value, expected_text

_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"


def read_stream(stream: IO[bytes], fmt: str | None, state: ReadState) -> Iterator[Span]:
    """Detect gzip and the encoding (document or JSON lines) and decode."""
    compressed = False
    lineno = 0
    offset = 0
    wrapper: io.BufferedReader | None = None
    try:
        if isinstance(stream, io.TextIOBase):  # opened in text mode: read its bytes
            stream = getattr(stream, "buffer", None) or _not_binary(state)
        if not hasattr(stream, "peek"):
            wrapper = io.BufferedReader(cast(Any, stream))
        buffered: Any = wrapper or stream
        if buffered.peek(2)[:2] == _GZIP_MAGIC:
            compressed = True
            buffered = gzip.GzipFile(fileobj=buffered, mode="rb")
        line = buffered.readline()
        while line and not line.strip():
            lineno += 1
            offset += len(line)
            line = buffered.readline()
        if not line:
            raise InputError(state.source, None, f"empty input: expected {expected_text(fmt)}")
        lineno += 1
        if line.startswith(_BOM):
            line = line[len(_BOM) :]
            offset += len(_BOM)
        first = line.lstrip()[:1]
        if first not in (b"{", b"["):
            raise InputError(
                state.source,
                _at(lineno, offset),
                f"expected JSON ({expected_text(fmt)}), got {_preview(line)}",
            )
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            obj = None
            document = True
        else:
            document = False
        count = 0
        if document:
            if fmt == "otlp-jsonl":
                raise InputError(
                    state.source,
                    _at(lineno, offset),
                    "expected one complete JSON object per line (otlp-jsonl)",
                )
            data = line + buffered.read()
            try:
                obj = orjson.loads(data)
            except orjson.JSONDecodeError as exc:
                raise InputError(
                    state.source,
                    f"line {exc.lineno + lineno - 1}, column {exc.colno} (byte {offset + _byte_pos(data, exc.pos)})",
                    f"expected valid JSON ({exc.msg}{_truncated_hint(data, exc.pos)})",
                ) from None
            for span in decode_value(obj, fmt, state, None):
                count += 1
                yield span
        else:
            spans = decode_value(obj, fmt, state, lineno)
            offset += len(line)
            count += len(spans)
            yield from spans
            # --- the JSON-lines hot loop ------------------------------------------------
            loads = orjson.loads
            decode_resource_spans = otlp.decode_resource_spans
            otlp_ok = fmt in (None, "otlp", "otlp-jsonl")
            for line in buffered:
                lineno += 1
                try:
                    obj = loads(line)
                except orjson.JSONDecodeError as exc:
                    if not line.strip():
                        offset += len(line)
                        continue
                    raise InputError(
                        state.source,
                        _at(lineno, offset),
                        f"expected one complete JSON value per line ({exc.msg}{_truncated_hint(line, exc.pos)})",
                    ) from None
                if obj.__class__ is dict and otlp_ok:
                    rs = obj.get("resourceSpans")
                    if rs is not None:
                        spans = decode_resource_spans(rs, state, lineno)
                    else:
                        spans = decode_value(obj, fmt, state, lineno)
                else:
                    spans = decode_value(obj, fmt, state, lineno)
                offset += len(line)
                count += len(spans)
                yield from spans
        if count == 0:
            state.diagnostics.warn("no-spans", state.source)
    except (OSError, EOFError, zlib.error) as exc:
        what = "a complete gzip stream" if compressed else "readable input"
        raise InputError(
            state.source, _at(lineno + 1, offset), f"expected {what} ({exc})"
        ) from None
    finally:
        if wrapper is not None and not wrapper.closed:
            wrapper.detach()  # the caller's stream stays open


def _not_binary(state: ReadState) -> IO[bytes]:
    raise InputError(state.source, None, "expected a file opened in binary mode ('rb')")


def _at(lineno: int, offset: int) -> str:
    return f"line {lineno} (byte {offset})"


def _byte_pos(data: bytes, pos: int) -> int:
    """orjson reports a character position; messages give bytes."""
    try:
        return len(data.decode("utf-8", "replace")[:pos].encode("utf-8"))
    except Exception:  # pragma: no cover - best effort for a message
        return pos


def _truncated_hint(data: bytes, pos: int) -> str:
    return "; the input looks truncated" if pos >= len(data.rstrip()) - 1 else ""


def _preview(line: bytes) -> str:
    text = line.strip()[:20]
    if text.isascii() and text.decode("ascii").isprintable():
        return repr(text.decode("ascii"))
    return "binary data (protobuf? the Collector's file exporter writes JSON with format: json)"

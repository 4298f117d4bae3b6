"""Bytes -> parsed JSON values -> `Span`s: gzip, a byte-order mark, one document or JSON lines.

    from rag_otel.analysis.readers.stream import read_stream

    with open("spans.jsonl.gz", "rb") as f:
        spans = list(read_stream(f, None, state))  # or read_batches: one list per JSON value

Gzip is recognised by its magic bytes. A first line that parses alone makes the input JSON
lines, parsed one line at a time (memory grows with the spans kept, not with the file);
otherwise the input is one document, parsed whole. Each value goes to
`detect.decode_value`, except OTLP ``resourceSpans`` lines, which the JSON-lines loop hands
to `otlp_fast.decode_line` (canonical lines: the benchmark's hot path) or, when it
declines them, to `otlp.decode_resource_spans`. Broken input raises `InputError` naming
the line and byte offset.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from itertools import chain
from typing import IO, Any, cast

import orjson

from rag_otel.analysis.model import InputError, Span
from rag_otel.analysis.readers import otlp, otlp_fast
from rag_otel.analysis.readers.common import ReadState
from rag_otel.analysis.readers.detect import decode_value, expected_text

_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_GIVE_UP = 16
"""Lines `otlp_fast` may decline before it is tried no more (when most lines were declined)."""


class _Position:
    """Where the reading is: the last line read and the byte offset of its start, for messages."""

    __slots__ = ("lineno", "offset")

    def __init__(self) -> None:
        self.lineno = 0
        self.offset = 0


def read_stream(stream: IO[bytes], fmt: str | None, state: ReadState) -> Iterator[Span]:
    """The spans of a binary stream: gzip detected, then one document or JSON lines.

    A stream opened in text mode is read through its binary buffer; one without ``peek``
    is buffered (and detached at the end: the caller's stream stays open). Input that
    holds no spans counts ``no-spans``.
    """
    return chain.from_iterable(read_batches(stream, fmt, state))


def read_batches(stream: IO[bytes], fmt: str | None, state: ReadState) -> Iterator[list[Span]]:
    """`read_stream`'s spans, one list per JSON value (a line, a document): what the readers
    pass on, so that a span costs no generator step per layer (`itertools.chain` flattens)."""
    position = _Position()
    compressed = False
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
        line = _first_line(buffered, fmt, state, position)
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            batches = _document(line, buffered, fmt, state, position)
        else:
            batches = _json_lines(obj, line, buffered, fmt, state, position)
        count = 0
        for spans in batches:
            count += len(spans)
            yield spans
        if count == 0:
            state.diagnostics.warn("no-spans", state.source)
    except (OSError, EOFError, zlib.error) as exc:
        what = "a complete gzip stream" if compressed else "readable input"
        raise InputError(
            state.source, _at(position.lineno + 1, position.offset), f"expected {what} ({exc})"
        ) from None
    finally:
        if wrapper is not None and not wrapper.closed:
            wrapper.detach()  # the caller's stream stays open


def _first_line(buffered: Any, fmt: str | None, state: ReadState, position: _Position) -> bytes:
    """The first non-blank line, without a byte-order mark; InputError if the input is empty
    or does not start like JSON."""
    line: bytes = buffered.readline()
    while line and not line.strip():
        position.lineno += 1
        position.offset += len(line)
        line = buffered.readline()
    if not line:
        raise InputError(state.source, None, f"empty input: expected {expected_text(fmt)}")
    position.lineno += 1
    if line.startswith(_BOM):
        line = line[len(_BOM) :]
        position.offset += len(_BOM)
    if line.lstrip()[:1] not in (b"{", b"["):
        raise InputError(
            state.source,
            _at(position.lineno, position.offset),
            f"expected JSON ({expected_text(fmt)}), got {_preview(line)}",
        )
    return line


def _document(
    first: bytes, buffered: Any, fmt: str | None, state: ReadState, position: _Position
) -> Iterator[list[Span]]:
    """The spans of one JSON document (its first line did not parse alone), parsed whole."""
    if fmt == "otlp-jsonl":
        raise InputError(
            state.source,
            _at(position.lineno, position.offset),
            "expected one complete JSON object per line (otlp-jsonl)",
        )
    data = first + buffered.read()
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InputError(
            state.source,
            f"line {exc.lineno + position.lineno - 1}, column {exc.colno} "
            f"(byte {position.offset + _byte_pos(data, exc.pos)})",
            f"expected valid JSON ({exc.msg}{_truncated_hint(data, exc.pos)})",
        ) from None
    yield decode_value(obj, fmt, state, None)


def _json_lines(
    first_obj: Any,
    first: bytes,
    buffered: Any,
    fmt: str | None,
    state: ReadState,
    position: _Position,
) -> Iterator[list[Span]]:
    """The spans of JSON lines, one list per line: `first_obj` parsed from line `first`,
    the rest parsed one line at a time (blank lines skipped).

    The hot loop of a JSON-lines file: a line is first offered to `otlp_fast.decode_line`
    (canonical OTLP, not when every attribute is kept); a declined OTLP ``resourceSpans``
    line goes to `otlp.decode_resource_spans`, anything else to `detect.decode_value`.
    """
    spans = decode_value(first_obj, fmt, state, position.lineno)
    position.offset += len(first)
    yield spans
    loads = orjson.loads
    decode_resource_spans = otlp.decode_resource_spans
    otlp_ok = fmt in (None, "otlp", "otlp-jsonl")
    fast = otlp_fast.decode_line if otlp_ok and not state.keep_attributes else None
    declined = 0
    for line in buffered:
        position.lineno += 1
        if fast is not None:
            fast_spans = fast(line, state)
            if fast_spans is not None:
                position.offset += len(line)
                yield fast_spans
                continue
            declined += 1
            if declined > _GIVE_UP and declined * 2 > position.lineno:
                fast = None  # not canonical OTLP: stop trying
        try:
            obj = loads(line)
        except orjson.JSONDecodeError as exc:
            if not line.strip():
                position.offset += len(line)
                continue
            raise InputError(
                state.source,
                _at(position.lineno, position.offset),
                "expected one complete JSON value per line "
                f"({exc.msg}{_truncated_hint(line, exc.pos)})",
            ) from None
        rs = obj.get("resourceSpans") if obj.__class__ is dict and otlp_ok else None
        if rs is not None:
            spans = decode_resource_spans(rs, state, position.lineno)
        else:
            spans = decode_value(obj, fmt, state, position.lineno)
        position.offset += len(line)
        yield spans


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

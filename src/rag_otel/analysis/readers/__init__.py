"""Read spans from OTLP, Jaeger, Phoenix or Langfuse JSON, or a live Jaeger or Phoenix, as `Span`s.

    from rag_otel.analysis.model import Diagnostics
    from rag_otel.analysis.readers import read_spans, read_many

    diagnostics = Diagnostics()
    for span in read_spans("spans.jsonl", diagnostics=diagnostics):
        ...
    spans = list(read_many(["a.json.gz", "-"], diagnostics=diagnostics))
    live = read_spans("http://127.0.0.1:16686", service="faq-bot", since="1h", diagnostics=diagnostics)
    phoenix = read_spans("phoenix+http://127.0.0.1:6006/faq-bot", limit=100, diagnostics=diagnostics)

A source is a path, ``-`` (stdin), an open binary file, an ``http(s)://`` URL of a
Jaeger query service or a ``phoenix+http(s)://HOST:PORT/PROJECT`` URL of a Phoenix.
Gzip is recognised by its magic bytes. The format is detected from the content, by keys
only one format has (never by elimination: a value no format claims is refused with its
first keys and the supported formats); ``format=`` (one of `FORMATS`) forces it:

===============  =================================================================
``otlp``         OTLP JSON ``{"resourceSpans": [...]}``: one document, or one per line
``otlp-jsonl``   OTLP JSON lines only (Collector ``file`` exporter, rag-otel's file exporter)
``jaeger``       Jaeger v1: ``{"data": [trace...]}``, one trace, or an array of spans
``jaeger-v3``    Jaeger api_v3 ``{"result": {"resourceSpans": [...]}}`` (OTLP inside)
``jaeger-live``  a live Jaeger (api_v3 ``/api/v3/traces``, falling back to v1 ``/api/traces``)
``phoenix``      Phoenix REST spans ``{"data": [{"context", "span_kind", ...}], "next_cursor"}``
``phoenix-live`` a live Phoenix (``GET /v1/projects/{project}/spans``, cursor paging)
``langfuse``     Langfuse observations ``{"data": [{"traceId", "startTime", ...}], "meta"}``
===============  =================================================================

JSON lines are parsed one line at a time (memory grows with the spans kept, not with
the file); a single document is parsed whole. Every JSON value in a JSON-lines input
may be any of the shapes above. Spans are produced lazily: errors are raised while
iterating.

Errors. Input that cannot be analysed raises `InputError` with a one-line message
naming the source, the line (and byte offset) or JSON path, and what was expected:
not JSON, truncated JSON, a broken gzip stream, a wrong top-level shape, an empty
file, an unreadable file, an unreachable or failing Jaeger. A document that is valid
but holds no spans is not an error: it yields nothing and counts ``no-spans`` (the
analysis decides whether zero spans in all inputs is fatal).

Warnings. Everything else is counted in the `Diagnostics` passed in, by a stable code
(`WARNINGS` holds the same as sentences for a warnings summary):

=========================  ===========================================================
code                       meaning (what the reader did)
=========================  ===========================================================
``upper-case-id``          a hex id had upper-case digits (lower-cased)
``short-id``               a hex id shorter than OTLP's width (zero-padded)
``base64-id``              an id in base64, as protobuf ``json_format`` writes bytes (decoded)
``empty-parent-id``        ``"parentSpanId": ""`` on a root span (read as no parent)
``missing-timestamp``      no start or end time (kept, with ``start_ns``/``end_ns`` None)
``missing-name``           no span name / ``operationName`` (kept, name "")
``malformed-span``         a span (or resource) with a field of the wrong type (dropped)
``follows-from``           the parent link is a Jaeger FOLLOWS_FROM reference
                           (kept as the parent, ``Span.follows_from`` True)
``inline-process``         a Jaeger span carrying its own ``process`` (service read from it)
``cross-trace-reference``  a Jaeger reference to another trace (ignored)
``jaeger-warning``         Jaeger attached warnings to a trace or span (kept as is)
``jaeger-error``           a Jaeger v1 response listed errors (the data it had is read)
``trace-summaries``        a ``{"summaries": [...]}`` api_v3 trace-summaries response:
                           counts only, no spans (nothing read from it)
``no-spans``               a valid input that held no spans
``live-window-full``       live Jaeger: a time window too short to split still returned
                           a full page (traces in it may be missing)
``live-limit-reached``     live Jaeger or Phoenix: stopped at ``limit`` traces
``live-v1-fallback``       live Jaeger: api_v3 missing, the v1 ``/api/traces`` search used
=========================  ===========================================================

Readers normalise the encoding and keep the data as it is; what the data means is
judged once, by the analysis (`rag_otel.analysis.traces`), per trace and with bounded
memory: duplicate span ids (``duplicate-span-id``), end before start
(``negative-duration``), parents that are in no input (``orphan-span``) and clock skew.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import zlib
from collections.abc import Iterable, Iterator
from typing import IO, Any, Final, cast

import orjson

from rag_otel.analysis.model import Diagnostics, InputError, Span
from rag_otel.analysis.readers import jaeger, langfuse, otlp, phoenix
from rag_otel.analysis.readers.otlp import Location, ReadState, location_text, type_name

__all__ = [
    "FORMATS",
    "LIVE_OPTIONS",
    "PHOENIX_LIVE_OPTIONS",
    "WARNINGS",
    "InputError",
    "read_many",
    "read_spans",
]

FORMATS: Final = (
    "otlp",
    "otlp-jsonl",
    "jaeger",
    "jaeger-v3",
    "jaeger-live",
    "phoenix",
    "phoenix-live",
    "langfuse",
)
"""Values of ``format=`` (the CLI's ``--input-format`` choices)."""

LIVE_OPTIONS: Final = (
    "service",
    "since",
    "until",
    "limit",
    "num_traces",
    "operation",
    "timeout",
)
"""Keyword options a live Jaeger source takes (see `rag_otel.analysis.readers.jaeger_live`)."""

PHOENIX_LIVE_OPTIONS: Final = ("since", "until", "limit", "timeout")
"""The ones a live Phoenix source takes (see `rag_otel.analysis.readers.phoenix_live`)."""

WARNINGS: Final[dict[str, str]] = {
    "upper-case-id": "ids with upper-case hex digits (lower-cased)",
    "short-id": "hex ids shorter than OTLP's width (zero-padded)",
    "base64-id": "ids written in base64 (decoded to hex)",
    "empty-parent-id": 'root spans with "parentSpanId": "" (read as no parent)',
    "missing-timestamp": "spans without a start or end time (kept, without duration)",
    "missing-name": 'spans without a name (kept, named "")',
    "malformed-span": "spans with a field of the wrong type (skipped)",
    "follows-from": "Jaeger FOLLOWS_FROM references (used as the parent link)",
    "inline-process": "Jaeger spans carrying their own process (service read from it)",
    "cross-trace-reference": "Jaeger references to another trace (ignored)",
    "jaeger-warning": "warnings Jaeger attached to traces or spans",
    "jaeger-error": "errors listed in a Jaeger response (the data it had was read)",
    "trace-summaries": "Jaeger trace-summaries inputs (counts only, no spans: fetch /api/v3/traces)",
    "no-spans": "inputs that held no spans",
    "live-window-full": "live Jaeger windows still full at the smallest split (traces may be missing)",
    "live-limit-reached": "live Jaeger or Phoenix reads stopped at the trace limit",
    "live-v1-fallback": "live Jaeger without api_v3 (the v1 search was used)",
}
"""Diagnostic codes the readers count, with the sentence a warnings summary shows."""

_GZIP_MAGIC = b"\x1f\x8b"
_BOM = b"\xef\xbb\xbf"
_EXPECTED: dict[str | None, str] = {
    "otlp": 'OTLP JSON {"resourceSpans": [...]}',
    "otlp-jsonl": 'one OTLP JSON {"resourceSpans": [...]} per line',
    "jaeger": 'Jaeger v1 JSON {"data": [...]}, a trace {"traceID", "spans"} or an array of spans',
    "jaeger-v3": 'Jaeger api_v3 JSON {"result": {"resourceSpans": [...]}}',
    "phoenix": 'Phoenix REST spans {"data": [{"context", "span_kind", ...}], "next_cursor"}',
    "langfuse": 'Langfuse observations {"data": [{"traceId", "startTime", "type", ...}], "meta"}',
}
_ANY = "one of the supported formats: " + "; ".join(
    _EXPECTED[f] for f in ("otlp", "jaeger", "jaeger-v3", "phoenix", "langfuse")
)
_EXPECTED[None] = _ANY
_DATA_ITEMS = (
    'a Jaeger trace {"traceID", "spans"}, a Phoenix span {"context", "span_kind", ...} '
    'or a Langfuse observation {"traceId", "startTime", ...}'
)
_ARRAY_ITEMS: dict[str | None, str] = {
    None: "an array of Jaeger spans, Phoenix spans or Langfuse observations",
    "jaeger": "an array of Jaeger spans or traces",
    "phoenix": 'an array of Phoenix spans {"context", "span_kind", ...}',
    "langfuse": 'an array of Langfuse observations {"traceId", "startTime", ...}',
}

Source = str | os.PathLike[str] | IO[bytes]
_LIVE_FORMATS = ("jaeger-live", "phoenix-live")


def is_url(source: object) -> bool:
    """A live source: a Jaeger ``http(s)://`` URL or a ``phoenix+http(s)://`` one."""
    return isinstance(source, str) and source.startswith(
        ("http://", "https://", "phoenix+http://", "phoenix+https://")
    )


def read_spans(
    source: Source,
    *,
    format: str | None = None,
    diagnostics: Diagnostics,
    keep_attributes: bool = False,
    **live_options: Any,
) -> Iterator[Span]:
    """The spans of one input, in input order, normalised (see `rag_otel.analysis.model.Span`).

    `live_options` apply to a live source only: `LIVE_OPTIONS` to a Jaeger URL,
    `PHOENIX_LIVE_OPTIONS` to a Phoenix one.
    """
    state = ReadState(_name(source), diagnostics, keep_attributes=keep_attributes)
    return _read_one(source, format, state, live_options)


def read_many(
    sources: Iterable[Source],
    *,
    format: str | None = None,
    diagnostics: Diagnostics,
    keep_attributes: bool = False,
    **live_options: Any,
) -> Iterator[Span]:
    """The spans of several inputs, one after another. `live_options` go to the URL sources only."""
    shared = ReadState("", diagnostics, keep_attributes=keep_attributes)
    for source in sources:
        options = live_options if is_url(source) or format in _LIVE_FORMATS else {}
        yield from _read_one(source, format, shared.for_source(_name(source)), options)


def _name(source: Source) -> str:
    if isinstance(source, str):
        return "<stdin>" if source == "-" else source
    if isinstance(source, os.PathLike):
        return os.fspath(source)
    name = getattr(source, "name", None)
    return name if isinstance(name, str) else "<stream>"


def _read_one(
    source: Source, fmt: str | None, state: ReadState, live_options: dict[str, Any]
) -> Iterator[Span]:
    if fmt is not None and fmt not in FORMATS:
        raise InputError(
            state.source,
            None,
            f"unknown input format {fmt!r}: expected one of {', '.join(FORMATS)}",
        )
    if is_url(source) or fmt in _LIVE_FORMATS:
        yield from _read_live(source, fmt, state, live_options)
        return
    given = sorted(k for k, v in live_options.items() if v is not None)
    if given:
        raise InputError(
            state.source,
            None,
            f"options {', '.join(given)} apply only to a live Jaeger URL (http://...) "
            "or a live Phoenix (phoenix+http://...)",
        )
    if isinstance(source, (str, os.PathLike)) and source != "-":
        try:
            stream: IO[bytes] = open(source, "rb")  # noqa: SIM115 (closed below)
        except OSError as exc:
            raise InputError(
                state.source, None, f"expected a readable file ({exc.strerror or exc})"
            ) from None
        with stream:
            yield from _read_stream(stream, fmt, state)
    elif source == "-":
        yield from _read_stream(sys.stdin.buffer, fmt, state)
    else:
        yield from _read_stream(cast(IO[bytes], source), fmt, state)


def _read_live(
    source: Source, fmt: str | None, state: ReadState, live_options: dict[str, Any]
) -> Iterator[Span]:
    from rag_otel.analysis.readers import phoenix_live

    url = source if isinstance(source, str) else ""
    if phoenix_live.is_phoenix_url(url) or fmt == "phoenix-live":
        if fmt not in (None, "phoenix-live") or not is_url(url):
            raise InputError(
                state.source,
                None,
                "expected a phoenix+http(s)://HOST:PORT/PROJECT URL for format phoenix-live",
            )
        jaeger_only = sorted(
            k for k, v in live_options.items() if v is not None and k not in PHOENIX_LIVE_OPTIONS
        )
        if jaeger_only:
            raise InputError(
                state.source,
                None,
                f"options {', '.join(jaeger_only)} apply only to a live Jaeger URL "
                f"(a live Phoenix takes {', '.join(PHOENIX_LIVE_OPTIONS)})",
            )
        yield from phoenix_live.read_live(url, state, **live_options)
        return
    if fmt not in (None, "jaeger-live") or not is_url(url):
        raise InputError(
            state.source,
            None,
            "expected an http(s):// URL of a Jaeger query service for format jaeger-live",
        )
    from rag_otel.analysis.readers.jaeger_live import read_live

    yield from read_live(url, state, **live_options)


def _read_stream(stream: IO[bytes], fmt: str | None, state: ReadState) -> Iterator[Span]:
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
            raise InputError(
                state.source, None, f"empty input: expected {_EXPECTED.get(fmt, _ANY)}"
            )
        lineno += 1
        if line.startswith(_BOM):
            line = line[len(_BOM) :]
            offset += len(_BOM)
        first = line.lstrip()[:1]
        if first not in (b"{", b"["):
            raise InputError(
                state.source,
                _at(lineno, offset),
                f"expected JSON ({_EXPECTED.get(fmt, _ANY)}), got {_preview(line)}",
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
            decode_rs = state.otlp_decoder or otlp.otlp_decoder(state)
            state.otlp_decoder = decode_rs
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
                        spans = decode_rs(rs, lineno)
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


def decode_value(obj: Any, fmt: str | None, state: ReadState, location: Location) -> list[Span]:
    """The spans of one parsed JSON value, whatever its shape (restricted by `fmt`).

    The shape is told by keys only one format has; a value no format claims is refused
    with its top-level keys and the list of supported formats."""
    if obj.__class__ is dict:
        rs = obj.get("resourceSpans")
        if rs is None:
            rs = obj.get("resource_spans")
        if rs is not None and fmt in (None, "otlp", "otlp-jsonl"):
            return otlp.decode_resource_spans(rs, state, location)
        if "result" in obj and fmt in (None, "jaeger-v3"):
            return _decode_v3_result(obj["result"], state, location)
        if "data" in obj or "meta" in obj or "next_cursor" in obj:
            spans = _decode_envelope(obj, fmt, state, location)
            if spans is not None:
                return spans
        if fmt in (None, "jaeger") and "spans" in obj:
            return jaeger.decode_trace(obj, state, location)
        if fmt in (None, "phoenix") and (phoenix.is_span(obj) or phoenix.is_otlpv1_span(obj)):
            return phoenix.decode_spans([obj], state, location)
        if fmt in (None, "langfuse") and langfuse.is_observation(obj):
            return langfuse.decode_observations([obj], state, location)
        if "summaries" in obj and fmt in (None, "jaeger-v3", "jaeger"):
            state.diagnostics.warn(
                "trace-summaries",
                f"{state.where(location)}: trace summaries hold no spans; fetch /api/v3/traces instead",
            )
            return []
        error = obj.get("error")
        if error is not None:
            message = error.get("message", error) if error.__class__ is dict else error
            raise InputError(
                state.source,
                location_text(location),
                f"expected spans, got a Jaeger error: {message}",
            )
        raise InputError(
            state.source,
            location_text(location),
            f"expected {_EXPECTED.get(fmt, _ANY)}, got {_keys(obj)}",
        )
    if obj.__class__ is list and fmt in (None, "jaeger", "phoenix", "langfuse"):
        return _decode_array(obj, fmt, state, location)
    raise InputError(
        state.source,
        location_text(location),
        f"expected {_EXPECTED.get(fmt, _ANY)}, got {type_name(obj)}",
    )


def _decode_v3_result(result: Any, state: ReadState, location: Location) -> list[Span]:
    if result.__class__ is dict:
        rs = result.get("resourceSpans")
        if rs is None:
            rs = result.get("resource_spans")
        if rs is not None:
            return otlp.decode_resource_spans(rs, state, location)
        if not result:  # an empty TracesData
            return []
    raise InputError(
        state.source,
        location_text(location),
        f'expected "result" to be {{"resourceSpans": [...]}}, got {type_name(result)}',
    )


def _decode_envelope(
    obj: dict[str, Any], fmt: str | None, state: ReadState, location: Location
) -> list[Span] | None:
    """A ``{"data": ...}`` answer: Phoenix's (``next_cursor``, span objects with ``context``),
    Langfuse's (``meta``, observations with ``traceId``, ``startTime``) or Jaeger v1's
    (traces with ``traceID``, ``spans``). None if it is none of them."""
    if fmt == "phoenix" or (fmt is None and phoenix.is_page(obj)):
        return phoenix.decode_page(obj, state, location)
    if fmt == "langfuse" or (fmt is None and langfuse.is_page(obj)):
        return langfuse.decode_page(obj, state, location)
    if fmt not in (None, "jaeger") or "data" not in obj:
        return None
    data = obj["data"]
    if fmt is None and data.__class__ is list and data and not _is_jaeger_trace(data[0]):
        raise InputError(
            state.source,
            location_text(location),
            f"expected data[0] to be {_DATA_ITEMS}, got {_describe(data[0])}",
        )
    return jaeger.decode_response(obj, state, location)


def _is_jaeger_trace(item: Any) -> bool:
    return item.__class__ is dict and ("spans" in item or "traceID" in item)


def _decode_array(
    items: list[Any], fmt: str | None, state: ReadState, location: Location
) -> list[Span]:
    """A bare array: of v1 spans (the anonymizer's layout), Phoenix spans, Langfuse
    observations, or tolerated, of v1 traces."""
    if not items:
        return []
    head = items[0]
    if fmt in (None, "phoenix") and (phoenix.is_span(head) or phoenix.is_otlpv1_span(head)):
        return phoenix.decode_spans(items, state, location)
    if fmt in (None, "langfuse") and langfuse.is_observation(head):
        return langfuse.decode_observations(items, state, location)
    if fmt in (None, "jaeger"):
        if head.__class__ is dict and "spans" in head and "spanID" not in head:
            out: list[Span] = []
            for item in items:
                out.extend(decode_value(item, fmt, state, location))
            return out
        if head.__class__ is dict and ("spanID" in head or "operationName" in head):
            return jaeger.decode_spans(items, {}, state, location)
    raise InputError(
        state.source,
        location_text(location),
        f"expected {_ARRAY_ITEMS.get(fmt, _ARRAY_ITEMS[None])}, got an array of {_describe(head)}",
    )


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


def _keys(obj: dict[str, Any]) -> str:
    keys = list(obj)[:4]
    more = ", ..." if len(obj) > 4 else ""
    listed = ", ".join(repr(k)[:40] for k in keys)
    return f"an object with keys {listed}{more}" if keys else "an empty object"


def _describe(value: Any) -> str:
    """A JSON value in a message: an object by its keys, anything else by its type."""
    return _keys(value) if value.__class__ is dict else type_name(value)

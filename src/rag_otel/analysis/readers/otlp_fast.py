"""Canonical OTLP JSON lines -> `Span`, decoded by msgspec into typed records: the fast path.

    from rag_otel.analysis.readers.otlp_fast import decode_line

    spans = decode_line(line, state)  # None: not canonical, read it with `readers.otlp`

The OpenTelemetry Collector's ``file`` exporter and the SDK's JSON exporters write
canonical OTLP JSON: camelCase keys, 64-bit times as strings, lower-case hex ids, typed
attribute wrappers. msgspec decodes such a line straight into the records below,
skipping every key the analysis does not read (it builds no dict for a span, an
attribute or a value), in less time than ``orjson.loads`` takes to build the whole
document. A span's attributes are kept as their JSON bytes: a pipeline's stages write
the same ones turn after turn, so what they make of a span is recognised once and looked
up afterwards (`_convert`); only the values recognition reads are ever decoded, by the
tolerant reader's own functions (`otlp.recognise_known`, `otlp.any_value`), so that
they mean here what they mean there.

Only canonical envelopes are read here: anything that would be warned about, skipped or
read in another way (snake_case keys, odd ids, missing or zero times, a JSON type other
than the canonical one for an envelope field, an attribute recognition reads without a
value, invalid JSON) makes `decode_line` return None, and the caller reads the line with
the tolerant reader (`readers.otlp`), so the result is the same as that reader's,
warnings included. This reader counts no warning of its own.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

import msgspec
import orjson
from msgspec import UNSET, Meta, Raw, Struct, UnsetType

from rag_otel import semconv
from rag_otel.analysis import first_token
from rag_otel.analysis.model import MAX_TIME_NS, TURN_NONE, Span
from rag_otel.analysis.readers.common import (
    CAUGHT,
    EVENT_NAMES,
    ReadState,
    classify_attributes,
    finish_events,
)
from rag_otel.analysis.readers.otlp import (
    STATUS_CODE_ERROR,
    WANTED,
    WRAPPERS,
    any_value,
    recognise_known,
    resource_service,
    turn_text,
)

# --- the records msgspec decodes into (only the keys read; others are skipped) ---------------


_TraceId = Annotated[str, Meta(min_length=32, max_length=32)]
_SpanId = Annotated[str, Meta(min_length=16, max_length=16)]
_Time = Annotated[int, Meta(gt=0, le=MAX_TIME_NS)] | float
"""A time: an int from digits (a JSON number or string); a float is declined (`_convert`)."""
_Kind = Annotated[int, Meta(ge=0, le=5)] | float | str
"""A span kind: an int; a float or a string is declined (`_convert`)."""


class _Event(Struct, gc=False):
    """A span event, as `otlp.events` reads it: its name (any JSON), its time as a span's
    (`_Time`, a float declined by `_read_events`); one naming its time ``time_unix_nano``
    (an `UnsetType` never decodes) is declined."""

    name: Any = None
    timeUnixNano: _Time | None = None
    time_unix_nano: UnsetType = UNSET


class _Span(Struct, gc=False):
    """A span's envelope as the line decoder reads it (``strict=False``, see `_DECODE`): ids
    of the right width (their case is checked by `_check_ids`), times and kind in range."""

    traceId: _TraceId
    spanId: _SpanId
    name: str
    startTimeUnixNano: _Time
    endTimeUnixNano: _Time
    parentSpanId: _SpanId | None = None
    kind: _Kind = 0
    attributes: Raw = Raw(b"")
    """Decoded only when not met before (`_first_met`)."""
    events: list[_Event] | None = None
    status: Raw = Raw(b"")
    """Decoded only when not ``{}`` (`_error`)."""


class _Scope(Struct, gc=False):
    spans: list[_Span] | None = None


class _ResourceSpans(Struct, gc=False):
    scopeSpans: list[_Scope]
    resource: Raw = Raw(b"")
    """Read by `otlp.resource_service`, once per line."""


class _Line(Struct, gc=False):
    resourceSpans: list[_ResourceSpans]


_DECODE = msgspec.json.Decoder(_Line, strict=False).decode
"""Not strict: 64-bit times are JSON strings, made ints in C here (``int()`` per time would
cost 1,600 instructions). What else this mode lets through, and the tolerant reader reads
otherwise, is typed to stand out and is declined: a time or kind written as a float, or
(``"1e3"``, ``"1.0"``) as a string of one, comes as a float; a kind as a string stays one."""
_MEMO_SIZE = 4096
"""What `ReadState.recognised` keeps at most (`_first_met`): the attributes met and the
shapes that read them, for the distinct stages of a few pipelines, twice over."""


class _NotCanonical(Exception):
    """The line is left to the tolerant reader."""


_DECLINE = (_NotCanonical, *CAUGHT)
"""What a line the tolerant reader would read otherwise raises here: the tolerant reader's
own errors (what it counts as a malformed span, raised by its functions called here), and
msgspec's and orjson's decoding errors, which are ValueErrors."""

_ERROR_CODES = frozenset((STATUS_CODE_ERROR, "STATUS_CODE_ERROR"))
"""`otlp._decode_spans`'s error codes (a code that cannot be hashed, never one, is declined)."""
_NO_STATUS = Raw(b"{}")
"""A span's status as the SDKs write it for an unset one: no error, nothing to decode."""
_CHUNK_KEYS = first_token.ATTRIBUTES
_OUTPUT_ATTRIBUTES = first_token.OUTPUT_ATTRIBUTES
_FIRST_CHUNK_EVENT = semconv.EVENT_FIRST_CHUNK
_RAG_TURN_ID = semconv.RAG_TURN_ID
_TURN_NAME = semconv.TURN_SPAN_NAME


def decode_line(line: bytes, state: ReadState) -> list[Span] | None:
    """The spans of one canonical OTLP JSON line (``{"resourceSpans": [...]}``), or None
    when the line is not canonical (nothing counted, nothing changed but interned strings
    and what `ReadState.recognised` keeps)."""
    try:
        out: list[Span] = []
        for rs in _DECODE(line).resourceSpans:
            service = None
            if rs.resource:
                service = resource_service(orjson.loads(memoryview(rs.resource)))
                if service is not None:
                    service = state.strings.setdefault(service, service)
            for scope in rs.scopeSpans:
                if scope.spans:
                    _convert(scope.spans, service, state, out)
        return out
    except _DECLINE:
        return None


Recognition = tuple[str, str | None, str | None, bool, str | None, int, bool]
"""What a span's name, kind and attributes make of it, in `Span`'s terms, but for its turn id
and first-chunk attributes: (interned name, stage, stage kind, is turn, stage source, turn
candidate, open). Open: the attributes recognised nothing, so its events' names may; its
other fields are then what `conventions.classify_events` makes of the name alone."""
Recognised = tuple[
    str, str | None, str | None, bool, str | None, int, bool, str | None, dict[str, Any] | None
]
"""A `Recognition`, then the turn id and the first-chunk attributes (None for none)."""
Seen = tuple[Raw, Recognised] | tuple[None, "_Shape"]
"""What `ReadState.recognised` keeps by span name, kind and attribute length: the attribute
bytes first met and what they are, or the shape that read such a span (`_first_met`)."""


def _convert(spans: list[_Span], service: str | None, state: ReadState, out: list[Span]) -> None:
    """Append the canonical spans of one scope to `out`, or raise `_NotCanonical` when one
    is not (ids are checked after the loop: `decode_line` then drops `out`):
    `otlp._decode_spans` for canonical spans.

    A span whose name, kind and attribute bytes were met before takes what was recognised
    then (`Recognised`, from `ReadState.recognised`): its attributes are not decoded again.
    They are looked up by name, kind and length (`Seen`), and compared byte for byte
    (hashing them would cost 3,000 instructions a span); those whose values differ span
    after span (a turn's id, a token count) are read by the shape found under the same
    key, and attributes of the same length met later than others by the shapes of their
    name and kind (`_first_met`). Only a span with events or first-chunk attributes costs
    more (`_read_events`).

    The spans are held until their traces end (`traces.group_traces`), so what each keeps
    costs: the spans of a trace share one trace id string, siblings one parent id string
    (their own copies, made by the decoder, are dropped with the line's records).
    """
    known_get = state.recognised.get
    append = out.append
    ids: list[str] = []  # the trace, parent and span ids, checked together (`_check_ids`)
    last_trace = last_parent = ""
    for s in spans:
        trace_id = s.traceId
        if trace_id != last_trace:  # a scope holds a few traces, their spans together
            ids.append(trace_id)
            last_trace = trace_id
        parent = s.parentSpanId
        if parent == last_parent:  # siblings: one copy of their parent's id (as the trace's)
            parent = last_parent
        elif parent is not None:
            ids.append(parent)
            last_parent = parent
        span_id = s.spanId
        ids.append(span_id)
        start = s.startTimeUnixNano
        end = s.endTimeUnixNano
        kind = s.kind
        if start.__class__ is not int or end.__class__ is not int or kind.__class__ is not int:
            raise _NotCanonical  # a float or string (see `_DECODE`): the tolerant reader's
        raw = s.attributes
        seen: Seen | None = known_get((s.name, kind, len(raw)))
        if seen is not None and seen[0] == raw:
            known: Recognised = seen[1]
        else:
            data = bytes(raw)
            # a turn, a streamed stage: by their shape
            shaped = seen[1].read(data) if seen is not None and seen[0] is None else None
            known = shaped if shaped is not None else _first_met(s.name, kind, data, state)
        name, stage, stage_kind, is_turn, source, candidate, open_, turn_id, chunk = known
        status = s.status
        span = Span(
            last_trace,
            span_id,
            parent,
            name,
            start,
            end,
            stage,
            stage_kind,
            is_turn,
            turn_id,
            status != _NO_STATUS and _error(status),
            service,
            kind,
            False,
            None,
            source,
            candidate,
        )
        span_events = s.events
        if span_events or chunk is not None:
            _read_events(span, state, span_events, chunk, open_)
        append(span)
    _check_ids(ids)


def _check_ids(ids: list[str]) -> None:
    """Raise `_NotCanonical` unless every id of `ids` is lower-case ASCII, as
    `otlp._decode_spans` keeps an id of the right width (the decoder checked widths)
    without a word; one string test for a whole scope, in place of a ``lower()`` per id
    (a trace id or parent id repeated span after span is listed once)."""
    joined = "".join(ids)
    if not joined.isascii() or joined.lower() != joined:  # islower(): 15x, not ASCII-fast
        raise _NotCanonical


def _error(status: Raw) -> bool:
    """`otlp._decode_spans`'s error test, for a status written other than ``{}``: its code is
    an error code (a status missing or null has none); one neither an object nor null is
    declined, as one whose code cannot be hashed (never an error code)."""
    if not status:
        return False
    value = orjson.loads(memoryview(status))
    if value is None:
        return False
    if value.__class__ is not dict:
        raise _NotCanonical
    return value.get("code") in _ERROR_CODES


def _first_met(name: str, kind: int, raw: bytes, state: ReadState) -> Recognised:
    """What a span of this name, kind and attribute bytes is (`Recognised`): read with a
    shape of its attributes met before (`_Shape`), else recognised from them (`_recognise`)."""
    shapes: list[_Shape | None] | None = state.recognised.get((name, kind))
    if shapes is not None:
        for shape in shapes:
            found = None if shape is None else shape.read(raw)
            if found is not None:
                memo = state.recognised
                if len(memo) < _MEMO_SIZE:  # found in one look-up next time (`_convert`)
                    memo.setdefault((name, kind, len(raw)), (None, shape))
                return found
    return _recognise(name, kind, raw, state)


def _recognise(name: str, kind: int, raw: bytes, state: ReadState) -> Recognised:
    """What a span of this name, kind and attribute bytes is, as `otlp._decode_spans` and
    `finish_span`'s step 1 recognise it (with their functions, on the attributes decoded by
    orjson as there); for an open span (see `Recognised`), what `conventions.classify_events`
    makes of its name alone.

    Kept in `ReadState.recognised` with these bytes (by name, kind and their length, the
    first met of that length) unless it holds a turn id or first-chunk attributes (which
    differ span after span), and as a `_Shape` of the attributes when some of their values
    may differ in the next span of this name and kind.
    """
    name = state.strings.setdefault(name, name)
    attributes = orjson.loads(raw) if raw else None
    span = Span("", "", None, name, None, None, kind=kind)
    recognised, chunk = recognise_known(span, attributes, state)
    classify_attributes(span, recognised)
    open_ = span.stage is None and not span.is_turn and not span.turn_candidate
    finish_events(span, state, None, [])  # what the name alone makes of an open span
    found: Recognised = (
        name,
        span.stage,
        span.stage_kind,
        span.is_turn,
        span.stage_source,
        span.turn_candidate,
        open_,
        span.turn_id,
        chunk,
    )
    memo = state.recognised
    if len(memo) < _MEMO_SIZE:
        seen = (name, kind, len(raw))
        if chunk is None and span.turn_id is None and seen not in memo:
            memo[seen] = (Raw(raw), found)
        shapes = memo.get((name, kind), ())
        if len(shapes) < _SHAPES and attributes.__class__ is list:
            before = memo.get((name, kind, None))  # the last attributes recognised here
            memo[name, kind, None] = attributes
            if before is not None:
                holes = {hole for shape in shapes if shape is not None for hole in shape.holes}
                shape = _Shape.of(attributes, raw, found, before, holes)
                memo[name, kind] = [*shapes, shape]  # None: of no shape (tried `_SHAPES` times)
    return found


_SHAPES = 8
"""Shapes made per span name and kind (`_Shape`), at most: each has more holes than the last."""
_STRING_HOLE = frozenset(("stringValue", "intValue"))
_NUMBER_HOLE = frozenset(("intValue", "doubleValue"))
_STRING = rb'"[^"\\]*(?:\\.[^"\\]*)*"'
"""A JSON string (with its quotes)."""
_NUMBER = rb"[-0-9][-+.0-9eE]*"
"""A JSON number."""


class _Shape:
    """The attribute bytes of the spans of one name and kind that differ only in scalar
    values recognition does not read: a pattern of their JSON text, with a hole in place of
    each such value (a turn's id, a token count, a first-chunk delay), and what the span is
    apart from them.

    `read` matches a span's attribute bytes with the pattern (no decoding: the text around
    the holes is compared byte for byte) and decodes only the holes it needs (turn id,
    first-chunk attributes), with the tolerant reader's functions: the turns and streamed
    stages of a pipeline, whose attribute bytes differ span after span, are read without
    decoding their attributes. Built by `of` from attributes recognised before.
    """

    __slots__ = ("chunk", "found", "head", "holes", "pattern", "turn")

    def __init__(
        self, head: bytes, pattern: bytes, found: Recognition, holes: frozenset[tuple[int, str]]
    ) -> None:
        self.head = head
        """The text before the first hole: compared as bytes (a regular expression compares
        each byte in turn, at 18 instructions a byte)."""
        self.pattern = re.compile(pattern)
        """The rest, from the first hole on."""
        self.found = found
        """What a span of this shape is, but for the turn id and first-chunk attributes."""
        self.holes = holes
        """(index, key) of the attributes whose value is a hole."""
        self.chunk: list[tuple[str, int, Any]] = []
        """The first-chunk attributes: (key, group of its hole or 0, what `otlp.any_value`
        does to the wrapper's value, or the value)."""
        self.turn: tuple[int, Any] | None = None
        """The last turn id: (group of its hole or 0, wrapper key or the wrapper)."""

    @staticmethod
    def of(
        attributes: list[Any],
        raw: bytes,
        found: Recognised,
        before: list[Any],
        holes: set[tuple[int, str]],
    ) -> _Shape | None:
        """The shape of `attributes` (decoded from `raw`) recognised as `found`, with a hole
        for each scalar value recognition does not read and that differs from the span
        recognised `before` or was a hole of an earlier shape (`holes`: so that shapes grow
        more general); the first-chunk attributes and a ``rag.turn`` span's id, read per
        span, always. None without any hole, or when `raw` is not written as orjson writes
        `attributes` (spacing, escapes)."""
        turn_named = found[0] == _TURN_NAME
        alike = len(before) == len(attributes)
        head = b"["
        pattern: list[bytes] = []
        tail = b""  # the text since the last hole
        read: list[tuple[str, str]] = []  # (key, wrapper) of the holes read per span, in order
        made: set[tuple[int, str]] = set()
        per_span: list[str] = []  # the keys read per span (a turn id, first-chunk values)
        for i, kv in enumerate(attributes):
            text = b"," if i else b""
            wrapper = _hole(kv, turn_named)
            key = kv["key"]
            kept = key in _CHUNK_KEYS or key == _RAG_TURN_ID
            if kept:
                per_span.append(key)
            unchanged = alike and before[i] == kv and (i, key) not in holes
            if unchanged and not kept:  # the same value twice: part of the text
                wrapper = None
            if wrapper is None:
                text += orjson.dumps(kv)
                if made:
                    tail += text
                else:
                    head += text
                continue
            opened = b'{"key":' + orjson.dumps(key) + b',"value":{' + orjson.dumps(wrapper) + b":"
            value = _STRING if kv["value"][wrapper].__class__ is str else _NUMBER
            if made:
                pattern.append(re.escape(tail + text + opened))
            else:
                head += text + opened
            pattern.append(b"(%s)" % value if kept else b"(?:%s)" % value)
            tail = b"}}"  # the wrapper's and the attribute's ends
            made.add((i, key))
            if kept:
                read.append((key, wrapper))
        if not made or len(set(per_span)) != len(per_span):  # none, or a key read twice
            return None
        pattern.append(re.escape(tail + b"]"))
        shape = _Shape(head, b"".join(pattern), found[:7], frozenset(made))
        # per key read (one each: repeated ones refused above), its group and wrapper
        group = {key: (i, wrapper) for i, (key, wrapper) in enumerate(read, 1)}
        for kv in attributes:
            key = kv["key"]
            if key in _CHUNK_KEYS:
                if key in group:  # `otlp.any_value` of a one-key wrapper: its conversion
                    i, wrapper = group[key]
                    entry = (i, WRAPPERS[wrapper])
                else:
                    entry = (0, any_value(kv["value"]))
                shape.chunk.append((key, *entry))
            elif turn_named and key == _RAG_TURN_ID:
                shape.turn = group[key] if key in group else (0, kv["value"])
        if shape.read(raw) != found:  # read as it was recognised, or not kept
            return None
        return shape

    def read(self, raw: bytes) -> Recognised | None:
        """What a span with these attribute bytes is, or None when they are not of this shape."""
        head = self.head
        if not raw.startswith(head):
            return None
        match = self.pattern.fullmatch(raw, len(head))
        if match is None:
            return None
        chunk: dict[str, Any] | None = None
        if self.chunk:
            chunk = {}
            for key, group, convert in self.chunk:
                chunk[key] = convert(orjson.loads(match[group])) if group else convert
        turn_id = None
        turn = self.turn
        if turn is not None:
            group, wrapper = turn
            if not group:
                turn_id = None if wrapper is None else turn_text(wrapper)
            elif wrapper == "stringValue":  # `otlp.turn_text` of a string: the string
                turn_id = orjson.loads(match[group])
            else:
                turn_id = turn_text({wrapper: orjson.loads(match[group])})
        return self.found + (turn_id, chunk)  # noqa: RUF005 (one tuple, no list between)


def _hole(kv: Any, turn_named: bool) -> str | None:
    """The wrapper key of attribute `kv`'s value when `_Shape` makes a hole of it: a scalar
    (a string, or a number) in a one-key wrapper, of an attribute whose value recognition
    does not read (a turn id, read per span, aside); None otherwise."""
    if kv.__class__ is not dict or list(kv) != ["key", "value"]:
        return None
    key, value = kv["key"], kv["value"]
    if key.__class__ is not str or value.__class__ is not dict or len(value) != 1:
        return None
    if key in WANTED and key not in _CHUNK_KEYS and not (turn_named and key == _RAG_TURN_ID):
        return None
    [(wrapper, x)] = value.items()
    if x.__class__ is str and wrapper in _STRING_HOLE:
        return wrapper  # type: ignore[no-any-return]
    if x.__class__ in (int, float) and wrapper in _NUMBER_HOLE:
        return wrapper  # type: ignore[no-any-return]
    return None


def _read_events(
    span: Span,
    state: ReadState,
    span_events: list[_Event] | None,
    chunk: dict[str, Any] | None,
    open_: bool,
) -> None:
    """`finish_events` for a span with events or first-chunk attributes: its first chunk,
    and, when its attributes recognised nothing (`open_`), what its events' names make of it
    (in place of what `_recognise` made of its name alone)."""
    if not open_:
        at = _own_first_chunk(chunk, span_events)
        if at is not None:
            span.first_chunk_ns = at
            return
    listed = [
        (e.name, e.timeUnixNano)
        for e in span_events or ()
        if e.name.__class__ is str and e.name in EVENT_NAMES
    ]  # `otlp.events`
    if open_ and listed:
        span.stage = span.stage_kind = span.stage_source = None
        span.turn_candidate = TURN_NONE
    if any(time.__class__ is float for _, time in listed):
        raise _NotCanonical  # perhaps a string of one (see `_DECODE`), which it would not read
    finish_events(span, state, chunk, listed)


def _own_first_chunk(chunk: dict[str, Any] | None, span_events: list[_Event] | None) -> int | None:
    """`first_token.first_chunk_ns` for rag-otel's streamed stages: one event, ``rag.first_chunk``
    with a valid time (an int, as `_Event` decodes it: then in range), on a span whose
    first-chunk attributes hold nothing `first_token.shows_answer` reads (it is then True);
    None otherwise, for `first_chunk_ns` to tell. A copy of that case (13,000 instructions a
    span there, a tenth here), compared with it in ``tests/analysis/test_otlp_fast.py``."""
    if span_events is None or len(span_events) != 1:
        return None
    event = span_events[0]
    time = event.timeUnixNano
    if event.name != _FIRST_CHUNK_EVENT or time.__class__ is not int:
        return None
    if chunk is not None and not _OUTPUT_ATTRIBUTES.isdisjoint(chunk):
        return None
    return time

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

import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from typing import IO, Any, Final, cast

from rag_otel.analysis.model import Diagnostics, InputError, Span
from rag_otel.analysis.readers.common import ReadState
from rag_otel.analysis.readers.stream import read_batches

__all__ = [
    "FORMATS",
    "LIVE_OPTIONS",
    "PHOENIX_LIVE_OPTIONS",
    "WARNINGS",
    "InputError",
    "read_many",
    "read_many_batches",
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
    return chain.from_iterable(_read_one(source, format, state, live_options))


def read_many(
    sources: Iterable[Source],
    *,
    format: str | None = None,
    diagnostics: Diagnostics,
    keep_attributes: bool = False,
    **live_options: Any,
) -> Iterator[Span]:
    """The spans of several inputs, one after another. `live_options` go to the URL sources only."""
    return chain.from_iterable(
        read_many_batches(
            sources,
            format=format,
            diagnostics=diagnostics,
            keep_attributes=keep_attributes,
            **live_options,
        )
    )


def read_many_batches(
    sources: Iterable[Source],
    *,
    format: str | None = None,
    diagnostics: Diagnostics,
    keep_attributes: bool = False,
    **live_options: Any,
) -> Iterator[Sequence[Span]]:
    """`read_many`'s spans in batches (a line's, a document's, a live span alone): for a
    caller that counts them, or flattens them with `itertools.chain` at no cost per span."""
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
) -> Iterator[Sequence[Span]]:
    if fmt is not None and fmt not in FORMATS:
        raise InputError(
            state.source,
            None,
            f"unknown input format {fmt!r}: expected one of {', '.join(FORMATS)}",
        )
    if is_url(source) or fmt in _LIVE_FORMATS:
        yield from ((span,) for span in _read_live(source, fmt, state, live_options))
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
            yield from read_batches(stream, fmt, state)
    elif source == "-":
        yield from read_batches(sys.stdin.buffer, fmt, state)
    else:
        yield from read_batches(cast(IO[bytes], source), fmt, state)


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

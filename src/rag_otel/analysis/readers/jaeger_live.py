"""Read spans from a running Jaeger query service (port 16686).

    from rag_otel.analysis.readers import read_spans

    spans = read_spans("http://127.0.0.1:16686", service="faq-bot", since="1h",
                       diagnostics=diagnostics)

Options (all keyword): ``service`` (required; a missing one is an error that lists the
services Jaeger knows), ``since`` (how far back: a duration such as ``"1h"``, ``"30m"``,
``"1h30m"``, or an RFC 3339 time; default ``"1h"``), ``until`` (same forms; default now),
``limit`` (at most this many traces, newest windows first; default: all), ``num_traces``
(traces per request, default 100), ``operation`` (only traces with this operation),
``timeout`` (seconds per request, default 10).

It asks api_v3, ``GET /api/v3/traces?query.service_name=S&query.start_time_min=T0&
query.start_time_max=T1&query.num_traces=N`` (RFC 3339 times; the snake_case parameter
names every Jaeger v2 release reads, sent together with the camelCase names
``query.serviceName``, ``query.startTimeMin``, ``query.startTimeMax``,
``query.searchDepth`` that Jaeger 2.19+ prefers and later releases may require: a
server takes the form it knows and ignores the other). A request returns at most N traces, so
reading is paged by time window: a window that comes back full is split in two and each
half is asked again (the newer half first), until every window comes back with fewer
than N traces; traces met in two windows are read once. HTTP 404 ``No traces found``
is an empty window. A server without api_v3 (404 ``page not found``, or an answer of
another shape) is asked the v1 search ``GET /api/traces?service=S&start=&end=&limit=``
(microseconds) instead, paged the same way. Network failures, timeouts and error
answers raise `InputError` naming the URL and the reason.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import orjson

from rag_otel.analysis.isotime import option_time_ns, rfc3339
from rag_otel.analysis.model import InputError, Span
from rag_otel.analysis.readers import jaeger, otlp
from rag_otel.analysis.readers.common import ReadState, type_name
from rag_otel.analysis.readers.http_get import HttpGet, snippet

DEFAULT_SINCE = "1h"
DEFAULT_NUM_TRACES = 100
DEFAULT_TIMEOUT = 10.0
MIN_WINDOW_NS = 2_000
"""Windows are not split below 2 µs: Jaeger's v1 timestamps are microseconds."""


def _json(body: bytes) -> Any:
    """A JSON body; also the newline-delimited stream older api_v3 gateways write."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        lines = [line for line in body.splitlines() if line.strip()]
        if len(lines) < 2:
            raise
        return [orjson.loads(line) for line in lines]


def _error_message(body: bytes) -> str | None:
    """The message of a Jaeger error body ``{"error": {"httpCode", "message"}}``, if it is one."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(obj, dict) and isinstance(obj.get("error"), dict):
        return str(obj["error"].get("message", ""))
    if isinstance(obj, dict) and obj.get("errors"):
        return str(obj["errors"])
    return None


def _services(client: HttpGet) -> list[str] | None:
    for path, key in (("/api/v3/services", "services"), ("/api/services", "data")):
        try:
            status, body, _ = client.get(path, {})
            obj = orjson.loads(body) if status == 200 else None
        except (InputError, orjson.JSONDecodeError):
            continue
        if isinstance(obj, dict) and isinstance(obj.get(key), list):
            return sorted(str(s) for s in obj[key])
    return None


def query_base(url: str) -> str:
    """The query service's base URL: a pasted UI address (``.../search?service=x``) works too."""
    parts = urllib.parse.urlsplit(url)
    path = parts.path.rstrip("/")
    if path.endswith("/search"):
        path = path[: -len("/search")]
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


class _ApiMissing(Exception):
    """The server has no api_v3 search: fall back to v1."""


def read_live(
    url: str,
    state: ReadState,
    *,
    service: str | None = None,
    since: object = DEFAULT_SINCE,
    until: object = None,
    limit: int | None = None,
    num_traces: int | None = None,
    operation: str | None = None,
    timeout: float | None = None,
) -> Iterator[Span]:
    """The spans of the traces of `service` in [since, until], window by window (see the module doc)."""
    base = query_base(url)
    client = HttpGet(
        base,
        timeout=DEFAULT_TIMEOUT if timeout is None else float(timeout),
        peer="Jaeger",
        server="a reachable Jaeger query service",
    )
    if not service:
        known = _services(client)
        listed = f"; services here: {', '.join(known)}" if known else ""
        raise InputError(
            base, None, f"expected a service to read (option service, --service){listed}"
        )
    page = DEFAULT_NUM_TRACES if num_traces is None else int(num_traces)
    if page < 1 or (limit is not None and int(limit) < 1):
        raise InputError(base, None, "expected num_traces and limit to be at least 1")
    now_ns = time.time_ns()
    t_max = now_ns if until is None else option_time_ns(until, "until", now_ns, base)
    t_min = option_time_ns(DEFAULT_SINCE if since is None else since, "since", now_ns, base)
    if t_min >= t_max:
        raise InputError(
            base, None, f"expected since ({rfc3339(t_min)}) to be before until ({rfc3339(t_max)})"
        )

    diag = state.diagnostics
    api = "v3"
    seen_traces: set[str] = set()
    n_traces = 0
    windows = [(t_min, t_max)]
    while windows:
        lo, hi = windows.pop()
        try:
            spans = _fetch(client, api, state, service, operation, lo, hi, page)
        except _ApiMissing as missing:
            if api == "v1":
                raise InputError(
                    base,
                    None,
                    f"expected a Jaeger query service (no api_v3 and no v1 search: {missing})",
                ) from None
            api = "v1"
            diag.warn("live-v1-fallback", f"{base}: {missing}")
            windows.append((lo, hi))  # ask again, the v1 way
            continue
        by_trace: dict[str, list[Span]] = {}
        for span in spans:
            by_trace.setdefault(span.trace_id, []).append(span)
        if len(by_trace) >= page:
            if hi - lo >= 2 * MIN_WINDOW_NS:
                mid = (lo + hi) // 2
                windows.append((lo, mid))
                windows.append((mid, hi))  # popped first: newer traces first
                continue
            diag.warn(
                "live-window-full",
                f"{base}: {len(by_trace)} traces between {rfc3339(lo)} and {rfc3339(hi)}; some may be missing",
            )
        for trace_id, trace_spans in by_trace.items():
            if trace_id in seen_traces:
                continue
            if limit is not None and n_traces >= limit:
                diag.warn("live-limit-reached", f"{base}: stopped at {limit} traces")
                return
            seen_traces.add(trace_id)
            n_traces += 1
            yield from trace_spans
    if n_traces == 0:
        diag.warn("no-spans", f"{base}: no traces of service {service!r} in the window")


def _fetch(
    client: HttpGet,
    api: str,
    state: ReadState,
    service: str,
    operation: str | None,
    lo: int,
    hi: int,
    page: int,
) -> list[Span]:
    """One window's spans."""
    if api == "v3":
        path = "/api/v3/traces"
        lo_text, hi_text = rfc3339(lo), rfc3339(hi)
        params = {
            # canonical camelCase (Jaeger >= 2.19), then the snake_case names every v2
            # release reads; a server uses the first form it knows and ignores the other
            "query.serviceName": service,
            "query.startTimeMin": lo_text,
            "query.startTimeMax": hi_text,
            "query.searchDepth": str(page),
            "query.service_name": service,
            "query.start_time_min": lo_text,
            "query.start_time_max": hi_text,
            "query.num_traces": str(page),
        }
        if operation:
            params["query.operationName"] = operation
            params["query.operation_name"] = operation
    else:
        path = "/api/traces"
        params = {
            "service": service,
            "start": str(lo // 1000),
            "end": str(hi // 1000),
            "limit": str(page),
        }
        if operation:
            params["operation"] = operation
    status, body, full_url = client.get(path, params)
    message = _error_message(body)
    if status == 404:
        if message is not None:
            return []  # "No traces found"
        raise _ApiMissing(f"HTTP 404 on {path}: {snippet(body)}")
    if status != 200:
        reason = message if message is not None else snippet(body)
        raise InputError(
            client.base, None, f"expected HTTP 200 from {path}, got {status}: {reason}"
        )
    try:
        obj = _json(body)
    except orjson.JSONDecodeError:
        if api == "v3":
            raise _ApiMissing(f"{path} answered non-JSON: {snippet(body)}") from None
        raise InputError(
            full_url, None, f"expected JSON from Jaeger, got {snippet(body)}"
        ) from None
    window_state = ReadState(
        f"{client.base}{path}",
        state.diagnostics,
        keep_attributes=state.keep_attributes,
        strings=state.strings,
    )
    if api == "v3":
        objs = obj if isinstance(obj, list) else [obj]
        spans: list[Span] = []
        for one in objs:
            result = one.get("result") if isinstance(one, dict) else None
            if not isinstance(result, dict):
                raise _ApiMissing(f'{path} answered {type_name(one)} without a "result"')
            resource_spans = result.get("resourceSpans", result.get("resource_spans", []))
            spans.extend(otlp.decode_resource_spans(resource_spans, window_state, None))
        return spans
    if not isinstance(obj, dict) or "data" not in obj:
        raise InputError(
            full_url,
            None,
            f'expected a Jaeger v1 answer {{"data": [...]}}, got {type_name(obj)}',
        )
    if obj.get("errors") and not obj.get("data"):
        raise InputError(
            client.base, None, f"expected traces from {path}, got errors: {obj['errors']!r}"
        )
    return jaeger.decode_response(obj, window_state, None)

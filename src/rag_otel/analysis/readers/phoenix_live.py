"""Read spans from a running Phoenix (its REST API, port 6006 by default).

    from rag_otel.analysis.readers import read_spans

    spans = read_spans("phoenix+http://127.0.0.1:6006/my-project", since="1h",
                       diagnostics=diagnostics)

The source is ``phoenix+http://HOST:PORT/PROJECT`` (or ``phoenix+https://``): Phoenix's
base URL (with the root path it is served under, if any) followed by the project's name
or id, as the ``prometheus+http://`` source names a Prometheus. With
``format="phoenix-live"`` the ``phoenix+`` prefix may be left out. A URL without a
project is an error that lists the projects Phoenix knows.

It asks ``GET /v1/projects/{project}/spans?limit=1000`` and follows ``next_cursor`` page
after page until Phoenix answers without one (a cursor met twice is an error, so a
misbehaving server cannot keep the reader looping); each page is read like a Phoenix
REST export file (`rag_otel.analysis.readers.phoenix`).

Options (all keyword): ``since`` and ``until`` (a duration such as ``"1h"`` back from now,
or an RFC 3339 time; spans are selected by start time; default: the whole project),
``limit`` (at most this many traces, the newest first: their root spans are listed first
with ``parent_id=null``, then their spans fetched with ``trace_id=``), ``timeout``
(seconds per request, default 10). ``PHOENIX_API_KEY`` in the environment is sent as a
bearer token (Phoenix with authentication enabled). Network failures, timeouts, HTTP
errors (404: no such project, with the list of projects) and answers that are not JSON
spans pages raise `InputError` naming the URL and the reason.
"""

from __future__ import annotations

import os
import time
import urllib.parse
from collections.abc import Iterator
from typing import Any

import orjson

from rag_otel.analysis.isotime import option_time_ns, rfc3339
from rag_otel.analysis.model import InputError, Span
from rag_otel.analysis.readers import phoenix
from rag_otel.analysis.readers.common import ReadState, type_name
from rag_otel.analysis.readers.http_get import HttpGet, Params, snippet
from rag_otel.analysis.readers.jaeger_live import DEFAULT_TIMEOUT

SCHEMES = ("phoenix+http://", "phoenix+https://")
PAGE_SIZE = 1000
"""Spans per request: the most Phoenix answers (its ``limit`` is at most 1000)."""
TRACE_IDS_PER_REQUEST = 50
API_KEY_ENV = "PHOENIX_API_KEY"


def is_phoenix_url(source: object) -> bool:
    return isinstance(source, str) and source.startswith(SCHEMES)


def split_url(url: str) -> tuple[str, str | None]:
    """(Phoenix's base URL, the project or None) of a ``phoenix+http://HOST:PORT/PROJECT``."""
    plain = url.split("+", 1)[1] if is_phoenix_url(url) else url
    parts = urllib.parse.urlsplit(plain)
    segments = [s for s in parts.path.split("/") if s]
    project = urllib.parse.unquote(segments.pop()) if segments else None
    path = "/" + "/".join(segments) if segments else ""
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", "")), project


def read_live(
    url: str,
    state: ReadState,
    *,
    since: object = None,
    until: object = None,
    limit: int | None = None,
    timeout: float | None = None,
) -> Iterator[Span]:
    """The spans of the project in `url`, page by page (see the module doc)."""
    base, project = split_url(url)
    key = os.environ.get(API_KEY_ENV)
    client = HttpGet(
        base,
        timeout=DEFAULT_TIMEOUT if timeout is None else float(timeout),
        peer="Phoenix",
        server="a reachable Phoenix server",
        headers={"Authorization": f"Bearer {key}"} if key else None,
    )
    if not project:
        raise InputError(
            base,
            None,
            f"expected a project: phoenix+{base}/PROJECT{_projects_here(client)}",
        )
    if limit is not None and int(limit) < 1:
        raise InputError(base, None, "expected limit to be at least 1")
    window: list[tuple[str, str]] = []
    now_ns = time.time_ns()
    if since is not None:
        window.append(("start_time", rfc3339(option_time_ns(since, "since", now_ns, base))))
    if until is not None:
        window.append(("end_time", rfc3339(option_time_ns(until, "until", now_ns, base))))
    path = f"/v1/projects/{urllib.parse.quote(project, safe='')}/spans"
    reader = _Pages(client, path, project, state)
    n = 0
    if limit is None:
        for spans in reader.pages(window):
            n += len(spans)
            yield from spans
    else:
        for trace_ids in _batches(reader.newest_traces(window, int(limit)), TRACE_IDS_PER_REQUEST):
            for spans in reader.pages(window + [("trace_id", t) for t in trace_ids]):
                n += len(spans)
                yield from spans
    if n == 0:
        state.diagnostics.warn("no-spans", f"{base}: no spans in project {project!r}")


class _Pages:
    """One project's spans pages, cursor after cursor."""

    def __init__(self, client: HttpGet, path: str, project: str, state: ReadState) -> None:
        self.client = client
        self.path = path
        self.project = project
        self.state = ReadState(
            client.base + path,
            state.diagnostics,
            keep_attributes=state.keep_attributes,
            strings=state.strings,
        )

    def pages(self, params: list[tuple[str, str]]) -> Iterator[list[Span]]:
        cursors: set[str] = set()
        cursor: str | None = None
        while True:
            query = [("limit", str(PAGE_SIZE)), *params]
            if cursor is not None:
                query.append(("cursor", cursor))
            page = self._get(query)
            yield phoenix.decode_page(page, self.state, None)
            cursor = page.get("next_cursor")
            if not cursor:
                return
            if cursor.__class__ is not str or cursor in cursors:
                raise InputError(
                    self.client.base,
                    None,
                    f"expected a new next_cursor from {self.path}, got {cursor!r} again",
                )
            cursors.add(cursor)

    def newest_traces(self, params: list[tuple[str, str]], limit: int) -> list[str]:
        """The trace ids of the newest `limit` root spans (``live-limit-reached`` if there are more)."""
        seen: dict[str, None] = {}
        for spans in self.pages([*params, ("parent_id", "null")]):
            for span in spans:
                if span.trace_id in seen:
                    continue
                if len(seen) == limit:
                    self.state.diagnostics.warn(
                        "live-limit-reached", f"{self.client.base}: stopped at {limit} traces"
                    )
                    return list(seen)
                seen[span.trace_id] = None
        return list(seen)

    def _get(self, query: Params) -> dict[str, Any]:
        status, body, url = self.client.get(self.path, query)
        if status == 404:
            raise InputError(
                self.client.base,
                None,
                f"expected project {self.project!r} on this Phoenix (HTTP 404: "
                f"{_detail(body)}){_projects_here(self.client)}",
            )
        if status in (401, 403):
            raise InputError(
                self.client.base,
                None,
                f"expected access to {self.path} (HTTP {status}: {_detail(body)}; "
                f"set {API_KEY_ENV} for a Phoenix with authentication)",
            )
        if status != 200:
            raise InputError(
                self.client.base,
                None,
                f"expected HTTP 200 from {self.path}, got {status}: {_detail(body)}",
            )
        try:
            page = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise InputError(
                url, None, f"expected JSON from Phoenix, got {snippet(body)}"
            ) from None
        if page.__class__ is not dict or not phoenix.is_page(page):
            raise InputError(
                url,
                None,
                'expected a Phoenix spans page {"data": [...], "next_cursor": ...}, '
                f"got {type_name(page)}"
                + (f" with keys {', '.join(repr(k) for k in list(page)[:4])}" if page else ""),
            )
        result: dict[str, Any] = page
        return result


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _detail(body: bytes) -> str:
    """FastAPI's ``{"detail": ...}`` message, a plain-text body, or its start."""
    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return snippet(body)
    if isinstance(obj, dict) and "detail" in obj:
        return str(obj["detail"])[:200]
    return snippet(body)


def _projects_here(client: HttpGet) -> str:
    """``; projects here: a, b`` from ``GET /v1/projects``, or "" if that fails."""
    try:
        status, body, _ = client.get("/v1/projects", {})
        obj = orjson.loads(body) if status == 200 else None
    except (InputError, orjson.JSONDecodeError):
        return ""
    data = obj.get("data") if isinstance(obj, dict) else None
    if not isinstance(data, list):
        return ""
    names = [str(p.get("name")) for p in data if isinstance(p, dict) and p.get("name")]
    return f"; projects here: {', '.join(names)}" if names else ""

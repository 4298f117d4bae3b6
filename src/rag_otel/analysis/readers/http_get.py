"""GET JSON from a trace store's HTTP API, with a bounded timeout and one-line errors.

    client = HttpGet("http://127.0.0.1:16686", timeout=10.0, peer="Jaeger",
                     server="a reachable Jaeger query service")
    status, body, url = client.get("/api/v3/services", {})

The one HTTP client of the analysis: the live readers (`jaeger_live`, `phoenix_live`) and
`rag_otel.analysis.prometheus` use it. HTTP error statuses are returned for the caller to
explain; a refused connection, a timeout (raised as `TimeoutError` or as a `URLError`
whose reason is one), a reset or a bad URL raises `InputError` naming the source (the base
URL unless `source` is given) and what was expected. Requests to a
loopback host bypass any proxy configured in the environment (it could not reach our
loopback anyway).
"""

from __future__ import annotations

import http.client
import ipaddress
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence

from rag_otel.analysis.model import InputError

Params = Mapping[str, str] | Sequence[tuple[str, str]]


class HttpGet:
    """GET with a bounded timeout; every failure becomes InputError naming the URL."""

    def __init__(
        self,
        base: str,
        *,
        timeout: float,
        peer: str,
        server: str,
        headers: Mapping[str, str] | None = None,
        source: str | None = None,
    ) -> None:
        self.base = base
        self.source = base if source is None else source
        """How messages name the server: the base URL, or the source as the user wrote it
        (``prometheus+http://...``)."""
        self.headers = {"Accept": "application/json", **(headers or {})}
        self.timeout = timeout
        self.peer = peer
        """Who answers, in messages: ``Jaeger``, ``Phoenix``."""
        self.server = server
        """What a refused connection expected: ``a reachable Jaeger query service``."""
        host = urllib.parse.urlsplit(base).hostname or ""
        handlers: list[urllib.request.BaseHandler] = []
        if is_loopback(host):
            handlers.append(urllib.request.ProxyHandler({}))
        self.opener = urllib.request.build_opener(*handlers)

    def url(self, path: str, params: Params) -> str:
        return self.base + path + ("?" + urllib.parse.urlencode(params) if params else "")

    def get(self, path: str, params: Params) -> tuple[int, bytes, str]:
        """(status, body, url). HTTP error statuses are returned, not raised."""
        url = self.url(path, params)
        request = urllib.request.Request(url, headers=self.headers)
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                return response.status, response.read(), url
        except urllib.error.HTTPError as exc:
            try:
                body = exc.read()
            except (OSError, http.client.HTTPException):
                body = b""
            return exc.code, body, url
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise self._timed_out(path) from None
            raise InputError(self.source, None, f"expected {self.server} ({exc.reason})") from None
        except TimeoutError:
            raise self._timed_out(path) from None
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise InputError(
                self.source, None, f"expected a {self.peer} answer on {path} ({exc!r})"
            ) from None

    def _timed_out(self, path: str) -> InputError:
        return InputError(
            self.source,
            None,
            f"expected a {self.peer} answer within {self.timeout:g} s (timed out on {path})",
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def snippet(body: bytes) -> str:
    """The start of a body, for messages."""
    text = body.decode("utf-8", "replace").strip().replace("\n", " ")
    return repr(text[:80]) if text else "an empty body"

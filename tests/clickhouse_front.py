"""A small HTTP front on 127.0.0.1 that answers ClickHouse's HTTP interface by running the
queries in chDB: no ClickHouse server can be installed on this machine.

It is as much of the interface as ``clickhouse-connect`` uses: the query in the ``query``
parameter and/or the body, the output format from a trailing ``FORMAT X`` (or
``default_format``), the user and password from Basic auth or the ``X-ClickHouse-User`` /
``X-ClickHouse-Key`` headers (a wrong one gets ClickHouse's ``Code: 516`` refusal), and
errors as ClickHouse writes them (``Code: N. DB::Exception: ...`` with status 500 and the
``X-ClickHouse-Exception-Code`` header). Settings in the URL are accepted and ignored.

    python tests/clickhouse_front.py DATADIR PORT [PASSWORD]   # serves until killed
"""

from __future__ import annotations

import base64
import re
import sys
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_FORMAT = re.compile(r"\s+FORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE)
_CODE = re.compile(r"Code: (\d+)")


def make_server(
    run: Callable[[str, str], bytes], port: int, password: str = ""
) -> ThreadingHTTPServer:
    """A server on 127.0.0.1:``port``; ``run(sql, format)`` returns the formatted result."""
    lock = threading.Lock()  # one chDB session: one query at a time

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _credentials(self) -> tuple[str, str]:
            auth = self.headers.get("Authorization", "")
            if auth.startswith("Basic "):
                user, _, key = base64.b64decode(auth[6:]).decode().partition(":")
                return user, key
            return self.headers.get("X-ClickHouse-User", "default"), self.headers.get(
                "X-ClickHouse-Key", ""
            )

        def _answer(self, status: int, body: bytes, code: int | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain; charset=UTF-8")
            self.send_header("Content-Length", str(len(body)))
            if code is not None:
                self.send_header("X-ClickHouse-Exception-Code", str(code))
            self.end_headers()
            self.wfile.write(body)

        def _handle(self, body: bytes) -> None:
            url = urllib.parse.urlsplit(self.path)
            params = {k: v[-1] for k, v in urllib.parse.parse_qs(url.query).items()}
            if url.path == "/ping":
                self._answer(200, b"Ok.\n")
                return
            user, key = self._credentials()
            if key != password:
                message = (
                    f"Code: 516. DB::Exception: {user}: Authentication failed: password is "
                    "incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)\n"
                )
                self._answer(401, message.encode(), 516)
                return
            sql = params.get("query", "")
            if body:
                sql = (sql + "\n" if sql else "") + body.decode("utf-8")
            fmt = params.get("default_format", "TabSeparated")
            found = _FORMAT.search(sql)
            if found:
                fmt, sql = found.group(1), sql[: found.start()]
            try:
                with lock:
                    out = run(sql, fmt)
            except Exception as exc:  # chDB's errors, as ClickHouse's server writes them
                text = str(exc).strip()
                code = _CODE.search(text)
                self._answer(500, (text + "\n").encode(), int(code.group(1)) if code else 1000)
                return
            self._answer(200, out)

        def do_GET(self) -> None:
            self._handle(b"")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0") or 0)
            self._handle(self.rfile.read(length) if length else b"")

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def chdb_runner(session: Any) -> Callable[[str, str], bytes]:
    def run(sql: str, fmt: str) -> bytes:
        result = session.query(sql, fmt)
        return bytes(result.bytes()) if result is not None else b""

    return run


if __name__ == "__main__":
    import chdb.session

    datadir, port = sys.argv[1], int(sys.argv[2])
    server = make_server(
        chdb_runner(chdb.session.Session(datadir)), port, sys.argv[3] if len(sys.argv) > 3 else ""
    )
    print("ready", flush=True)
    server.serve_forever()

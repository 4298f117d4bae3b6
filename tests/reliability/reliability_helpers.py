"""Real collectors on 127.0.0.1 for the reliability tests: healthy, slow, failing, hanging, down.

* ``HttpReceiver``: an OTLP/HTTP receiver (``http.server``) that decodes every
  ``ExportTraceServiceRequest`` with opentelemetry-proto and keeps the spans; ``delay`` makes it
  slow, ``status`` makes it answer an error (500, 503) instead.
* ``GrpcReceiver``: an OTLP/gRPC receiver (grpcio, the servicer from opentelemetry-proto);
  ``delay`` makes it slow, ``unavailable`` makes it abort with ``UNAVAILABLE``.
* ``HangingServer``: a raw TCP socket that accepts and reads forever, never answering.
* ``run_app()``: runs ``app_turns.py`` (configure() from OTEL_* env, timed turns) in a subprocess.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

import rag_otel

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
APP = HERE / "app_turns.py"
SRC = Path(rag_otel.__file__).resolve().parents[1]  # children import the rag_otel we test


@dataclass
class Received:
    """Spans a receiver decoded: (trace_id hex, span_id hex, parent hex, name, attributes)."""

    spans: list[tuple[str, str, str, str, dict[str, Any]]] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        rows = []
        for rs in request.resource_spans:
            for ss in rs.scope_spans:
                for span in ss.spans:
                    attrs = {a.key: a.value for a in span.attributes}
                    rows.append(
                        (
                            span.trace_id.hex(),
                            span.span_id.hex(),
                            span.parent_span_id.hex(),
                            span.name,
                            attrs,
                        )
                    )
        with self.lock:
            self.spans.extend(rows)
            self.requests += 1


class HttpReceiver:
    """OTLP/HTTP protobuf receiver on 127.0.0.1 (``endpoint`` ends in ``/v1/traces``)."""

    def __init__(self, *, delay: float = 0.0, status: int = 200) -> None:
        self.received = Received()
        self.delay = delay
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if receiver.delay:
                    time.sleep(receiver.delay)
                if receiver.status == 200:
                    request = trace_service_pb2.ExportTraceServiceRequest()
                    request.ParseFromString(body)
                    receiver.received.add(request)
                    reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                else:
                    reply = b""
                try:
                    self.send_response(receiver.status)
                    self.send_header("Content-Type", "application/x-protobuf")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the exporter gave up waiting (the slow collector case)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}/v1/traces"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> HttpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
    def __init__(self, owner: GrpcReceiver) -> None:
        self.owner = owner

    def Export(self, request: Any, context: Any) -> Any:
        import grpc

        if self.owner.delay:
            time.sleep(self.owner.delay)
        if self.owner.unavailable:
            context.abort(grpc.StatusCode.UNAVAILABLE, "collector unavailable (test)")
        self.owner.received.add(request)
        return trace_service_pb2.ExportTraceServiceResponse()


class GrpcReceiver:
    """OTLP/gRPC receiver on 127.0.0.1 (``endpoint`` is ``http://127.0.0.1:PORT``)."""

    def __init__(self, *, delay: float = 0.0, unavailable: bool = False) -> None:
        import grpc

        self.received = Received()
        self.delay = delay
        self.unavailable = unavailable
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceService(self), self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> GrpcReceiver:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop(grace=None)


class HangingServer:
    """Accepts connections and reads forever; never writes a byte back."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self._conns.append(conn)
            threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    def _drain(self, conn: socket.socket) -> None:
        conn.settimeout(0.1)
        while not self._stop.is_set() and self._read(conn):
            pass

    @staticmethod
    def _read(conn: socket.socket) -> bool:
        """Read what is there; False once the peer closed."""
        try:
            return bool(conn.recv(65536))
        except TimeoutError:
            return True
        except OSError:
            return False

    def __enter__(self) -> HangingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        for conn in self._conns:
            conn.close()
        self.sock.close()


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a subprocess: this one minus OTEL_*/RAG_OTEL_*, plus ``extra``."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAG_OTEL_", "PYTHON"))
    }
    env["PYTHONPATH"] = str(SRC)
    env.update(extra)
    return env


def start_app(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(APP), *args],
        env=env,
        cwd=str(HERE),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_side_by_side(
    envs: list[dict[str, str]], *args: str, timeout: float = 90
) -> list[tuple[dict[str, Any], str]]:
    """Run ``app_turns.py --sync`` once per env; their timed parts start together."""
    procs = [start_app(env, "--sync", *args) for env in envs]
    deadline = time.monotonic() + timeout
    for proc in procs:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # READY (after configure() and the warm-up)
        if line.strip() != "READY":
            for p in procs:
                p.kill()
            _, err = proc.communicate()
            raise AssertionError(f"app did not get ready: {line!r}; stderr:\n{err[-3000:]}")
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    return [finish_app(p, max(1.0, deadline - time.monotonic())) for p in procs]


def finish_app(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[dict[str, Any], str]:
    """Wait for ``app_turns.py``; its JSON result and its stderr (the log)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"app did not finish in {timeout}s; stderr:\n{err[-3000:]}") from None
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    assert proc.returncode == 0, f"exit {proc.returncode}; stderr:\n{err[-3000:]}"
    assert lines, f"no RESULT line; stderr:\n{err[-3000:]}"
    return json.loads(lines[-1].removeprefix("RESULT ")), err


def iter_otlp_json_spans(path: Path) -> Iterator[dict[str, Any]]:
    """Every span object of an OTLP JSON lines file."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        for rs in json.loads(line).get("resourceSpans", ()):
            for ss in rs.get("scopeSpans", ()):
                yield from ss.get("spans", ())

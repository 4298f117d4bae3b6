"""``rag-otel analyze prometheus+...``: usage errors are one line and exit 2 (no server needed:
these are refused before any request, or the request fails on a closed port)."""

from __future__ import annotations

import contextlib
import socket

import pytest

from netutil import free_port
from rag_otel.analysis.model import InputError
from rag_otel.analysis.prometheus import analyze_prometheus
from rag_otel.analysis.sources import source_of
from rag_otel.cli import main


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["analyze", *argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["prometheus+ftp://127.0.0.1:9090"], "expected prometheus+http://HOST:PORT"),
        (["prometheus+http://127.0.0.1:9090", "spans.jsonl"], "expected one prometheus+http://"),
        (["prometheus+http://127.0.0.1:9090", "--plot", "x.png"], "--plot needs spans"),
        (["prometheus+http://127.0.0.1:1", "--since", "soon"], "option --since"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], expected: str
) -> None:
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith("rag-otel: ")
    assert expected in line


def test_closed_port_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    source = f"prometheus+http://127.0.0.1:{free_port()}"
    code, out, err = _run(capsys, source, "--since", "1h")
    assert code == 2
    assert out == ""
    [line] = err.splitlines()
    assert line.startswith(f"rag-otel: {source}: expected a reachable Prometheus HTTP API")


def test_source_spelling() -> None:
    assert source_of("prometheus+http://127.0.0.1:9090").name == "prometheus"
    assert source_of("http://127.0.0.1:16686").name == "spans"
    with pytest.raises(InputError, match="is not before --until"):
        analyze_prometheus(
            "prometheus+http://127.0.0.1:1",
            since="2026-01-02T00:00:00Z",
            until="2026-01-01T00:00:00Z",
        )


def _full_backlog() -> tuple[socket.socket, list[socket.socket]]:
    """A listening socket whose accept queue is full: a new connection is never completed, so
    ``urlopen`` times out while connecting (``URLError(reason=TimeoutError)``)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    pending = []
    for _ in range(3):
        client = socket.socket()
        client.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            client.connect(server.getsockname())
        pending.append(client)
    return server, pending


def test_a_connect_timeout_is_named_as_one() -> None:
    """Prometheus goes through the analysis's one HTTP client, which names a timeout that
    urllib wraps in a URLError as the timeout it is."""
    server, pending = _full_backlog()
    port = server.getsockname()[1]
    try:
        with pytest.raises(InputError, match=r"expected a Prometheus answer within 0.3 s"):
            analyze_prometheus(f"prometheus+http://127.0.0.1:{port}", since="1h", timeout=0.3)
    finally:
        for s in (server, *pending):
            s.close()

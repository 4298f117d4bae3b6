"""Start Phoenix's server with its OTLP/gRPC listener on loopback.

Run with the Phoenix virtual environment's python (see phoenix_env.py). Phoenix binds
its gRPC server to ``[::]`` (every interface) with no option to change the address;
this launcher rewrites that one address to ``127.0.0.1`` before handing over to
``phoenix serve``, so nothing the test starts listens beyond loopback. The HTTP
server is bound by ``PHOENIX_HOST=127.0.0.1``.
"""

from __future__ import annotations

import runpy
import sys

from grpc.aio import _server

_add_insecure_port = _server.Server.add_insecure_port


def _loopback_only(self: _server.Server, address: str) -> int:
    if address.startswith("[::]:"):
        address = "127.0.0.1:" + address.rsplit(":", 1)[1]
    return _add_insecure_port(self, address)


_server.Server.add_insecure_port = _loopback_only  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.argv = ["phoenix", "serve"]
    runpy.run_module("phoenix.server.main", run_name="__main__", alter_sys=True)

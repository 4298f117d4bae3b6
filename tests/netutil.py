"""Sockets for tests: one free-port helper, shared by the test folders.

(The root conftest puts ``tests/`` on sys.path, as for ``subprocesses.py``.)
"""

from __future__ import annotations

import socket


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was just bound, then closed: a server can listen on it,
    and until one does, connecting to it is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

"""A cached virtual environment with arize-phoenix, a real OTLP receiver from PyPI.

Phoenix is large (~850 MB with its dependencies) and pulls versions of OpenTelemetry
and friends that must not leak into the project's environment, so it lives in its own
virtual environment under ``~/.cache/rag-otel/phoenix-venv-<version>`` (override the
parent folder with ``RAG_OTEL_CACHE_DIR``). The first run creates it with the running
interpreter's ``venv`` module and ``pip install arize-phoenix==<version>`` (minutes);
later runs find the marker file and reuse it. A file lock keeps two concurrent test
runs from installing into the same folder at once.

Run this module directly to build the cache ahead of a test run::

    .venv/bin/python tests/collector/phoenix_env.py
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

PHOENIX_VERSION = "20.26.1"
_MARKER = ".rag-otel-installed"


def cache_root() -> Path:
    base = os.environ.get("RAG_OTEL_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "rag-otel"


def venv_dir(version: str = PHOENIX_VERSION) -> Path:
    return cache_root() / f"phoenix-venv-{version}"


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_phoenix_venv(version: str = PHOENIX_VERSION, log: Path | None = None) -> Path:
    """Return the python of a virtual environment with arize-phoenix==version installed."""
    venv = venv_dir(version)
    python = venv_python(venv)
    if (venv / _MARKER).exists() and python.exists():
        return python
    venv.parent.mkdir(parents=True, exist_ok=True)
    lock_path = venv.parent / f"{venv.name}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if (venv / _MARKER).exists() and python.exists():
                return python  # another run finished the install while we waited
            if venv.exists():
                shutil.rmtree(venv)  # a half-finished install from an interrupted run
            out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115
            try:
                started = time.monotonic()
                subprocess.run(
                    [sys.executable, "-m", "venv", str(venv)], check=True, stdout=out, stderr=out
                )
                subprocess.run(
                    [
                        str(python),
                        "-m",
                        "pip",
                        "install",
                        "--disable-pip-version-check",
                        "--no-input",
                        f"arize-phoenix=={version}",
                    ],
                    check=True,
                    stdout=out,
                    stderr=out,
                )
                elapsed = time.monotonic() - started
            finally:
                if log:
                    out.close()  # type: ignore[union-attr]
            (venv / _MARKER).write_text(
                f"arize-phoenix=={version}\ninstall_seconds={elapsed:.1f}\n"
            )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return python


if __name__ == "__main__":
    t0 = time.monotonic()
    print(ensure_phoenix_venv(log=Path(sys.argv[1]) if len(sys.argv) > 1 else None))
    print(f"ready in {time.monotonic() - t0:.1f} s")

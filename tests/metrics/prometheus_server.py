"""A real Prometheus server for the tests: Debian's package, our own config, stopped by PID.

``ensure_prometheus`` installs the ``prometheus`` package with apt-get when the binary is
missing (under a file lock, so parallel test sessions install it once); the package's own
service is never used (it may not even start without systemd): each test starts its own
``prometheus`` on a free 127.0.0.1 port with a temporary config and storage.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from netutil import free_port

INSTALL_TIMEOUT = 900.0
READY_TIMEOUT = 60.0
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True)
class PrometheusBinary:
    path: str
    version: str
    install_seconds: float | None
    """How long apt-get took in this session (None: it was already installed)."""


def ensure_prometheus(lock_dir: Path) -> PrometheusBinary:
    found = shutil.which("prometheus")
    took: float | None = None
    if found is None:
        lock_path = Path(lock_dir) / "prometheus-install.lock"
        with lock_path.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            found = shutil.which("prometheus")
            if found is None:
                took = _apt_install()
                found = shutil.which("prometheus")
    if found is None:
        pytest.fail("apt-get installed the prometheus package but no prometheus binary is on PATH")
    out = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=30)
    version = (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else "?"
    return PrometheusBinary(found, version, took)


def _apt_install() -> float:
    if os.geteuid() != 0:
        pytest.skip("prometheus is not installed and installing it needs root (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    start = time.monotonic()
    for cmd in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "prometheus"],
    ):
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=INSTALL_TIMEOUT)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            pytest.fail(f"{' '.join(cmd)} failed ({done.returncode}): {' | '.join(tail)}")
    return time.monotonic() - start


class PrometheusServer:
    """``prometheus`` scraping ``targets`` every ``interval`` seconds, on 127.0.0.1."""

    def __init__(
        self, binary: PrometheusBinary, workdir: Path, targets: list[str], interval: float = 1.0
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        config = workdir / "prometheus.yml"
        config.write_text(
            "global:\n"
            f"  scrape_interval: {interval:g}s\n"
            f"  evaluation_interval: {interval:g}s\n"
            "scrape_configs:\n"
            "  - job_name: rag-otel-test\n"
            "    static_configs:\n"
            f"      - targets: {json.dumps(targets)}\n"
        )
        self.log = (workdir / "prometheus.log").open("w")
        self.process = subprocess.Popen(
            [
                binary.path,
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
        )
        self.logfile = workdir / "prometheus.log"
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                pytest.fail(f"prometheus exited ({self.process.returncode}): {self.tail()}")
            try:
                with _NO_PROXY.open(self.url + "/-/ready", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        pytest.fail(f"prometheus not ready within {READY_TIMEOUT:g} s: {self.tail()}")

    def tail(self) -> str:
        return " | ".join(self.logfile.read_text(errors="replace").splitlines()[-5:])

    def query(self, promql: str) -> list[dict[str, Any]]:
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": promql})
        with _NO_PROXY.open(url, timeout=10) as r:
            obj = json.loads(r.read())
        assert obj["status"] == "success", obj
        result: list[dict[str, Any]] = obj["data"]["result"]
        return result

    def wait_for(self, promql: str, predicate: Any, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Poll ``promql`` until ``predicate(result)`` holds."""
        deadline = time.monotonic() + timeout
        result: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            result = self.query(promql)
            if predicate(result):
                return result
            time.sleep(0.25)
        pytest.fail(f"timed out waiting for {promql!r}; last result {result}; log: {self.tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()

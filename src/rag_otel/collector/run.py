"""Run the bundled stack without Docker: the Collector, Jaeger v2 and Prometheus as processes.

The CLI is ``rag-otel stack up | status | down``; the library::

    from rag_otel.collector.run import find_binaries, start, status, stop
    state = start(Path("rag-otel-stack"), find_binaries(bin_dir=None))   # waits for health
    print(state.urls["otlp_http"])     # export OTEL_EXPORTER_OTLP_ENDPOINT=...
    stop(Path("rag-otel-stack"))       # by the PIDs `start` recorded

The run folder holds the derived configs (``config/``), each program's log (``logs/``), the
Collector's file output (``data/traces.jsonl``), Prometheus' database and ``stack.json``
(PIDs, ports, URLs) that `status` and `stop` read. Configs come from the bundled files
(`local_stack.derive`); every port listens on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from rag_otel.collector.local_stack import LOOPBACK, derive
from rag_otel.collector.stack import COLLECTOR_CONFIG, stack_root

STATE_FILE: Final = "stack.json"
SERVICES: Final[tuple[str, ...]] = ("prometheus", "jaeger", "collector")
"""Start order (compose's depends_on); `stop` goes the other way."""

# binary names tried for each service, first found wins; where to get each one
BINARY_NAMES: Final[dict[str, tuple[str, ...]]] = {
    "collector": ("otelcol", "otelcol-contrib"),
    "jaeger": ("jaeger",),
    "prometheus": ("prometheus",),
}
WHERE_TO_GET: Final[dict[str, str]] = {
    "collector": "build it with `python3 dev.py stack-binaries DIR` (rag-otel's distribution) or "
    "download otelcol-contrib from github.com/open-telemetry/opentelemetry-collector-releases",
    "jaeger": "build it with `python3 dev.py stack-binaries DIR` or download it from "
    "github.com/jaegertracing/jaeger/releases",
    "prometheus": "install it (Debian/Ubuntu: apt-get install prometheus) or download it from "
    "prometheus.io/download",
}


class StackError(Exception):
    """A stack that cannot start or be found; the message is one line for the user."""


class StackUsageError(StackError):
    """A stack that cannot start for a reason the user fixes (a missing program, a busy port,
    a stack already running): the CLI exits 2 for it."""


@dataclass(frozen=True, slots=True)
class Binaries:
    collector: Path
    jaeger: Path
    prometheus: Path


@dataclass(slots=True)
class StackState:
    dir: str
    ports: dict[str, int]
    pids: dict[str, int] = field(default_factory=dict)
    urls: dict[str, str] = field(default_factory=dict)
    health: dict[str, str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    binaries: dict[str, str] = field(default_factory=dict)
    argv: dict[str, list[str]] = field(default_factory=dict)

    @property
    def otlp_endpoint(self) -> str:
        return self.urls["otlp_http"]


def find_binaries(bin_dir: Path | None = None) -> Binaries:
    """Each program in `bin_dir` first, then on PATH; StackError names the first one missing."""
    found: dict[str, Path] = {}
    for service, names in BINARY_NAMES.items():
        for name in names:
            candidate = bin_dir / name if bin_dir is not None else None
            if candidate is not None and os.access(candidate, os.X_OK):
                found[service] = candidate
                break
            on_path = shutil.which(name)
            if on_path is not None:
                found[service] = Path(on_path)
                break
        else:
            where = f"{bin_dir} or PATH" if bin_dir is not None else "PATH"
            raise StackUsageError(
                f"{' / '.join(names)} not found in {where}: {WHERE_TO_GET[service]}"
            )
    return Binaries(**found)


def free_ports(names: Sequence[str]) -> dict[str, int]:
    """A free loopback port for each name (bound then released: for tests and `--free-ports`)."""
    sockets = []
    try:
        for _ in names:
            s = socket.socket()
            s.bind((LOOPBACK, 0))
            sockets.append(s)
        return {n: s.getsockname()[1] for n, s in zip(names, sockets, strict=True)}
    finally:
        for s in sockets:
            s.close()


def busy_ports(ports: Mapping[str, int]) -> list[str]:
    """``NAME=PORT`` for each port something already listens on at 127.0.0.1 (a port a
    stopped program left in TIME_WAIT is free, as for the programs, which reuse addresses)."""
    busy = []
    for name, port in ports.items():
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((LOOPBACK, port))
            except OSError:
                busy.append(f"{name}={port}")
    return busy


def _load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise StackError(f"{path}: not a YAML mapping")
    return data


def _dump(path: Path, data: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(data), sort_keys=False), encoding="utf-8")
    return path


def _urls(ports: Mapping[str, int]) -> tuple[dict[str, str], dict[str, str]]:
    base = f"http://{LOOPBACK}"
    urls = {
        "otlp_http": f"{base}:{ports['otlp_http']}",
        "otlp_grpc": f"{base}:{ports['otlp_grpc']}",
        "jaeger": f"{base}:{ports['jaeger_ui']}",
        "prometheus": f"{base}:{ports['prometheus']}",
        "collector_metrics": f"{base}:{ports['collector_metrics']}/metrics",
    }
    health = {
        "prometheus": f"{base}:{ports['prometheus']}/-/healthy",
        "jaeger": f"{base}:{ports['jaeger_health']}/status",
        "collector": f"{base}:{ports['collector_health']}/",
    }
    return urls, health


def write_configs(
    run_dir: Path,
    ports: Mapping[str, int],
    *,
    source: Path | None = None,
    scrape_interval: str | None = None,
) -> dict[str, Path]:
    """The three derived configs in ``run_dir/config/``; returns their paths by service."""
    root = source if source is not None else stack_root()
    if root is None:
        raise StackError("the bundled stack is missing from this installation")
    traces = run_dir / "data" / "traces.jsonl"
    configs = derive(
        _load_yaml(root / COLLECTOR_CONFIG),
        _load_yaml(root / "collector" / "jaeger.yaml"),
        _load_yaml(root / "collector" / "prometheus.yaml"),
        ports=ports,
        traces_file=str(traces),
        scrape_interval=scrape_interval,
    )
    out = run_dir / "config"
    return {
        "collector": _dump(out / "otel-collector.yaml", configs.collector),
        "jaeger": _dump(out / "jaeger.yaml", configs.jaeger),
        "prometheus": _dump(out / "prometheus.yaml", configs.prometheus),
    }


def commands(
    binaries: Binaries,
    configs: Mapping[str, Path],
    run_dir: Path,
    ports: Mapping[str, int],
    overlays: Sequence[Path] = (),
) -> dict[str, list[str]]:
    collector = [str(binaries.collector), f"--config={configs['collector']}"]
    collector += [f"--config={o}" for o in overlays]
    return {
        "prometheus": [
            str(binaries.prometheus),
            f"--config.file={configs['prometheus']}",
            f"--storage.tsdb.path={run_dir / 'prometheus'}",
            f"--web.listen-address={LOOPBACK}:{ports['prometheus']}",
        ],
        "jaeger": [str(binaries.jaeger), "--config", str(configs["jaeger"])],
        "collector": collector,
    }


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return 200 <= int(response.status) < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (our own child not reaped yet) is not running
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def launch(name: str, argv: Sequence[str], run_dir: Path) -> int:
    """Start one program detached (its own session), output into ``logs/NAME.log``; its PID."""
    logs = run_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / f"{name}.log").open("ab") as log:
        process = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=run_dir,
            start_new_session=True,
        )
    return process.pid


def _log_tail(run_dir: Path, name: str) -> str:
    lines = (run_dir / "logs" / f"{name}.log").read_text(errors="replace").splitlines()
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or ["(empty log)"])[-1][:300]


def wait_healthy(state: StackState, name: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    pid = state.pids[name]
    while time.monotonic() < deadline:
        if healthy(state.health[name]):
            return
        if not alive(pid):
            raise StackError(
                f"{name} exited during start-up; see {state.dir}/logs/{name}.log: "
                f"{_log_tail(Path(state.dir), name)}"
            )
        time.sleep(0.2)
    raise StackError(f"{name} not healthy after {timeout:.0f}s; see {state.dir}/logs/{name}.log")


def read_state(run_dir: Path) -> StackState | None:
    try:
        data = json.loads((run_dir / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None
    return StackState(**data)


def _save(state: StackState) -> None:
    path = Path(state.dir) / STATE_FILE
    path.write_text(json.dumps(asdict(state), indent=2) + "\n")


def start(
    run_dir: Path,
    binaries: Binaries,
    *,
    ports: Mapping[str, int],
    overlays: Sequence[Path] = (),
    timeout: float = 60.0,
    scrape_interval: str | None = None,
    source: Path | None = None,
) -> StackState:
    """Derive the configs, start the three programs in order, wait until each is healthy.

    A program that fails to come up stops the ones already started (StackError says which
    and points at its log). Raises StackError when a stack recorded in `run_dir` still runs.
    """
    run_dir = run_dir.resolve()
    previous = read_state(run_dir)
    if previous is not None and any(alive(pid) for pid in previous.pids.values()):
        raise StackUsageError(
            f"a stack is already running from {run_dir}: `rag-otel stack down` first"
        )
    busy = busy_ports(ports)
    if busy:
        raise StackUsageError(
            f"ports in use on {LOOPBACK}: {', '.join(busy)} (another program listens there): "
            "stop it or move the stack's port with --port NAME=N"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "data").mkdir(exist_ok=True)
    configs = write_configs(run_dir, ports, source=source, scrape_interval=scrape_interval)
    urls, health = _urls(ports)
    state = StackState(
        dir=str(run_dir),
        ports=dict(ports),
        urls=urls,
        health=health,
        files={"traces": str(run_dir / "data" / "traces.jsonl")},
        binaries={k: str(v) for k, v in asdict(binaries).items()},
    )
    state.argv = commands(binaries, configs, run_dir, ports, overlays)
    try:
        for name in SERVICES:
            state.pids[name] = launch(name, state.argv[name], run_dir)
            _save(state)
            wait_healthy(state, name, timeout)
    except StackError:
        stop(run_dir)
        raise
    return state


def restart(run_dir: Path, name: str, timeout: float = 60.0) -> int:
    """Start one service of a running stack again (after it died or was stopped); its new PID."""
    state = read_state(run_dir.resolve())
    if state is None or name not in state.argv:
        raise StackError(f"no {name} recorded in {run_dir}")
    if name in state.pids:
        stop_pid(state.pids[name])
    state.pids[name] = launch(name, state.argv[name], Path(state.dir))
    _save(state)
    wait_healthy(state, name, timeout)
    return state.pids[name]


def status(run_dir: Path) -> dict[str, Any] | None:
    """``{"services": {name: {"pid", "healthy"}}, "urls": ..., "files": ...}``; None when no
    stack was started from `run_dir`."""
    state = read_state(run_dir.resolve())
    if state is None:
        return None
    services = {
        name: {"pid": pid, "healthy": alive(pid) and healthy(state.health[name])}
        for name, pid in state.pids.items()
    }
    urls = {k: state.urls[k] for k in ("otlp_http", "otlp_grpc", "jaeger", "prometheus")}
    return {"services": services, "urls": urls, "files": dict(state.files)}


def stop_pid(pid: int, timeout: float = 10.0) -> bool:
    """SIGTERM, then SIGKILL after `timeout`; True when the process was running."""
    if not alive(pid):
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        if not alive(pid):
            return True
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, 0)
    return True


def stop(run_dir: Path) -> list[str]:
    """Stop, by PID, what `start` recorded in `run_dir` (Collector first); the names stopped."""
    state = read_state(run_dir.resolve())
    if state is None:
        return []
    stopped = [
        name for name in reversed(SERVICES) if name in state.pids and stop_pid(state.pids[name])
    ]
    state.pids = {}
    _save(state)
    return stopped

#!/usr/bin/env python3
"""Bootstrap and task runner: needs nothing but Python 3.10+.

    python3 dev.py demo [ARGS...]   run the demo pipeline (the main job)
    python3 dev.py test [PYTEST ARGS...]   ruff, mypy --strict, stack-binaries (into
                                    ~/.cache/rag-otel-stack/bin), the whole test suite, then
                                    (without arguments) `test-lowest`: what CI runs
    python3 dev.py test-lowest [PYTEST ARGS...]   the `lowest` tests on the lowest declared
                                    dependency versions, in a scratch venv (.venv-lowest/)
    python3 dev.py bench            run the benchmarks in bench/
    python3 dev.py lock             re-pin requirements/dev.lock (needs uv)
    python3 dev.py stack-binaries DIR   build `otelcol` (collector/distribution/) and `jaeger`
                                    into DIR with Go; cached by version (exit 2 without Go)

The first run creates `.venv/` and installs the pinned dependencies from
`requirements/dev.lock` plus this project in editable mode; later runs reuse it
and reinstall only when the lock file or pyproject.toml changed.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
LOCK = ROOT / "requirements" / "dev.lock"
STAMP = VENV / ".rag-otel-stamp"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def _digest() -> str:
    h = hashlib.sha256()
    for f in (LOCK, ROOT / "pyproject.toml"):
        h.update(f.read_bytes())
    return h.hexdigest()


def _run(*cmd: str | os.PathLike[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> int:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    return subprocess.call([str(c) for c in cmd], cwd=cwd, env=env)


def ensure_venv() -> None:
    if sys.version_info < (3, 10):  # noqa: UP036 - dev.py runs on whatever python3 is
        sys.exit("rag-otel needs Python 3.10 or newer")
    want = _digest()
    if STAMP.exists() and STAMP.read_text().strip() == want and PY.exists():
        return
    if not PY.exists():
        print(f"creating {VENV} ...", flush=True)
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
    pip = [PY, "-m", "pip", "--disable-pip-version-check", "-q"]
    steps = [
        [*pip, "install", "-r", LOCK],
        [*pip, "install", "--no-deps", "-e", ROOT],
    ]
    for step in steps:
        if _run(*step) != 0:
            sys.exit(f"dependency install failed: {' '.join(map(str, step))}")
    STAMP.write_text(want + "\n")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(VENV)
    env.pop("PYTHONHOME", None)
    return env


def cmd_demo(args: list[str]) -> int:
    ensure_venv()
    return _run(BIN / "rag-otel", "demo", *args, env=_env())


DEBIAN_PROGRAMS = {
    "chromium": "the HTML report's browser tests",
    "prometheus": "the Prometheus and end-to-end stack tests",
}
"""Programs the tests run, by Debian package (= program) name, and what needs them."""


def ensure_debian_programs() -> None:
    """Debian's chromium and prometheus: installed with apt-get when missing; when that
    cannot be done, one line says so and the tests that need them skip themselves."""
    missing = [name for name in DEBIAN_PROGRAMS if shutil.which(name) is None]
    if not missing:
        return
    apt = shutil.which("apt-get")
    root = os.name != "posix" or os.geteuid() == 0
    sudo = [] if root else ["sudo", "-n"]  # -n: never ask for a password
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if apt is not None and (root or shutil.which("sudo")):
        print(f"+ apt-get install -y {' '.join(missing)} (for the tests that run them)", flush=True)
        for step in (["install", "-y", *missing], ["update", "-q"], ["install", "-y", *missing]):
            done = subprocess.call(
                [*sudo, apt, *step], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
            )
            if done == 0 and step[0] == "install":
                return
    for name in missing:
        print(f"no {name}, and apt-get could not install it: {DEBIAN_PROGRAMS[name]} will skip")


def cmd_test(args: list[str]) -> int:
    ensure_venv()
    ensure_debian_programs()
    env = _env()
    checks: list[list[str | os.PathLike[str]]] = [
        [PY, "-m", "ruff", "check", "src", "tests", "bench", "dev.py"],
        [PY, "-m", "ruff", "format", "--check", "src", "tests", "bench", "dev.py"],
        [PY, "-m", "mypy"],
    ]
    for check in checks:
        if _run(*check, env=env) != 0:
            return 1
    if "RAG_OTEL_STACK_BIN" not in env:
        # the end-to-end stack tests run the Collector and Jaeger built from source; without
        # Go or the module proxy they are skipped (one line), the rest of the suite runs
        if build_stack_binaries(STACK_BINARIES) == 0:
            env["RAG_OTEL_STACK_BIN"] = str(STACK_BINARIES)
        else:
            print("stack-binaries unavailable: the end-to-end stack tests will be skipped")
    status = _run(PY, "-m", "pytest", *args, env=env)
    if status != 0 or args:  # with pytest arguments: a developer's loop, the lock only
        return status
    return cmd_test_lowest([])


LOWEST = ROOT / ".venv-lowest"
LOWEST_PY = LOWEST / BIN.name / PY.name
# Files holding the tests marked `lowest` (listed: the rest of tests/ imports dev-only packages).
LOWEST_TESTS = [
    "tests/core/test_configure.py",
    "tests/core/test_handles.py",
    "tests/core/test_lifecycle.py",
    "tests/core/test_shapes_and_paths.py",
    "tests/core/test_host_application.py",
    "tests/core/test_otel_private.py",
    "tests/core/test_options.py",
    "tests/reliability/test_shutdown_bounds.py",
]
LOWEST_TOOLS = ["pytest>=8", "pytest-asyncio>=0.24", "pytest-timeout>=2.3"]


def _uv() -> str:
    """uv: the dev venv's (the `dev` extra), else one on PATH, else installed there with pip."""
    for found in (BIN / "uv", shutil.which("uv")):
        if found is not None and Path(found).exists():
            return str(found)
    if _run(PY, "-m", "pip", "--disable-pip-version-check", "-q", "install", "uv") != 0:
        sys.exit("could not install uv into the dev venv")
    return str(BIN / "uv")


def cmd_test_lowest(args: list[str]) -> int:
    """The declared floors of pyproject.toml, not the lock: a fresh venv resolved with
    `uv pip install --resolution lowest-direct` (direct dependencies at their lowest allowed
    version), then the tests marked `lowest` (core API, configure, exporters, a host
    application with its own spans, shutdown against dead collectors)."""
    ensure_venv()
    uv = _uv()
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    shutil.rmtree(LOWEST, ignore_errors=True)  # fresh every time: nothing left from the lock
    steps: list[list[str | os.PathLike[str]]] = [
        [uv, "venv", "-q", "--python", sys.executable, LOWEST],
        [
            uv,
            "pip",
            "install",
            "-q",
            "--python",
            LOWEST_PY,
            "--resolution",
            "lowest-direct",
            "-e",
            ROOT,
        ],
        [uv, "pip", "install", "-q", "--python", LOWEST_PY, *LOWEST_TOOLS],
    ]
    for step in steps:
        if _run(*step, env=env) != 0:
            return 1
    versions = subprocess.run(
        [uv, "pip", "freeze", "--python", str(LOWEST_PY)], capture_output=True, text=True, env=env
    ).stdout
    print("lowest:", " ".join(v for v in versions.split() if v.startswith("opentelemetry")))
    return _run(
        LOWEST_PY,
        "-m",
        "pytest",
        "-m",
        "lowest",
        "-p",
        "no:cacheprovider",
        *LOWEST_TESTS,
        *args,
        env=env,
    )


def cmd_bench(args: list[str]) -> int:
    ensure_venv()
    return _run(PY, ROOT / "bench" / "run.py", *args, env=_env())


def cmd_lock(args: list[str]) -> int:
    return _run(
        "uv",
        "pip",
        "compile",
        "pyproject.toml",
        "--extra",
        "dev",
        "--python-version",
        "3.11",
        "--python-platform",
        "x86_64-unknown-linux-gnu",
        "--no-header",
        "-o",
        LOCK,
        *args,
    )


DISTRIBUTION = ROOT / "collector" / "distribution"
JAEGER_MODULE = DISTRIBUTION / "jaeger"
JAEGER_PACKAGE = "github.com/jaegertracing/jaeger/cmd/jaeger"
JAEGER_RELEASE = "v2.12.0"  # Jaeger v2 release of the module version v1.75.0 (jaeger/go.mod)
# Module and build caches shared by every checkout: a second build takes seconds.
GO_CACHE = Path(os.environ.get("RAG_OTEL_GO_CACHE", Path.home() / ".cache" / "rag-otel-stack"))
STACK_BINARIES = GO_CACHE / "bin"
"""Where `test` builds the binaries for the end-to-end tests (RAG_OTEL_STACK_BIN)."""


def _go() -> str | None:
    found = shutil.which("go")
    if found is None and Path("/usr/local/go/bin/go").exists():
        found = "/usr/local/go/bin/go"
    return found


def _go_env(go: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("GOMODCACHE", str(GO_CACHE / "gomodcache"))
    env.setdefault("GOCACHE", str(GO_CACHE / "gocache"))
    env.setdefault("GOFLAGS", "-buildvcs=false")
    env["PATH"] = f"{Path(go).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _stamp(go_version: str, *parts: str | Path) -> str:
    h = hashlib.sha256(go_version.encode())
    for part in parts:
        h.update(part.read_bytes() if isinstance(part, Path) else part.encode())
    return h.hexdigest()


def build_stack_binaries(dest: Path) -> int:
    """`otelcol` (our Collector distribution) and `jaeger` into `dest`; 0, or 2 with one line
    when Go or the Go module proxy is missing, 1 when a build fails."""
    import time

    go = _go()
    if go is None:
        print("stack-binaries: Go is not installed (need go >= 1.26 on PATH: https://go.dev/dl)")
        return 2
    env = _go_env(go)
    go_version = subprocess.run(
        [go, "env", "GOVERSION"], capture_output=True, text=True, env=env
    ).stdout.strip()
    dest.mkdir(parents=True, exist_ok=True)
    found = re.search(r'^var Version = "(.*)"', (DISTRIBUTION / "main.go").read_text(), re.M)
    version = found.group(1) if found else "?"
    builds = [
        (
            "otelcol",
            DISTRIBUTION,
            ".",
            [DISTRIBUTION / "go.mod", DISTRIBUTION / "go.sum", DISTRIBUTION / "main.go"],
            "",
        ),
        (
            "jaeger",
            JAEGER_MODULE,
            JAEGER_PACKAGE,
            [JAEGER_MODULE / "go.mod", JAEGER_MODULE / "go.sum"],
            f"-X github.com/jaegertracing/jaeger/internal/version.latestVersion={JAEGER_RELEASE}",
        ),
    ]
    for name, module, package, inputs, ldflags in builds:
        target = dest / name
        stamp_file = dest / f".{name}.stamp"
        stamp = _stamp(go_version, ldflags, *inputs)
        if target.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
            print(f"{name}: cached ({target})")
            continue
        started = time.monotonic()
        download = subprocess.run(
            [go, "mod", "download"], cwd=module, capture_output=True, text=True, env=env
        )
        if download.returncode != 0:
            last = (download.stderr.strip().splitlines() or ["(no output)"])[-1]
            print(f"stack-binaries: cannot fetch Go modules (module proxy unreachable?): {last}")
            return 2
        cmd = [go, "build", "-ldflags", f"-s -w {ldflags}".strip(), "-o", target]
        if _run(*cmd, package, env=env, cwd=module) != 0:
            print(f"stack-binaries: building {name} failed")
            return 1
        stamp_file.write_text(stamp)
        took = time.monotonic() - started
        print(f"{name}: built in {took:.0f}s ({version if name == 'otelcol' else JAEGER_RELEASE})")
    return 0


def cmd_stack_binaries(args: list[str]) -> int:
    if len(args) != 1:
        print("usage: python3 dev.py stack-binaries DIR")
        return 2
    return build_stack_binaries(Path(args[0]).resolve())


COMMANDS = {
    "demo": cmd_demo,
    "test": cmd_test,
    "test-lowest": cmd_test_lowest,
    "bench": cmd_bench,
    "lock": cmd_lock,
    "stack-binaries": cmd_stack_binaries,
}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        return 2
    return COMMANDS[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())

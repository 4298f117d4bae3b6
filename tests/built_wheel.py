"""Build this project's wheel and scratch venvs with uv (the `dev` extra brings uv).

Shared by tests/test_base_install.py and tests/collector/test_stack.py through the
session fixture `built_wheel` (tests/conftest.py): one build per test session. uv reuses
its cache for hatchling and the dependencies, so a build plus a base-install venv take a
few seconds once the cache is warm.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STACK_IN_WHEEL = "rag_otel/collector/stack/"


def find_uv() -> str:
    """uv next to this interpreter (dev venv), on PATH, or from the `uv` package."""
    beside = Path(sys.executable).parent / ("uv.exe" if os.name == "nt" else "uv")
    if beside.is_file():
        return str(beside)
    on_path = shutil.which("uv")
    if on_path:
        return on_path
    try:
        from uv import find_uv_bin  # type: ignore[import-not-found]
    except ImportError:
        pytest.fail("uv is needed to build the wheel and scratch venvs: pip install -e '.[dev]'")
    return str(find_uv_bin())


def run(*cmd: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAG_OTEL_"))}
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONPATH", None)  # the scratch venv sees only what was installed into it
    result = subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, env=env, timeout=timeout
    )
    return result


def build_wheel(out_dir: Path) -> Path:
    result = run(find_uv(), "build", "--wheel", "--out-dir", out_dir, ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    wheels = sorted(out_dir.glob("rag_otel-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def make_venv(where: Path, *requirements: str | Path) -> Path:
    """A fresh venv at `where` with `requirements` installed; returns its bin folder."""
    uv = find_uv()
    created = run(uv, "venv", "--quiet", "--python", sys.executable, where)
    assert created.returncode == 0, created.stderr
    python = where / ("Scripts" if os.name == "nt" else "bin") / "python"
    installed = run(uv, "pip", "install", "--quiet", "--python", python, *requirements)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return python.parent


def wheel_metadata(wheel: Path) -> dict[str | None, list[str]]:
    """Requires-Dist of the wheel by extra (None: the base install), names lower-cased."""
    with zipfile.ZipFile(wheel) as zf:
        name = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        message = Parser().parsestr(zf.read(name).decode())
    by_extra: dict[str | None, list[str]] = {}
    for line in message.get_all("Requires-Dist") or []:
        requirement, _, marker = line.partition(";")
        extra = None
        if "extra ==" in marker:
            extra = marker.split("extra ==", 1)[1].strip().strip("'\"")
        by_extra.setdefault(extra, []).append(requirement.strip().lower())
    return by_extra


def stack_members(wheel: Path) -> dict[str, bytes]:
    """The bundled stack's files in the wheel, by path relative to the stack folder."""
    with zipfile.ZipFile(wheel) as zf:
        return {
            n.removeprefix(STACK_IN_WHEEL): zf.read(n)
            for n in zf.namelist()
            if n.startswith(STACK_IN_WHEEL) and not n.endswith("/")
        }

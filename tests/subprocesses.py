"""Run test code in a fresh interpreter: no provider installed, OTEL_*/RAG_OTEL_* scrubbed.

Shared by the test folders (the root conftest puts `tests/` on sys.path).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_python(
    code: str,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120,
    *,
    via: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter (no provider installed), OTEL_* env scrubbed;
    ``via`` is a launcher to run it through (``["opentelemetry-instrument"]``)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAG_OTEL_"))}
    base.update(env or {})
    return subprocess.run(
        [*via, sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=base,
        cwd=cwd or ROOT,
        timeout=timeout,
    )

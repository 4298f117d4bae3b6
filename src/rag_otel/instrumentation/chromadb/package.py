"""Versions of chromadb this instrumentation supports (read by ``BaseInstrumentor``)."""

from __future__ import annotations

from typing import Final

_instruments: Final = ("chromadb >= 1.0",)

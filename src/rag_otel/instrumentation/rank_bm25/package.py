"""Versions of rank-bm25 this instrumentation supports (read by ``BaseInstrumentor``)."""

from __future__ import annotations

from typing import Final

_instruments: Final = ("rank-bm25 >= 0.2.2",)

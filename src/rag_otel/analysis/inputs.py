"""What the analysis accepts as input: the largest time, and the error for input that cannot
be analysed.

    from rag_otel.analysis.inputs import MAX_TIME_NS, InputError

    raise InputError("spans.jsonl", "line 12", 'expected a JSON object with "resourceSpans"')

Kept apart from `rag_otel.analysis.model` (which re-exports both) because it needs nothing
but the standard library: `rag_otel.analysis.isotime`, which reads times with these bounds,
is loaded alone by a bare Python 3.10 in its tests (``tests/analysis/test_isotime.py``),
where the model's msgspec may not be installed.
"""

from __future__ import annotations

MAX_TIME_NS = 2**63 - 1
"""Largest timestamp the analysis accepts (int64 nanoseconds, as it stores durations)."""


class InputError(Exception):
    """Input that cannot be analysed. Its message is one line, e.g.

    ``spans.jsonl: line 12: expected a JSON object with "resourceSpans", got a list``
    """

    def __init__(self, source: str, location: str | None, expected: str) -> None:
        self.source = source
        self.location = location
        self.expected = expected
        where = f"{source}: {location}" if location else source
        # one line, whatever the input echoed into it (a Jaeger error text, a file name)
        message = f"{where}: {expected}".replace("\r", "\\r").replace("\n", "\\n")
        super().__init__(message)

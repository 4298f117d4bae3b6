"""Nested JSON attributes -> one flat dict with dotted keys, as OpenTelemetry attributes are.

    flatten({"llm": {"model_name": "gpt-4", "input_messages": [{"message": {"role": "user"}}]}})
    # {"llm.model_name": "gpt-4", "llm.input_messages.0.message.role": "user"}

Phoenix stores attributes nested and its REST API returns them flattened (some releases
nested); Langfuse metadata is nested JSON. Objects are walked; arrays of objects become
indexed keys (OpenInference's ``llm.input_messages.0.message.role``); arrays of scalars and
empty objects are values. Depth is bounded, so hostile input cannot exhaust the stack.
"""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 32


def flatten(value: Any, prefix: str = "", out: dict[str, Any] | None = None) -> dict[str, Any]:
    """`value`'s leaves under dotted keys starting with `prefix` (added to `out` if given)."""
    flat: dict[str, Any] = {} if out is None else out
    _walk(value, prefix, flat, 0)
    return flat


def _walk(value: Any, key: str, out: dict[str, Any], depth: int) -> None:
    if depth < MAX_DEPTH:
        if value.__class__ is dict and value:
            for k, v in value.items():
                _walk(v, f"{key}.{k}" if key else str(k), out, depth + 1)
            return
        if value.__class__ is list and value and all(v.__class__ is dict for v in value):
            for i, v in enumerate(value):
                _walk(v, f"{key}.{i}" if key else str(i), out, depth + 1)
            return
    out[key] = value

"""What a duration sample is recorded under: its histogram and attributes (`MetricKey`).

Usage::

    from rag_otel.metrics.keys import stage_key, turn_key

    key = stage_key("retrieve", "retrieval", provider="openai")   # once, at decoration time
    key.attributes            # {"rag.stage": "retrieve", "rag.stage.kind": "retrieval",
                              #  "gen_ai.operation.name": ..., "gen_ai.provider.name": "openai"}
    key.attributes_for(ValueError)   # the same plus {"error.type": "ValueError"}
    turn_key("faq")           # gen_ai.invoke_workflow.duration, gen_ai.workflow.name="faq"

A key is built once per stage spec (or per workflow name, cached and bounded), never per call:
the hot path (`rag_otel.metrics.recorder.record`) only appends ``(seconds, key, error)``. The
attributes of a failed sample (``error.type``, by `rag_otel._outcome`, the rule spans use
too) are built once per exception class and cached on the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from rag_otel import semconv as sc
from rag_otel._outcome import error_type, is_error

__all__ = [
    "FIRST_CHUNK_ATTRIBUTES",
    "STAGE",
    "STAGE_FIRST_CHUNK",
    "TURN",
    "TURN_FIRST_CHUNK",
    "TURN_FIRST_CHUNK_KEY",
    "TURN_KEY",
    "MetricKey",
    "first_chunk_key",
    "stage_key",
    "turn_first_chunk_key",
    "turn_key",
]

# Which histogram a key records into: its index in `rag_otel.metrics.recorder.Instruments`.
STAGE: Final = 0
TURN: Final = 1
STAGE_FIRST_CHUNK: Final = 2
TURN_FIRST_CHUNK: Final = 3

_MAX_CACHED: Final = 256
"""Bound of each cache of keys or error attributes (workflow names, exception classes)."""


class MetricKey:
    """The attributes one stage (or the turn) records under, built once per stage spec."""

    __slots__ = ("_errors", "attributes", "instrument")

    def __init__(self, instrument: int, attributes: Mapping[str, str]) -> None:
        self.instrument = instrument
        self.attributes: Final[dict[str, str]] = dict(attributes)
        self._errors: dict[type[BaseException], dict[str, str]] = {}

    def attributes_for(self, error: type[BaseException] | None) -> dict[str, str]:
        """The attributes of a sample that ended with ``error`` (None: it did not raise)."""
        if error is None:
            return self.attributes
        attrs = self._errors.get(error)
        if attrs is None:
            if is_error(error):
                attrs = {**self.attributes, sc.ERROR_TYPE: error_type(error)}
            else:
                attrs = self.attributes
            if len(self._errors) < _MAX_CACHED:
                self._errors[error] = attrs
        return attrs


def stage_key(name: str, kind: str, provider: str | None = None) -> MetricKey:
    """The key of a stage: ``rag.stage``, ``rag.stage.kind``, the kind's
    ``gen_ai.operation.name`` and, when the stage names one, ``gen_ai.provider.name``."""
    conventions = sc.KIND_CONVENTIONS.get(kind, sc.KIND_CONVENTIONS["other"])
    attributes = {
        sc.RAG_STAGE: name,
        sc.RAG_STAGE_KIND: kind,
        sc.GEN_AI_OPERATION_NAME: conventions.gen_ai_operation,
    }
    if provider is not None:
        attributes[sc.GEN_AI_PROVIDER_NAME] = provider
    return MetricKey(STAGE, attributes)


TURN_KEY: Final = MetricKey(TURN, {})
"""The key of a turn without a workflow name (no attributes but ``error.type`` on failures)."""
_TURN_KEYS: Final[dict[str, MetricKey]] = {}


def turn_key(workflow: str | None) -> MetricKey:
    """The key of a turn: ``gen_ai.workflow.name`` when the workflow is named (low cardinality
    by the spec's rule; the cache is bounded all the same)."""
    if workflow is None:
        return TURN_KEY
    key = _TURN_KEYS.get(workflow)
    if key is None:
        if len(_TURN_KEYS) >= _MAX_CACHED:
            _TURN_KEYS.clear()
        key = _TURN_KEYS[workflow] = MetricKey(TURN, {sc.GEN_AI_WORKFLOW_NAME: workflow})
    return key


FIRST_CHUNK_ATTRIBUTES: Final = (sc.GEN_AI_PROVIDER_NAME, sc.GEN_AI_REQUEST_MODEL)
"""Stage attributes a time-to-first-chunk sample carries when the stage declares them."""


def first_chunk_key(name: str, kind: str, attributes: Mapping[str, object]) -> MetricKey:
    """The key of a streamed stage's time to first chunk: ``rag.stage``, ``rag.stage.kind``,
    ``gen_ai.operation.name`` and, when the stage declares them, ``gen_ai.provider.name`` and
    ``gen_ai.request.model`` (the attributes of ``gen_ai.client.operation.time_to_first_chunk``)."""
    attrs = {sc.RAG_STAGE: name, sc.RAG_STAGE_KIND: kind}
    for key in (sc.GEN_AI_OPERATION_NAME, *FIRST_CHUNK_ATTRIBUTES):
        value = attributes.get(key)
        if isinstance(value, str):
            attrs[key] = value
    return MetricKey(STAGE_FIRST_CHUNK, attrs)


TURN_FIRST_CHUNK_KEY: Final = MetricKey(TURN_FIRST_CHUNK, {})
"""The key of a turn's time to first token (from its start to its first streamed chunk),
for a turn without a workflow name."""
_TURN_FIRST_CHUNK_KEYS: Final[dict[str, MetricKey]] = {}


def turn_first_chunk_key(workflow: str | None) -> MetricKey:
    """The key of a turn's time to first token: ``gen_ai.workflow.name`` when the workflow
    is named, as on the turn's duration (the cache is bounded the same way)."""
    if workflow is None:
        return TURN_FIRST_CHUNK_KEY
    key = _TURN_FIRST_CHUNK_KEYS.get(workflow)
    if key is None:
        if len(_TURN_FIRST_CHUNK_KEYS) >= _MAX_CACHED:
            _TURN_FIRST_CHUNK_KEYS.clear()
        key = MetricKey(TURN_FIRST_CHUNK, {sc.GEN_AI_WORKFLOW_NAME: workflow})
        _TURN_FIRST_CHUNK_KEYS[workflow] = key
    return key

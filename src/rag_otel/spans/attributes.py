"""Attribute values a span may carry: cleaned, and content captured only when asked for.

Usage::

    from rag_otel.spans.attributes import clean_all, content

    attrs = clean_all({"top_k": 5, "filters": {"lang": "en"}})  # the dict becomes a str
    text = content(question)   # None unless content capture is on; redacted; truncated

Everything a handle records goes through here: `clean` (any value to a valid OpenTelemetry
attribute value), `content` (the capture switch, the redaction hook, the length bound of
``rag_otel._config.SETTINGS``) and the JSON of ``gen_ai.input.messages`` /
``gen_ai.output.messages``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Final

from opentelemetry.util.types import AttributeValue

from rag_otel import semconv as sc
from rag_otel._config import SETTINGS, TRUNCATION_MARK
from rag_otel._errors import contained

__all__ = [
    "MODEL_KEYS",
    "QUERY_KEYS",
    "clean",
    "clean_all",
    "content",
    "content_capture_enabled",
    "conventions",
    "input_messages",
    "output_messages",
]

_PRIMITIVES: Final = (str, bool, int, float)


def clean(key: str, value: object) -> AttributeValue | None:
    """``value`` as a valid OTel attribute value; odd values become ``str`` (logged once)."""
    if isinstance(value, _PRIMITIVES):
        return value
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        kinds = {type(v) for v in value}
        if len(kinds) <= 1 and kinds <= {str, bool, int, float}:
            return tuple(value)
    contained(
        "attribute-value", "attribute %r: %s value recorded as str", key, type(value).__name__
    )
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def clean_all(attributes: Mapping[str, object]) -> dict[str, AttributeValue]:
    """Each of ``attributes`` through `clean`; None values left out."""
    out: dict[str, AttributeValue] = {}
    for key, value in attributes.items():
        cleaned = clean(key, value)
        if cleaned is not None:
            out[str(key)] = cleaned
    return out


def content_capture_enabled() -> bool:
    """Whether content (queries, documents, prompts, answers) is recorded. Cheap."""
    return SETTINGS.capture_content


def content(value: object) -> str | None:
    """``value`` as captured content: None unless capture is on; redacted; truncated."""
    if not SETTINGS.capture_content or value is None:
        return None
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, default=str, ensure_ascii=False)
        except Exception:
            text = str(value)
    redact = SETTINGS.redact
    if redact is not None:
        text = redact(text)
    limit = SETTINGS.max_content_length
    if len(text) > limit:
        text = text[:limit] + TRUNCATION_MARK
    return text


MODEL_KEYS: Final[dict[str, str]] = {
    "embedding": sc.EMBEDDING_MODEL_NAME,
    "generation": sc.LLM_MODEL_NAME,
    "rerank": sc.RERANKER_MODEL_NAME,
}
"""The OpenInference model-name attribute of each stage kind that has one."""
QUERY_KEYS: Final[dict[str, str]] = {
    "retrieval": sc.GEN_AI_RETRIEVAL_QUERY_TEXT,
    "rerank": sc.RERANKER_QUERY,
}
"""The query attribute of each stage kind that has one, next to ``input.value``."""


def conventions(kind: str) -> sc.KindConventions:
    """What the conventions name for a stage ``kind`` (``other``'s for an unknown kind)."""
    return sc.KIND_CONVENTIONS.get(kind) or sc.KIND_CONVENTIONS["other"]


def _text_part(text: str) -> dict[str, str]:
    return {"type": "text", "content": text}


def input_messages(value: object, text: str) -> str:
    """``gen_ai.input.messages`` JSON: chat messages (``{"role", "content": str}``) keep their
    roles, each content redacted and truncated on its own; anything else is one user message
    holding ``text`` (the captured ``input.value``)."""
    messages: list[dict[str, object]] = []
    if isinstance(value, (list, tuple)):
        for message in value:
            if not isinstance(message, Mapping) or not isinstance(message.get("content"), str):
                messages = []
                break
            captured = content(message["content"]) or ""
            role = str(message.get("role") or "user")
            messages.append({"role": role, "parts": [_text_part(captured)]})
    if not messages:
        messages = [{"role": "user", "parts": [_text_part(text)]}]
    return json.dumps(messages, ensure_ascii=False)


def output_messages(text: str, finish_reason: str) -> str:
    """``gen_ai.output.messages`` JSON: one assistant message (one choice)."""
    message = {"role": "assistant", "parts": [_text_part(text)], "finish_reason": finish_reason}
    return json.dumps([message], ensure_ascii=False)

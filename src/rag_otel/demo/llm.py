"""Answer generation: a streamed OpenAI-compatible chat endpoint, or an extractive answer.

The endpoint is used only when the environment names a model::

    OPENAI_BASE_URL=http://127.0.0.1:11434/v1   # e.g. Ollama, vLLM, llama.cpp server
    OPENAI_API_KEY=...                          # optional for local servers
    RAG_OTEL_DEMO_MODEL=llama3.2:1b

Every network wait is bounded: connecting, each read, and the whole answer. An
unreachable or slow endpoint raises `LLMError` with one clear line, never hangs.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import httpx

MODEL_ENV = "RAG_OTEL_DEMO_MODEL"
BASE_URL_ENV = "OPENAI_BASE_URL"
API_KEY_ENV = "OPENAI_API_KEY"
EXTRACTIVE_MODEL = "extractive (word overlap, no LLM)"
SYSTEM_PROMPT = (
    "Answer the question using only the numbered passages. Be brief. "
    "If they do not contain the answer, say so."
)


class LLMError(Exception):
    """The configured endpoint failed; the message is one line meant for the user."""


@dataclass
class ChatEndpoint:
    base_url: str
    model: str
    api_key: str | None = None
    timeout: float = 30.0
    """Seconds allowed for connecting, for each read, and for the whole answer."""
    usage: dict[str, int] = field(default_factory=dict)
    """Token usage reported by the server for the last answer (when it reports any)."""
    response_model: str | None = None

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] = os.environ, timeout: float = 30.0
    ) -> ChatEndpoint | None:
        """The endpoint the environment configures, or None (then answers are extractive)."""
        model = env.get(MODEL_ENV)
        if not model:
            return None
        base_url = env.get(BASE_URL_ENV)
        if not base_url:
            raise LLMError(f"{MODEL_ENV} is set but {BASE_URL_ENV} is not: set both, or neither")
        return cls(base_url.rstrip("/"), model, env.get(API_KEY_ENV) or None, timeout)

    async def stream(self, question: str, passages: Sequence[str]) -> AsyncIterator[str]:
        """Stream the answer's text chunks (server-sent events, `stream: true`)."""
        url = f"{self.base_url}/chat/completions"
        context = "\n\n".join(f"[{i}] {p}" for i, p in enumerate(passages, 1))
        body = {
            "model": self.model,
            "stream": True,
            "stream_options": {"include_usage": True},
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": f"{context}\n\nQuestion: {question}"},
            ],
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        self.usage, self.response_model = {}, None
        deadline = time.monotonic() + self.timeout
        try:
            async with (
                httpx.AsyncClient(timeout=self.timeout) as client,
                client.stream("POST", url, json=body, headers=headers) as response,
            ):
                if response.status_code != 200:
                    detail = (await response.aread()).decode(errors="replace")[:200]
                    raise LLMError(
                        f"{url}: HTTP {response.status_code}: {' '.join(detail.split())}"
                    )
                async for line in response.aiter_lines():
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("answer not finished")
                    text = self._parse(line)
                    if text:
                        yield text
        except httpx.TimeoutException as exc:
            raise LLMError(
                f"{url}: no complete answer within {self.timeout:g} s ({type(exc).__name__}); "
                f"is {self.model!r} served there?"
            ) from None
        except httpx.HTTPError as exc:
            raise LLMError(f"{url}: unreachable ({type(exc).__name__}: {exc})") from None

    def _parse(self, line: str) -> str:
        if not line.startswith("data:"):
            return ""
        data = line[5:].strip()
        if not data or data == "[DONE]":
            return ""
        try:
            event = json.loads(data)
        except ValueError:
            raise LLMError(f"{self.base_url}: not an OpenAI stream event: {data[:80]!r}") from None
        self.response_model = event.get("model") or self.response_model
        if event.get("usage"):
            self.usage = {k: v for k, v in event["usage"].items() if isinstance(v, int)}
        choices = event.get("choices") or []
        delta = choices[0].get("delta", {}) if choices else {}
        content = delta.get("content")
        return content if isinstance(content, str) else ""


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"(])")  # not in "e.g. by", "9 kap. 51 §"
_WORD = re.compile(r"\w+")
_STOP = frozenset(
    {"a", "an", "and", "are", "as", "at", "be", "by", "can", "do", "does", "for", "from", "how"}
    | {"i", "if", "in", "is", "it", "of", "on", "or", "the", "to", "what", "when", "where"}
    | {"which", "who", "why", "will", "with", "you", "your"}
)


def extractive_answer(question: str, passages: Sequence[str], sentences: int = 2) -> str:
    """The sentences of the top passages that share the most words with the question, in order."""
    return "".join(extractive_stream(question, passages, sentences))


def extractive_stream(question: str, passages: Sequence[str], sentences: int = 2) -> Iterator[str]:
    """`extractive_answer`, streamed: one chunk per sentence, each yielded as soon as it is
    picked (the next with its separating space), like a model streaming its answer."""
    wanted = {w for w in _WORD.findall(question.lower()) if w not in _STOP}
    candidates = [s for p in passages for s in _SENTENCE.split(p) if s.strip()]
    ranked = sorted(
        range(len(candidates)),
        key=lambda i: (-len(wanted & set(_WORD.findall(candidates[i].lower()))), i),
    )
    for n, i in enumerate(sorted(ranked[:sentences])):
        yield candidates[i] if n == 0 else " " + candidates[i]

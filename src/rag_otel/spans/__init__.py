"""The tracing API: one span per RAG turn, one span per stage, plus non-stage operations.

Usage::

    import rag_otel

    @rag_otel.stage("embed", kind="embedding")
    def embed(text: str) -> list[float]: ...

    with rag_otel.turn(session_id="user-42") as t:
        vec = embed(question)
        with rag_otel.stage("retrieve.bm25", kind="retrieval") as s:
            hits = bm25.get_top_n(tokens, docs, n=20)
            s.record_documents(ids, scores)

How it stays cheap: everything static about a span (its name, kind and attributes) is
built once, when a function is decorated (a spec). A call then does one global read to
learn whether tracing is on (the API's global provider, None until a provider is
installed, set only once; read through ``rag_otel._otel_private``, which fences every
private OpenTelemetry name), and when it is on: start the span with the prebuilt
attributes, attach one context that holds both the span and the stage handle, call the
function, detach, end.

Never break the host: exceptions from the user's function are recorded and re-raised
as the same object; anything that goes wrong inside rag-otel is contained
(``rag_otel._errors``) and the user's function still runs.

The package, in the order a decorated call runs through it:

* `rag_otel.spans.constructors`: ``stage``, ``turn``, ``operation``: declare a span, return a scope;
* `rag_otel.spans.scopes`: the scopes (context manager and decorator in one object),
  ``current_stage``, ``current_turn``;
* `rag_otel.spans.wrappers`: one wrapper per function shape, the hot path;
* `rag_otel.spans.specs`: a span's declaration (`StageArgs`, ...), the spec built from it
  once, its ``open``, and `close`, the one way an entry ends;
* `rag_otel.spans.handles`: the handles user code records through, made in one place;
* `rag_otel.spans.attributes`: attribute values cleaned, content captured only when asked.
"""

from __future__ import annotations

from rag_otel.spans.attributes import content_capture_enabled
from rag_otel.spans.constructors import operation, stage, turn
from rag_otel.spans.handles import OperationHandle, StageHandle, TurnHandle
from rag_otel.spans.scopes import (
    OperationScope,
    PinnedOperationScope,
    PinnedStageScope,
    StageScope,
    TurnScope,
    current_stage,
    current_turn,
)
from rag_otel.spans.specs import OperationArgs, StageArgs, TurnArgs

__all__ = [
    "OperationArgs",
    "OperationHandle",
    "OperationScope",
    "PinnedOperationScope",
    "PinnedStageScope",
    "StageArgs",
    "StageHandle",
    "StageScope",
    "TurnArgs",
    "TurnHandle",
    "TurnScope",
    "content_capture_enabled",
    "current_stage",
    "current_turn",
    "operation",
    "stage",
    "turn",
]

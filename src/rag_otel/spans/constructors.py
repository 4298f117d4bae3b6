"""The public constructors: ``stage``, ``turn`` and ``operation``.

Usage::

    @rag_otel.stage("embed", kind="embedding")
    def embed(text: str) -> list[float]: ...

    with rag_otel.turn(session_id="user-42"):
        with rag_otel.operation("index.add", data_source="faq"):
            ...

Each declares its span (`StageArgs`, `TurnArgs`, `OperationArgs`) and returns a scope
(`rag_otel.spans.scopes`), or decorates the function it is given. The common calls
(``stage(name, kind=...)``, ``turn(session_id, user_id=..., workflow=...)``) return a scope
shared per arguments, whose spec is then built once for all of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, ParamSpec, TypeVar, overload

from rag_otel import semconv as sc
from rag_otel.spans.scopes import OperationScope, StageScope, TurnScope
from rag_otel.spans.specs import OperationArgs, StageArgs, TurnArgs

__all__ = ["operation", "stage", "turn"]

P = ParamSpec("P")
R = TypeVar("R")


@overload
def stage(func: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def stage(
    name: str | None = None,
    /,
    *,
    kind: sc.StageKind = "other",
    provider: str | None = None,
    **attributes: object,
) -> StageScope: ...
def stage(
    name: str | Callable[P, R] | None = None,
    /,
    *,
    kind: sc.StageKind = "other",
    provider: str | None = None,
    **attributes: object,
) -> StageScope | Callable[P, R]:
    """One span per stage: ``@stage``, ``@stage("embed", kind="embedding")``, ``with stage(...)``.

    Kinds: embedding, retrieval, fusion, rerank, generation, other. ``provider`` is the
    ``gen_ai.provider.name`` of the model or service the stage calls (``openai``, ``cohere``,
    ...; required by the GenAI conventions on embedding and generation spans when known).
    Extra keyword arguments become static span attributes. Works on functions, coroutine
    functions, generator and async generator functions (the span covers the whole iteration;
    a streamed generation records ``gen_ai.request.stream=true``).
    """
    if callable(name):
        return StageScope(StageArgs(None, kind, attributes, provider))(name)
    if attributes or name is None or provider is not None:
        return StageScope(StageArgs(name, kind, attributes, provider))
    scope = _SCOPE_CACHE.get((name, kind))
    return scope if scope is not None else _shared_scope(name, kind)


_SCOPE_CACHE: Final[dict[tuple[str, str], StageScope]] = {}


def _shared_scope(name: str, kind: sc.StageKind) -> StageScope:
    scope = _SCOPE_CACHE.get((name, kind))
    if scope is None:
        if len(_SCOPE_CACHE) >= 4096:  # names built at run time must not grow it forever
            _SCOPE_CACHE.clear()
        scope = _SCOPE_CACHE[(name, kind)] = StageScope(StageArgs(name, kind))
    return scope


@overload
def turn(session_id: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def turn(
    session_id: str | None = None,
    turn_id: str | None = None,
    user_id: str | None = None,
    *,
    workflow: str | None = None,
    **attributes: object,
) -> TurnScope: ...
def turn(
    session_id: str | Callable[P, R] | None = None,
    turn_id: str | None = None,
    user_id: str | None = None,
    *,
    workflow: str | None = None,
    **attributes: object,
) -> TurnScope | Callable[P, R]:
    """One parent span (``rag.turn``) per question/answer turn; a context manager or decorator.

    A turn is one invocation of your RAG workflow (``gen_ai.operation.name=invoke_workflow``);
    ``workflow`` names it (``gen_ai.workflow.name``, low cardinality: ``"faq-bot"``, not a
    question), else ``configure(workflow_name=...)`` does; unnamed, none is recorded.
    ``session_id`` is ``session.id`` and ``gen_ai.conversation.id``, on the turn and its
    generation stages. SERVER when it is the root of its trace, INTERNAL under a parent span.
    """
    if callable(session_id):
        return TurnScope(TurnArgs(None, turn_id, user_id, workflow, attributes))(session_id)
    if (
        attributes  # per-turn arguments: a scope of its own
        or turn_id is not None
        or session_id.__class__ not in _ID_TYPES  # ids that are not str (1 == True == 1.0)
        or user_id.__class__ not in _ID_TYPES
        or workflow.__class__ not in _ID_TYPES
    ):
        return TurnScope(TurnArgs(session_id, turn_id, user_id, workflow, attributes))
    scope = _TURN_CACHE.get((session_id, user_id, workflow))
    return scope if scope is not None else _shared_turn_scope(session_id, user_id, workflow)


_TURN_CACHE: Final[dict[tuple[str | None, str | None, str | None], TurnScope]] = {}
_ID_TYPES: Final = frozenset({str, type(None)})


def _shared_turn_scope(
    session_id: str | None, user_id: str | None, workflow: str | None
) -> TurnScope:
    """The scope ``turn(session_id, user_id=..., workflow=...)`` returns without a ``turn_id``
    or attributes, shared per arguments: the turns of one session build their span's static
    attributes once (a scope keeps no per-entry state; each entry's handle holds it)."""
    if len(_TURN_CACHE) >= 4096:  # sessions come and go: the cache must not grow forever
        _TURN_CACHE.clear()
    scope = _TURN_CACHE[(session_id, user_id, workflow)] = TurnScope(
        TurnArgs(session_id, None, user_id, workflow)
    )
    return scope


def operation(
    name: str, *, data_source: str | None = None, kind: str = "ingest", **attributes: object
) -> OperationScope:
    """A span that is not a stage (ingest, housekeeping): ``rag.operation`` = ``kind``.

    Carries ``gen_ai.operation.name`` = ``kind`` (a custom value, so it survives Langfuse's
    default export filter) and ``gen_ai.data_source.id`` when ``data_source`` is given.
    """
    return OperationScope(OperationArgs(name, kind, data_source, attributes))

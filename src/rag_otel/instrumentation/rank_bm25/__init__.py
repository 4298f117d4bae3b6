"""Trace rank-bm25: searches as ``retrieval`` stages, index construction as an ingest operation.

Usage
-----

.. code:: python

    from rank_bm25 import BM25Okapi
    import rag_otel
    from rag_otel.instrumentation.rank_bm25 import BM25Instrumentor

    rag_otel.configure(service_name="faq-bot")
    BM25Instrumentor().instrument()  # or rag_otel.instrument() for every library at once
    # BM25Instrumentor().instrument(tracer_provider=provider): spans to that provider

    corpus = [doc.lower().split() for doc in documents]
    bm25 = BM25Okapi(corpus)  # operation "bm25.index"
    with rag_otel.turn(session_id="user-42"):
        hits = bm25.get_top_n("how tall may a fence be".split(), documents, n=20)  # "bm25.get_top_n"

``opentelemetry-instrument python app.py`` loads it too (entry point ``rank_bm25``);
``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=rank_bm25`` turns it off there.

Spans go to the global tracer provider, read on each call, unless ``instrument()`` was given
a ``tracer_provider`` (fixed until ``uninstrument()``). Durations go through the meter
``rag_otel.configure()`` set up (a ``meter_provider`` is not taken).

What is wrapped
---------------
rank-bm25 defines ``get_scores`` and ``get_batch_scores`` on each algorithm class
(``BM25Okapi``, ``BM25L``, ``BM25Plus``) and ``get_top_n`` and ``__init__`` once on their
base class ``BM25``; each is wrapped where it is defined, so every call makes one span:

- ``get_scores`` -> stage ``bm25.get_scores`` (kind ``retrieval``): algorithm, corpus size,
  query token count, and the top N documents (corpus indices as ids, BM25 scores; found
  with ``argpartition`` over the returned scores, only when the span is recording).
- ``get_batch_scores`` -> stage ``bm25.get_batch_scores``: as above over the given
  ``doc_ids`` (their count is ``rag.retrieval.candidate_count``; ids are those doc ids).
- ``get_top_n`` -> stage ``bm25.get_top_n``: ``n`` as ``gen_ai.retrieval.top_k`` (an int) and the
  returned documents' corpus indices and scores (the same ranking rank-bm25 computes).
  ``get_top_n`` calls ``get_scores`` inside: that inner call makes no span of its own (a
  context variable marks it); its scores feed the outer span.
- ``BM25.__init__`` -> operation ``bm25.index`` (an ingest span, not a stage): algorithm,
  corpus size, vocabulary size, average document length.

Query tokens (joined by spaces) and the text of ``get_top_n``'s string documents are
recorded only with content capture on. A user's own ``BM25`` subclass with its own
``get_scores`` is covered through ``get_top_n`` and ``__init__`` only.

The wrappers never change what rank-bm25 does: arguments, return values and exceptions pass
through untouched; a failure in the recording code is logged once and never raised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from itertools import chain, tee
from typing import Any, Final

from opentelemetry.instrumentation.utils import is_instrumentation_enabled

import rag_otel
from rag_otel import semconv
from rag_otel.instrumentation._patching import (
    Arguments,
    Make,
    Patch,
    Patcher,
    PatchingInstrumentor,
    Scopes,
    Wrapper,
    contained,
)

from .package import _instruments

__all__ = ["BM25Instrumentor"]

_MODULE: Final = "rank_bm25"
_ALGORITHMS: Final = ("BM25Okapi", "BM25L", "BM25Plus")

_INNER_SCORES: ContextVar[list[Any] | None] = ContextVar("rag_otel_bm25_inner", default=None)
"""Set while a traced ``get_top_n`` runs: ``get_scores`` inside it appends its scores here
instead of opening a second span."""

Args = tuple[Any, ...]
Kwargs = dict[str, Any]


class _Ranking:
    """Best-first positions of a 1-D numpy score array, ranked only as far as read.

    ``record_documents`` reads the first N (its bound, 10 by default): the first 16 come
    from ``argpartition`` (linear in the corpus) as plain lists; more from a full sort,
    only if a larger bound asks for them.
    """

    __slots__ = ("_full", "_scores", "first", "first_scores")
    FIRST: Final = 16

    def __init__(self, scores: Any) -> None:
        self._scores = scores
        self._full: list[int] | None = None
        negated = -scores
        if len(negated) > self.FIRST:
            best = negated.argpartition(self.FIRST - 1)[: self.FIRST]
            self.first: list[int] = best[negated[best].argsort(kind="stable")].tolist()
        else:
            self.first = self._full = negated.argsort(kind="stable").tolist()
        self.first_scores: list[float] = scores[self.first].tolist() if self.first else []

    def _rest(self) -> list[int]:
        if self._full is None:
            seen = set(self.first)
            ranked = (-self._scores).argsort(kind="stable").tolist()
            self._full = self.first + [j for j in ranked if j not in seen]
        return self._full[len(self.first) :]

    def positions(self) -> Iterator[int]:
        return chain(self.first, self._lazy_rest())

    def ids(self, names: Sequence[Any] | None = None) -> Iterator[str]:
        """Positions as ids, or ``names[position]`` when names are given."""
        if names is None:
            return chain([str(j) for j in self.first], (str(j) for j in self._lazy_rest()))
        return chain(
            [str(names[j]) for j in self.first], (str(names[j]) for j in self._lazy_rest())
        )

    def scores(self) -> Iterator[float]:
        scores = self._scores
        return chain(self.first_scores, (float(scores[j]) for j in self._lazy_rest()))

    def _lazy_rest(self) -> Iterator[int]:
        if self._full is not self.first:
            yield from self._rest()


def _describe(
    handle: rag_otel.StageHandle, bm25: Any, query: Any, extra: dict[str, Any] | None = None
) -> None:
    """The request, in one ``set_attributes`` call (``extra``: per-method attributes)."""
    extra = extra or {}
    handle.span.set_attributes(
        {
            semconv.RAG_RETRIEVAL_SCORE_TYPE: "bm25",
            semconv.RAG_BM25_ALGORITHM: type(bm25).__name__,
            semconv.RAG_BM25_CORPUS_SIZE: int(bm25.corpus_size),
            semconv.RAG_RETRIEVAL_QUERY_TOKEN_COUNT: len(query),
            **extra,
        }
    )
    if rag_otel.content_capture_enabled():
        handle.set_query(" ".join(str(token) for token in query))


def _record_scores(handle: rag_otel.StageHandle, scores: Any) -> None:
    ranking = _Ranking(scores)
    handle.record_documents(ranking.ids(), ranking.scores())


def _record_batch_scores(handle: rag_otel.StageHandle, doc_ids: Sequence[Any], scores: Any) -> None:
    import numpy  # already imported by rank_bm25

    ranking = _Ranking(numpy.asarray(scores, dtype=float))
    handle.record_documents(ranking.ids(doc_ids), ranking.scores())


def _top_n_positions(scores: Any, documents: Any, n: int, result: Any) -> Iterator[int]:
    """The corpus positions of ``get_top_n``'s result, best first, exactly as rank-bm25 chose.

    rank-bm25 ranks with a full ``argsort`` (ties in its own order). Sorting again would add
    that cost to every call, so the first positions come from ``_Ranking`` (linear) and are
    checked against the returned documents (the same objects at the same places); only when
    a tie put them in another order, or a bound above 16 reads further, does it sort.
    """
    head = _Ranking(scores).first[: min(n, len(result))]
    if all(result[k] is documents[j] for k, j in enumerate(head)):
        return chain(head, _lazily(lambda: scores.argsort()[::-1][len(head) : n].tolist()))
    return iter(scores.argsort()[::-1][:n].tolist())


def _lazily(positions: Callable[[], list[int]]) -> Iterator[int]:
    yield from positions()


def _record_top_n(
    handle: rag_otel.StageHandle, scores: Any, documents: Any, n: Any, result: Any
) -> None:
    handle.span.set_attribute(semconv.RAG_RETRIEVAL_RESULT_COUNT, len(result))
    if scores is None:  # get_scores was not ours to see (a subclass overriding it)
        return
    # read lazily, twice (ids, scores): record_documents takes only its first N
    for_ids, for_scores, for_contents = tee(_top_n_positions(scores, documents, n, result), 3)
    contents = None
    if rag_otel.content_capture_enabled():
        contents = (d if isinstance(d, str) else "" for d in (documents[i] for i in for_contents))
    handle.record_documents(
        (str(i) for i in for_ids), (float(scores[i]) for i in for_scores), contents=contents
    )


# --- wrappers ----------------------------------------------------------------------------


def _scoring(
    name: str,
    describe: Callable[[rag_otel.StageHandle, Any, Args, Kwargs, Arguments], None],
    record: Callable[[rag_otel.StageHandle, Args, Kwargs, Arguments, Any], None],
) -> Make:
    """A ``retrieval`` stage around ``get_scores`` / ``get_batch_scores``."""
    where_in, where_out = f"{name} arguments", f"{name} results"

    def make(original: Callable[..., Any], scopes: Scopes) -> Wrapper:
        argv = Arguments(original)
        stage = scopes.stage(name, "retrieval")

        def wrapper(wrapped: Callable[..., Any], instance: Any, args: Args, kwargs: Kwargs) -> Any:
            if not _PATCHER.active or not is_instrumentation_enabled():
                return wrapped(*args, **kwargs)
            inner = _INNER_SCORES.get()
            if inner is not None:  # called by a traced get_top_n: that span covers this call
                result = wrapped(*args, **kwargs)
                inner.append(result)
                return result
            with stage as handle:
                recording = handle.span.is_recording()
                if recording:
                    try:
                        describe(handle, instance, args, kwargs, argv)
                    except Exception:
                        contained(where_in)
                result = wrapped(*args, **kwargs)
                if recording:
                    try:
                        record(handle, args, kwargs, argv, result)
                    except Exception:
                        contained(where_out)
                return result

        return wrapper

    return make


def _describe_scores(
    handle: rag_otel.StageHandle, bm25: Any, args: Args, kwargs: Kwargs, argv: Arguments
) -> None:
    _describe(handle, bm25, argv.get(args, kwargs, "query"))


def _describe_batch(
    handle: rag_otel.StageHandle, bm25: Any, args: Args, kwargs: Kwargs, argv: Arguments
) -> None:
    candidates = len(argv.get(args, kwargs, "doc_ids"))
    _describe(
        handle,
        bm25,
        argv.get(args, kwargs, "query"),
        {semconv.RAG_RETRIEVAL_CANDIDATE_COUNT: candidates},
    )


def _outcome_scores(
    handle: rag_otel.StageHandle, args: Args, kwargs: Kwargs, argv: Arguments, result: Any
) -> None:
    _record_scores(handle, result)


def _outcome_batch(
    handle: rag_otel.StageHandle, args: Args, kwargs: Kwargs, argv: Arguments, result: Any
) -> None:
    _record_batch_scores(handle, argv.get(args, kwargs, "doc_ids"), result)


def _make_get_top_n(original: Callable[..., Any], scopes: Scopes) -> Wrapper:
    name = "bm25.get_top_n"
    argv = Arguments(original)
    stage = scopes.stage(name, "retrieval")
    where_in, where_out = f"{name} arguments", f"{name} results"

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Args, kwargs: Kwargs) -> Any:
        if not _PATCHER.active or not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        inner: list[Any] = []
        token = _INNER_SCORES.set(inner)
        try:
            with stage as handle:
                recording = handle.span.is_recording()
                if recording:
                    try:
                        n = argv.get(args, kwargs, "n")
                        top_k = {semconv.GEN_AI_RETRIEVAL_TOP_K: n} if isinstance(n, int) else {}
                        _describe(handle, instance, argv.get(args, kwargs, "query"), top_k)
                    except Exception:
                        contained(where_in)
                result = wrapped(*args, **kwargs)
                if recording:
                    try:
                        _record_top_n(
                            handle,
                            inner[0] if inner else None,
                            argv.get(args, kwargs, "documents"),
                            argv.get(args, kwargs, "n"),
                            result,
                        )
                    except Exception:
                        contained(where_out)
                return result
        finally:
            _INNER_SCORES.reset(token)

    return wrapper


def _make_index(original: Callable[..., Any], scopes: Scopes) -> Wrapper:
    name = "bm25.index"

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: Args, kwargs: Kwargs) -> Any:
        if not _PATCHER.active or not is_instrumentation_enabled():
            return wrapped(*args, **kwargs)
        algorithm = {semconv.RAG_BM25_ALGORITHM: type(instance).__name__}
        with scopes.operation(name, attributes=algorithm) as handle:
            result = wrapped(*args, **kwargs)
            try:
                if handle.span.is_recording():
                    handle.span.set_attributes(
                        {
                            semconv.RAG_BM25_CORPUS_SIZE: int(instance.corpus_size),
                            semconv.RAG_BM25_VOCABULARY_SIZE: len(instance.idf),
                            semconv.RAG_BM25_AVERAGE_DOCUMENT_LENGTH: float(instance.avgdl),
                        }
                    )
            except Exception:
                contained(f"{name} results")
            return result

    return wrapper


def _patches() -> list[Patch]:
    get_scores = _scoring("bm25.get_scores", _describe_scores, _outcome_scores)
    get_batch_scores = _scoring("bm25.get_batch_scores", _describe_batch, _outcome_batch)
    patches = [
        Patch(_MODULE, "BM25", "__init__", _make_index),
        Patch(_MODULE, "BM25", "get_top_n", _make_get_top_n),
    ]
    for algorithm in _ALGORITHMS:
        patches.append(Patch(_MODULE, algorithm, "get_scores", get_scores))
        patches.append(Patch(_MODULE, algorithm, "get_batch_scores", get_batch_scores))
    return patches


_PATCHER: Final = Patcher(_patches())


class BM25Instrumentor(PatchingInstrumentor):
    """Wraps rank-bm25's ``BM25Okapi``, ``BM25L`` and ``BM25Plus`` (see the module docstring)."""

    library = "rank-bm25"
    requirements = _instruments
    patcher = _PATCHER

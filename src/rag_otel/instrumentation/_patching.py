"""What the instrumentors share: lazy, reversible patching; where spans go; containment.

Usage (what an instrumentor module does)::

    def _make_query(original, scopes: Scopes) -> Wrapper:
        stage = scopes.stage("lib.query", "retrieval")  # built once per wrapped method
        def wrapper(wrapped, instance, args, kwargs):
            if not _PATCHER.active:
                return wrapped(*args, **kwargs)
            with stage as handle:
                return wrapped(*args, **kwargs)
        return wrapper

    _PATCHER = Patcher([Patch("lib.module", "Client", "query", _make_query)])

    class LibInstrumentor(PatchingInstrumentor):
        library, requirements, patcher = "lib", ("lib >= 1.0",), _PATCHER

``Patcher`` installs ``wrapt.FunctionWrapper`` objects on library classes when their module
is imported (right away if it already is: instrumenting never imports chromadb, which takes
1-2 s, into a process that does not use it) and puts the original functions back on
``stop()``. Each wrapper also checks ``Patcher.active`` so a wrapper that another library
wrapped again (and that we therefore cannot take out) turns into a plain pass-through.

``Scopes`` is where the spans of one ``instrument()`` call go, fixed when it is made:
``instrument(tracer_provider=P)`` sends them to ``P`` (OpenTelemetry's contrib convention),
``instrument()`` to the installed global provider, read on each call as ``rag_otel.stage``
reads it. Each ``start()`` builds the wrappers afresh with its ``Scopes``, so uninstrumenting
and instrumenting with another provider switches where they go.

``contained()`` is how a wrapper reports a failure in its own attribute code: logged once
per place, counted, never raised into the application.
"""

from __future__ import annotations

import inspect
import logging
import sys
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from types import ModuleType
from typing import Any, Final, NamedTuple

import wrapt
from opentelemetry.instrumentation.dependencies import get_dependency_conflicts
from opentelemetry.instrumentation.instrumentor import (  # type: ignore[attr-defined]
    BaseInstrumentor,
)
from opentelemetry.trace import SpanKind, TracerProvider

from rag_otel import semconv
from rag_otel._errors import contained as _contained
from rag_otel.spans import (
    OperationArgs,
    OperationScope,
    PinnedOperationScope,
    PinnedStageScope,
    StageArgs,
    StageScope,
)

logger: Final = logging.getLogger("rag_otel.instrumentation")

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]
"""The ``wrapt`` wrapper signature: ``(wrapped, instance, args, kwargs) -> result``."""


def contained(where: str) -> None:
    """Call from an ``except Exception`` block: counted (in the process-wide
    ``rag_otel._errors.COUNTS``, under ``instrumentation: <where>``), logged the first time."""
    _contained(
        f"instrumentation: {where}",
        "instrumentation: recording %s failed; the call itself was not affected",
        where,
    )


def dependencies_met(name: str, requirements: Iterable[str]) -> bool:
    """Whether the library ``name`` instruments is installed at a supported version.

    ``opentelemetry-instrument`` checks versions through the ``instruments`` extra of the
    distribution an entry point comes from and then tells ``instrument()`` to skip its own
    check; rag-otel declares no such extra (it holds two instrumentors), so ``_instrument``
    asks here and never patches a missing or unsupported library.
    """
    conflict = get_dependency_conflicts(list(requirements))
    if conflict is None:
        return True
    log = logger.warning if conflict.found else logger.debug
    log("rag-otel: %s not instrumented: %s", name, conflict)
    return False


class Arguments:
    """Reads a parameter of a wrapped method from ``(args, kwargs)`` by name.

    Built once per patched method from its signature (``self`` dropped), so a call pays two
    dict lookups at most and never ``inspect.Signature.bind``.
    """

    __slots__ = ("_defaults", "_index")

    def __init__(self, function: Callable[..., Any]) -> None:
        params = list(inspect.signature(function).parameters.values())[1:]
        self._index = {p.name: i for i, p in enumerate(params)}
        self._defaults = {
            p.name: p.default for p in params if p.default is not inspect.Parameter.empty
        }

    def get(self, args: tuple[Any, ...], kwargs: Mapping[str, Any], name: str) -> Any:
        """The argument ``name`` as passed, else its default, else ``None``."""
        if name in kwargs:
            return kwargs[name]
        index = self._index.get(name)
        if index is not None and index < len(args):
            return args[index]
        return self._defaults.get(name)


class Scopes:
    """Makes the stage and operation scopes of one ``instrument()`` call.

    ``tracer_provider=None``: the plain scopes of ``rag_otel.stage`` / ``operation``, whose
    spans go to the installed global provider (none installed: no span). A provider: scopes
    pinned to it, whose spans go there whatever is installed globally.
    """

    __slots__ = ("tracer_provider",)

    def __init__(self, tracer_provider: TracerProvider | None = None) -> None:
        self.tracer_provider = tracer_provider

    def stage(
        self, name: str, kind: semconv.StageKind, *, span_kind: SpanKind = SpanKind.INTERNAL
    ) -> StageScope:
        """A stage scope without extra attributes: build it once, enter it on every call."""
        args = StageArgs(name, kind, span_kind=span_kind)
        if self.tracer_provider is None:
            return StageScope(args)
        return PinnedStageScope(args, tracer_provider=self.tracer_provider)

    def operation(
        self,
        name: str,
        *,
        kind: str = "ingest",
        data_source: str | None = None,
        attributes: Mapping[str, object],
        span_kind: SpanKind = SpanKind.INTERNAL,
    ) -> OperationScope:
        """An operation scope with this call's attributes (one per call)."""
        args = OperationArgs(name, kind, data_source, attributes, span_kind)
        if self.tracer_provider is None:
            return OperationScope(args)
        return PinnedOperationScope(args, tracer_provider=self.tracer_provider)


Make = Callable[[Callable[..., Any], Scopes], Wrapper]
"""Builds the wrapper of one method: ``make(original, scopes) -> wrapper``."""


class Patch(NamedTuple):
    """One method to wrap: ``module.owner.method``, wrapped by ``make(original, scopes)``."""

    module: str
    owner: str
    method: str
    make: Make


class Patcher:
    """Applies a set of patches as their modules get imported and undoes them."""

    def __init__(self, patches: Iterable[Patch]) -> None:
        self._patches = tuple(patches)
        self._lock = threading.RLock()
        self._hooked: set[str] = set()
        self._applied: list[tuple[type, str, wrapt.FunctionWrapper[..., Any]]] = []
        self._scopes = Scopes()
        self.active = False
        """Read by every wrapper: when False it calls straight through."""

    @property
    def applied(self) -> list[str]:
        """``Owner.method`` of every wrapper currently installed."""
        return [f"{owner.__qualname__}.{method}" for owner, method, _ in self._applied]

    def start(self, scopes: Scopes | None = None) -> None:
        """Wrap every method (when its module is imported); spans go where ``scopes`` says."""
        with self._lock:
            self._scopes = scopes or Scopes()
            self.active = True
            for module_name in dict.fromkeys(p.module for p in self._patches):
                module = sys.modules.get(module_name)
                if module is not None:
                    self._apply(module)
                elif module_name not in self._hooked:
                    # fires once, when the module is first imported; a no-op if stopped by then
                    self._hooked.add(module_name)
                    wrapt.register_post_import_hook(self._on_import, module_name)

    def stop(self) -> None:
        with self._lock:
            self.active = False
            self._scopes = Scopes()  # the next start() says where its spans go
            for owner, method, wrapper in reversed(self._applied):
                if owner.__dict__.get(method) is wrapper:
                    setattr(owner, method, wrapper.__wrapped__)
                # else: someone wrapped on top of us; ours stays inside as a pass-through
            self._applied.clear()

    def _on_import(self, module: ModuleType) -> None:
        with self._lock:
            if self.active:
                self._apply(module)

    def _apply(self, module: ModuleType) -> None:
        done = {(owner, method) for owner, method, _ in self._applied}
        for patch in self._patches:
            if patch.module != module.__name__:
                continue
            owner = getattr(module, patch.owner, None)
            if not isinstance(owner, type) or (owner, patch.method) in done:
                continue
            original = owner.__dict__.get(patch.method)
            if original is None:
                logger.debug("rag-otel: %s.%s not found, not wrapped", patch.owner, patch.method)
                continue
            try:
                wrapper = wrapt.FunctionWrapper(original, patch.make(original, self._scopes))
            except Exception:  # an unexpected library shape: leave this method alone
                contained(f"wrapping {patch.owner}.{patch.method}")
                continue
            setattr(owner, patch.method, wrapper)
            self._applied.append((owner, patch.method, wrapper))


class PatchingInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """A ``BaseInstrumentor`` around one `Patcher`: what each instrumentor is.

    A subclass names its library (``library``, the distribution name for the version
    check), the supported versions (``requirements``) and its ``patcher``.
    """

    library: str
    requirements: Collection[str]
    patcher: Patcher

    def instrumentation_dependencies(self) -> Collection[str]:
        return self.requirements

    def _instrument(self, **kwargs: Any) -> None:
        """``tracer_provider``: where the spans go (default: the installed global provider).

        ``meter_provider`` is not taken: an instrumented call is a stage, and its duration
        is recorded with every stage's, through the meter ``rag_otel.configure()`` set up.
        """
        if kwargs.get("meter_provider") is not None:
            logger.info(
                "rag-otel: %s ignores meter_provider: stage durations go through the meter "
                "rag_otel.configure() set up",
                type(self).__name__,
            )
        if dependencies_met(self.library, self.requirements):
            self.patcher.start(Scopes(kwargs.get("tracer_provider")))

    def _uninstrument(self, **kwargs: Any) -> None:
        self.patcher.stop()

    @property
    def wrapped_methods(self) -> list[str]:
        """``Owner.method`` of each wrapper installed now (empty until the library is imported)."""
        return self.patcher.applied

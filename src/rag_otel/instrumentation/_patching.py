"""What the instrumentors share: lazy, reversible patching; argument reading; containment.

``Patcher`` installs ``wrapt.FunctionWrapper`` objects on library classes when their module
is imported (right away if it already is: instrumenting never imports chromadb, which takes
1-2 s, into a process that does not use it) and puts the original functions back on
``stop()``. Each wrapper also checks ``Patcher.active`` so a wrapper that another library
wrapped again (and that we therefore cannot take out) turns into a plain pass-through.

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

from rag_otel._errors import contained as _contained

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


class Patch(NamedTuple):
    """One method to wrap: ``module.owner.method``, wrapped by ``make(original)``."""

    module: str
    owner: str
    method: str
    make: Callable[[Callable[..., Any]], Wrapper]


class Patcher:
    """Applies a set of patches as their modules get imported and undoes them."""

    def __init__(self, patches: Iterable[Patch]) -> None:
        self._patches = tuple(patches)
        self._lock = threading.RLock()
        self._hooked: set[str] = set()
        self._applied: list[tuple[type, str, wrapt.FunctionWrapper[..., Any]]] = []
        self.active = False
        """Read by every wrapper: when False it calls straight through."""

    @property
    def applied(self) -> list[str]:
        """``Owner.method`` of every wrapper currently installed."""
        return [f"{owner.__qualname__}.{method}" for owner, method, _ in self._applied]

    def start(self) -> None:
        with self._lock:
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
                wrapper = wrapt.FunctionWrapper(original, patch.make(original))
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
        if dependencies_met(self.library, self.requirements):
            self.patcher.start()

    def _uninstrument(self, **kwargs: Any) -> None:
        self.patcher.stop()

    @property
    def wrapped_methods(self) -> list[str]:
        """``Owner.method`` of each wrapper installed now (empty until the library is imported)."""
        return self.patcher.applied

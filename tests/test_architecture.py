"""The import rules of docs/architecture.md, checked on the source: which wing imports which.

Each module's imports of ``rag_otel.*`` are read with `ast` (relative imports resolved), at
module level and inside functions separately, and held against the wings' rules. A new
import that crosses a wing the wrong way fails here, with the module and the import named.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "rag_otel"

# The wings, by module prefix (longest prefix wins). See docs/architecture.md.
WINGS = {
    "rag_otel.spans": "tracing",
    "rag_otel.propagation": "tracing",
    "rag_otel.semconv": "base",
    "rag_otel._config": "base",
    "rag_otel._errors": "base",
    "rag_otel._otel_private": "base",
    "rag_otel._outcome": "base",
    "rag_otel._version": "base",
    "rag_otel._endpoints": "setup",
    "rag_otel.options": "setup",
    "rag_otel.otlp": "setup",
    "rag_otel.exporters": "setup",
    "rag_otel.configuration": "setup",
    "rag_otel.metrics": "setup",
    "rag_otel.metrics.recorder": "base",  # the hot-path queue the tracing API appends to
    "rag_otel.metrics.keys": "base",
    "rag_otel.instrumentation": "instrumentation",
    "rag_otel.analysis": "analysis",
    "rag_otel.collector": "collector",
    "rag_otel.demo": "demo",
    "rag_otel.cli": "cli",
    "rag_otel.__main__": "cli",
    "rag_otel": "api",  # the package's __init__: the public tracing API
}

# Which wings a wing may import at module level; `LAZY` adds what it may import inside a
# function (loaded only when that feature is used).
ALLOWED = {
    "base": {"base"},
    "tracing": {"base", "tracing"},
    "setup": {"base", "setup"},
    "instrumentation": {"base", "tracing", "instrumentation", "api"},
    "analysis": {"base", "analysis"},
    "collector": {"collector"},
    "demo": {"base", "api", "demo"},
    "api": {"base", "tracing", "setup", "api"},
    "cli": {"cli", "base", "api"},
}
LAZY = {
    "setup": {"instrumentation", "tracing"},  # configure(instrument=..., propagate=...)
    "api": {"instrumentation"},
    "demo": {"analysis", "instrumentation"},
    "cli": {"analysis", "collector", "demo", "api", "setup"},
}


@dataclass(frozen=True)
class Import:
    importer: str
    imported: str
    lazy: bool
    line: int


def wing(module: str) -> str:
    best = max((p for p in WINGS if module == p or module.startswith(p + ".")), key=len)
    return WINGS[best]


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> list[Import]:
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[Import] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and ast.unparse(child.test).endswith("TYPE_CHECKING"):
                continue  # annotations only: nothing is imported when the program runs
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                found.extend(Import(name, a.name, lazy, child.lineno) for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    anchor = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in child.names:
                    # `from rag_otel import semconv` imports a module; `from x import name` a name
                    candidate = f"{base}.{alias.name}"
                    target = candidate if _is_module(candidate) else base
                    found.append(Import(name, target, lazy, child.lineno))
            visit(child, inner)

    visit(tree, False)
    return [i for i in found if i.imported == "rag_otel" or i.imported.startswith("rag_otel.")]


def _is_module(dotted: str) -> bool:
    path = SRC.joinpath(*dotted.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


DIRECT_IMPORTS = [i for path in sorted(PACKAGE.rglob("*.py")) for i in imports_of(path)]


def _init_imports() -> dict[str, list[Import]]:
    """The module-level imports of each package's ``__init__``, by package."""
    by_package: dict[str, list[Import]] = {}
    for i in DIRECT_IMPORTS:
        if not i.lazy and _is_package(i.importer):
            by_package.setdefault(i.importer, []).append(i)
    return by_package


def _is_package(dotted: str) -> bool:
    return (SRC.joinpath(*dotted.split(".")) / "__init__.py").exists()


def _parents(module: str) -> list[str]:
    """The packages whose ``__init__`` runs before ``module`` does, below ``rag_otel`` itself
    (``rag_otel.a`` for ``rag_otel.a.b``): every module loads the root ``__init__``, which
    therefore imports nothing but the version (`test_the_root_package_imports_only_its_version`)."""
    parts = module.split(".")
    return [".".join(parts[:n]) for n in range(2, len(parts))]


def through_parents(imp: Import, inits: dict[str, list[Import]]) -> list[Import]:
    """What importing ``imp.imported`` also imports: the module-level imports of its parent
    packages' ``__init__`` (and of theirs, and so on), counted as the importer's own."""
    found: list[Import] = []
    seen: set[str] = set()
    todo = [p for p in _parents(imp.imported) if p not in _parents(imp.importer)]
    while todo:
        package = todo.pop()
        if package in seen or package == imp.importer:
            continue
        seen.add(package)
        for inner in inits.get(package, []):
            found.append(Import(imp.importer, inner.imported, imp.lazy, imp.line))
            todo.extend(p for p in [*_parents(inner.imported), inner.imported] if _is_package(p))
    return found


def _own_parents(importer: str, inits: dict[str, list[Import]]) -> list[Import]:
    """What loading ``importer`` itself imports first: its own parent packages' ``__init__``."""
    return [
        Import(importer, inner.imported, False, 0)
        for package in _parents(importer)
        for inner in inits.get(package, [])
        if inner.imported != importer and not importer.startswith(inner.imported + ".")
    ]


def _all_imports() -> list[Import]:
    inits = _init_imports()
    out = list(DIRECT_IMPORTS)
    for i in DIRECT_IMPORTS:
        out += through_parents(i, inits)
    for importer in sorted({i.importer for i in DIRECT_IMPORTS}):
        out += _own_parents(importer, inits)
    return list(dict.fromkeys(out))


ALL_IMPORTS = _all_imports()


def test_the_import_graph_was_read() -> None:
    importers = {i.importer for i in ALL_IMPORTS}
    assert {"rag_otel.spans", "rag_otel.analysis.report", "rag_otel.cli.analyze"} <= importers


@pytest.mark.parametrize("imp", ALL_IMPORTS, ids=lambda i: f"{i.importer}->{i.imported}")
def test_wings_import_only_what_their_rules_allow(imp: Import) -> None:
    mine, theirs = wing(imp.importer), wing(imp.imported)
    allowed = ALLOWED[mine] | (LAZY.get(mine, set()) if imp.lazy else set())
    where = "inside a function" if imp.lazy else "at module level"
    assert theirs in allowed, (
        f"{imp.importer} (wing {mine}) imports {imp.imported} (wing {theirs}) {where}, "
        f"line {imp.line}; allowed: {sorted(allowed)} (docs/architecture.md)"
    )


def test_the_root_package_imports_only_its_version() -> None:
    """``rag_otel/__init__`` resolves its names on first use (PEP 562): importing any part of
    the package (``rag_otel.analysis``, the CLI) loads nothing else through it."""
    eager = {i.imported for i in DIRECT_IMPORTS if i.importer == "rag_otel" and not i.lazy}
    assert eager == {"rag_otel._version"}


def test_imports_through_a_parent_package_are_counted() -> None:
    """The tracing API imports ``rag_otel.metrics.recorder``: what ``rag_otel.metrics``'s own
    ``__init__`` imported at module level would be the tracing API's import too."""
    inits = {
        "rag_otel.metrics": [Import("rag_otel.metrics", "rag_otel.metrics.provider", False, 1)]
    }
    imp = Import("rag_otel.spans.specs", "rag_otel.metrics.recorder", False, 7)
    assert through_parents(imp, inits) == [
        Import("rag_otel.spans.specs", "rag_otel.metrics.provider", False, 7)
    ]
    assert wing("rag_otel.metrics.provider") not in ALLOWED[wing(imp.importer)]


def test_nothing_but_the_cli_imports_the_demo() -> None:
    offenders = [
        i
        for i in ALL_IMPORTS
        if wing(i.imported) == "demo" and wing(i.importer) not in {"demo", "cli"}
    ]
    assert offenders == []


def _cycles(edges: list[Import]) -> list[list[str]]:
    """The modules that import each other back, by any path: Tarjan's strongly connected
    components of more than one module."""
    graph: dict[str, set[str]] = {}
    for i in edges:
        if i.importer != i.imported:
            graph.setdefault(i.importer, set()).add(i.imported)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = [stack.pop()]
            while component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_modules_import_each_other() -> None:
    """No circle, at module level or inside functions (``metrics`` and ``options`` were one)."""
    assert _cycles(DIRECT_IMPORTS) == []
    circle = [
        Import("rag_otel.options", "rag_otel.metrics", False, 1),
        Import("rag_otel.metrics", "rag_otel.metrics.readers", False, 1),
        Import("rag_otel.metrics.readers", "rag_otel.options", True, 1),
    ]
    assert _cycles(circle) == [["rag_otel.metrics", "rag_otel.metrics.readers", "rag_otel.options"]]


TRACING_SIDE = ("opentelemetry", "rag_otel.spans", "rag_otel.configuration", "rag_otel.metrics")


def test_the_analysis_loads_nothing_of_the_tracing_side(tmp_path: Path) -> None:
    """At run time, not only in the source: ``import rag_otel.analysis``, then ``rag-otel
    analyze`` and ``compare`` on a file rag-otel wrote, load no OpenTelemetry module."""
    from subprocesses import run_python

    trace = tmp_path / "spans.jsonl"
    made = run_python(
        f"""
        import rag_otel
        rag_otel.configure(exporter="file", file_path={str(trace)!r})

        @rag_otel.stage("retrieve", kind="retrieval")
        def retrieve() -> None: ...

        for _ in range(5):
            with rag_otel.turn("s"):
                retrieve()
        rag_otel.shutdown()
        """
    )
    assert made.returncode == 0, made.stderr
    checked = run_python(
        f"""
        import sys

        def loaded():
            return sorted(m for m in sys.modules if m.startswith({TRACING_SIDE!r}))

        import rag_otel.analysis
        assert loaded() == [], loaded()
        from rag_otel.cli import main
        assert main(["analyze", {str(trace)!r}]) == 0
        assert main(["compare", {str(trace)!r}, {str(trace)!r}]) == 0
        assert loaded() == [], loaded()
        import rag_otel.spans
        assert "opentelemetry.trace" in loaded()  # the check itself sees a tracing import
        print("clean")
        """
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip().endswith("clean")

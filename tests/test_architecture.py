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


ALL_IMPORTS = [i for path in sorted(PACKAGE.rglob("*.py")) for i in imports_of(path)]


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


def test_nothing_but_the_cli_imports_the_demo() -> None:
    offenders = [
        i
        for i in ALL_IMPORTS
        if wing(i.imported) == "demo" and wing(i.importer) not in {"demo", "cli"}
    ]
    assert offenders == []

"""Environment variable references that must be documented, and credentials written into files."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from rag_otel.collector.documents import Document, Finding, display, line_of, scalar, walk

DOC_FILES = ("docs/collector.md", "docs/vendors.md", ".env.example")
"""Where, next to a config (or up to three folders above it), variables count as documented."""

_ENV_REF = re.compile(
    r"(?<!\$)\$\{(?:env:)?(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:[:?+-][^}]*)?\}"
    r"|(?<!\$)\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
)


def env_references(doc: Document, *, bare: bool) -> list[tuple[str, int]]:
    """(variable, line) for each ``${env:X}``, ``${X}`` (and ``$X`` when bare) outside comments."""
    refs: list[tuple[str, int]] = []
    for number, raw in enumerate(doc.text.splitlines(), start=1):
        line = _strip_comment(raw)
        for match in _ENV_REF.finditer(line):
            name = match.group("braced") or (match.group("bare") if bare else None)
            if name:
                refs.append((name, number))
    return refs


def _strip_comment(line: str) -> str:
    if line.lstrip().startswith("#"):
        return ""
    quote: str | None = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


_SECRET_KEY = re.compile(
    r"(?i)^(authorization|proxy-authorization|x-honeycomb-team|dd-api-key|api-key|x-api-key|"
    r"x-insert-key|.*api[-_]?key|.*secret.*|.*password.*|.*passwd.*|.*token|.*license[-_]?key)$"
)
_SCHEME_LITERAL = re.compile(r"^(Bearer|Basic|Api-Token|ApiKey|Token)\s+\S{8,}", re.IGNORECASE)
_NOT_SECRET_VALUES = {"true", "false", "yes", "no", "on", "off", "null", "none", ""}


def literal_credential(key: str | None, value: str) -> bool:
    """True for a value that looks like a secret written into the file itself."""
    value = value.strip()
    if "${" in value or value.lower() in _NOT_SECRET_VALUES:
        return False
    if _SCHEME_LITERAL.match(value):
        return True
    if key is None or key.lower().endswith(("_file", "_path", "file", "path", "authenticator")):
        return False
    return bool(_SECRET_KEY.match(key)) and len(value) >= 8 and not value.isdigit()


def credential_findings(doc: Document) -> list[Finding]:
    found: list[Finding] = []
    for key, knode, value in walk(doc.root):
        text = scalar(value)
        if text is None:
            continue
        if key is None and "=" in text:  # compose list-form environment: NAME=value
            key, text = text.split("=", 1)
        if literal_credential(key, text):
            label = f"'{key}'" if key else "a value"
            found.append(
                Finding(
                    doc.name,
                    line_of(knode),
                    "warning",
                    f"{label} holds a literal credential; read it from the environment "
                    "(${env:VAR} in a Collector config, ${VAR} in compose) and keep secrets out of files",
                )
            )
    return found


def documented_names(start: Path, extra_docs: Sequence[Path] = ()) -> tuple[set[str], list[Path]]:
    """Words in the docs that document environment variables, found from `start` upwards."""
    sources: list[Path] = list(extra_docs)
    here = start.resolve()
    for folder in [here, *here.parents][:4]:
        for rel in DOC_FILES:
            candidate = folder / rel
            if candidate.is_file() and candidate not in sources:
                sources.append(candidate)
    words: set[str] = set()
    for source in sources:
        words.update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", _read_or_empty(source)))
    return words, sources


def _read_or_empty(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def env_findings(doc: Document, *, bare: bool, extra_docs: Sequence[Path]) -> list[Finding]:
    words, sources = documented_names(doc.path.parent, extra_docs)
    where = (
        ", ".join(display(s) for s in sources)
        or "no docs/collector.md, docs/vendors.md or .env.example found"
    )
    found: list[Finding] = []
    seen: set[str] = set()
    for name, line in env_references(doc, bare=bare):
        if name in words or name in seen:
            continue
        seen.add(name)
        found.append(
            Finding(
                doc.name,
                line,
                "warning",
                f"environment variable {name} is not documented (looked in: {where})",
            )
        )
    return found

"""YAML files read with line numbers, and the findings reported about them.

``load`` composes a file into PyYAML nodes (not Python objects) so that every key and value
keeps its line; a syntax error becomes a `Finding` with the line where the parser stopped.
The small helpers (`items`, `get`, `scalar`, `sequence`, `walk`) read the node tree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Severity = Literal["error", "warning"]


class UnreadableInput(Exception):
    """A path that cannot be read at all (missing, a directory without configs, not UTF-8)."""


@dataclass(frozen=True, slots=True, order=True)
class Finding:
    path: str
    line: int
    """1-based; 0 when the finding is about the file as a whole."""
    severity: Severity
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.severity}: {self.message}"


@dataclass(slots=True)
class Document:
    path: Path
    text: str
    root: Node | None
    """None when the file is empty or did not parse."""
    parse_error: Finding | None = None

    @property
    def name(self) -> str:
        return display(self.path)


def display(path: Path) -> str:
    """A path as the user will recognise it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load(path: Path) -> Document:
    """Read and compose one YAML file; a syntax error becomes ``parse_error`` with its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UnreadableInput(f"{display(path)}: no such file") from None
    except IsADirectoryError:
        raise UnreadableInput(f"{display(path)}: is a directory") from None
    except UnicodeDecodeError as exc:
        raise UnreadableInput(f"{display(path)}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise UnreadableInput(f"{display(path)}: {exc.strerror}") from None
    return parse(path, text)


def parse(path: Path, text: str) -> Document:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = " ".join(filter(None, [exc.context, exc.problem])) or "invalid YAML"
        finding = Finding(display(path), line, "error", f"YAML does not parse: {problem}")
        return Document(path, text, None, finding)
    except yaml.YAMLError as exc:
        finding = Finding(display(path), 0, "error", f"YAML does not parse: {exc}")
        return Document(path, text, None, finding)
    return Document(path, text, root)


def line_of(node: Node) -> int:
    return int(node.start_mark.line) + 1


def items(node: Node | None) -> list[tuple[str, Node, Node]]:
    """(key, key node, value node) for a mapping, YAML merge keys (``<<: *anchor``) applied;
    [] for anything else."""
    if not isinstance(node, MappingNode):
        return []
    own: list[tuple[str, Node, Node]] = []
    merged: list[tuple[str, Node, Node]] = []
    for k, v in node.value:
        if not isinstance(k, ScalarNode):
            continue
        if k.tag.endswith(":merge"):
            sources = v.value if isinstance(v, SequenceNode) else [v]
            for source in sources:
                merged += items(source)
        else:
            own.append((str(k.value), k, v))
    names = {name for name, _, _ in own}
    return own + [(n, k, v) for n, k, v in merged if n not in names]


def get(node: Node | None, key: str) -> Node | None:
    for name, _, value in items(node):
        if name == key:
            return value
    return None


def scalar(node: Node | None) -> str | None:
    if isinstance(node, ScalarNode):
        return str(node.value)
    return None


def sequence(node: Node | None) -> list[Node]:
    return list(node.value) if isinstance(node, SequenceNode) else []


def walk(node: Node | None) -> Iterator[tuple[str | None, Node, Node]]:
    """Every (key, key node, value node) pair in a tree; sequence items come with key None."""
    if isinstance(node, MappingNode):
        for key, knode, value in items(node):
            yield key, knode, value
            yield from walk(value)
    elif isinstance(node, SequenceNode):
        for item in node.value:
            yield None, item, item
            yield from walk(item)

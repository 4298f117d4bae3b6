"""The bundled stack's files: where they are, and writing a copy (``rag-otel collector init``).

The repository's top-level ``docker-compose.yml``, ``docker-compose.vendor.yml``,
``.env.example`` and ``collector/`` configs are the only copy. A wheel carries them under
``rag_otel/collector/stack/`` (hatch ``force-include`` in pyproject.toml); a source or
editable checkout has them at the repository root. `stack_root` finds either::

    from rag_otel.collector.stack import init_stack
    written = init_stack(Path("observability"), force=False)

This module needs nothing beyond the standard library (no PyYAML): ``init`` works from the
base install.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

PACKAGED_DIR = "stack"
"""Folder inside the ``rag_otel.collector`` package that holds the stack in a wheel."""

# What makes up the stack, as globs relative to its root (the same in the wheel and the repo).
STACK_GLOBS: tuple[str, ...] = (
    "docker-compose.yml",
    "docker-compose.*.yml",
    ".env.example",
    "collector/*.yaml",
    "collector/vendors/*.yaml",
    "collector/data/.gitignore",
)
COMPOSE_FILE = "docker-compose.yml"
COLLECTOR_CONFIG = "collector/otel-collector.yaml"
COLLECTOR_OVERLAYS: tuple[str, ...] = ("collector/clickhouse.yaml",)
"""Collector configs loaded on top of `COLLECTOR_CONFIG` (checked merged onto it)."""
STANDALONE_JAEGER = "collector/jaeger-standalone.yaml"


class StackExists(Exception):
    """`init_stack` would overwrite files (and `force` is off); nothing was written."""

    def __init__(self, existing: list[Path]) -> None:
        super().__init__(f"{len(existing)} file(s) already exist")
        self.existing = existing


def is_stack(root: Path) -> bool:
    return (root / COMPOSE_FILE).is_file() and (root / COLLECTOR_CONFIG).is_file()


def stack_root() -> Path | None:
    """The packaged stack (wheel install), else the source tree's root, else None."""
    packaged = resources.files("rag_otel.collector") / PACKAGED_DIR
    candidates: list[Path] = [Path(str(packaged))] if isinstance(packaged, Path) else []
    candidates += Path(__file__).resolve().parents[:4]
    return next((root for root in candidates if is_stack(root)), None)


def stack_files(root: Path) -> list[str]:
    """The stack's files under `root`, as sorted POSIX paths relative to it."""
    found = {p.relative_to(root).as_posix() for g in STACK_GLOBS for p in root.glob(g)}
    return sorted(f for f in found if (root / f).is_file())


@dataclass(frozen=True, slots=True)
class Written:
    root: Path
    files: tuple[str, ...]
    """Relative POSIX paths, in the order written."""
    overwritten: tuple[str, ...]


def init_stack(dest: Path, *, force: bool = False, source: Path | None = None) -> Written:
    """Copy the stack into `dest` (created if needed). All or nothing without `force`.

    Raises StackExists (listing the files in the way) when a file exists and `force` is off,
    FileNotFoundError when no stack is found, OSError when `dest` cannot be written.
    """
    root = source if source is not None else stack_root()
    if root is None:
        raise FileNotFoundError("the bundled stack is missing from this installation")
    names = stack_files(root)
    existing = [dest / n for n in names if (dest / n).exists()]
    if existing and not force:
        raise StackExists(existing)
    for name in names:
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((root / name).read_bytes())
    return Written(
        root=dest,
        files=tuple(names),
        overwritten=tuple(p.relative_to(dest).as_posix() for p in existing),
    )

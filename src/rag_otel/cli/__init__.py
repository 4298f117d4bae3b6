"""The `rag-otel` command: a thin layer over the library.

Each subcommand lives in its own module under ``rag_otel.cli`` and exposes
``register(subparsers)``; heavy imports stay inside the handlers so that
``rag-otel --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

from rag_otel import __version__

# Subcommand modules, in the order `--help` lists them. A module that is not
# there yet (or fails to import) is skipped rather than breaking the CLI.
SUBCOMMAND_MODULES: tuple[str, ...] = (
    "rag_otel.cli.demo",
    "rag_otel.cli.analyze",
    "rag_otel.cli.collector",
    "rag_otel.cli.stack",
)

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag-otel",
        description="OpenTelemetry tracing for RAG pipelines: trace, then find the stage to optimise.",
    )
    parser.add_argument("--version", action="version", version=f"rag-otel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0 if args.command is None else 2
    try:
        return handler(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

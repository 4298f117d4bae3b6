"""``rag-otel collector init [DIR]`` and ``rag-otel collector check [PATHS]``.

``init`` writes the bundled stack (compose files, Collector / Jaeger / Prometheus configs,
vendor overlays, ``.env.example``) into DIR; it works from the base install. ``check``
statically checks a compose file and Collector configs (needs the ``collector`` extra).

Exit codes of check: 0 no error (warnings may be printed), 1 at least one error, 2 unreadable
input or missing extra. One line per finding: ``path:line: severity: message``.
Exit codes of init: 0 written, 1 files exist (without --force) or cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "collector",
        help="the bundled OpenTelemetry Collector + Jaeger + Prometheus stack",
        description="Work with the bundled OpenTelemetry Collector + Jaeger + Prometheus stack.",
    )
    sub = parser.add_subparsers(dest="collector_command", metavar="SUBCOMMAND")
    init = sub.add_parser(
        "init",
        help="write the bundled stack (compose, Collector, Jaeger, Prometheus configs) into DIR",
        description=(
            "Write the bundled stack into DIR (default: the current folder): docker-compose.yml, "
            "docker-compose.vendor.yml, .env.example and collector/ (Collector, Jaeger v2, "
            "Prometheus and standalone-Jaeger configs, vendor overlays). Existing files are left "
            "alone and nothing is written unless --force is given."
        ),
    )
    init.add_argument(
        "dir", nargs="?", type=Path, default=Path("."), metavar="DIR", help="default: ."
    )
    init.add_argument("--force", action="store_true", help="overwrite files that already exist")
    init.set_defaults(handler=run_init)
    check = sub.add_parser(
        "check",
        help="statically check docker-compose.yml and Collector/Jaeger/Prometheus configs",
        description=(
            "Check compose files and OpenTelemetry Collector, Jaeger v2 and Prometheus configs "
            "without running them: YAML syntax, pipelines and connectors, component types of the "
            "pinned Collector release, deprecated names, ports bound to 127.0.0.1, pinned images, "
            "mounted files, documented environment variables and literal credentials. "
            "A compose file also checks the YAML files it mounts. "
            "Exit 0 when there is no error, 1 on errors, 2 when a file cannot be read."
        ),
    )
    check.add_argument(
        "paths",
        nargs="*",
        type=Path,
        metavar="PATH",
        help="files or directories to check; a folder written by `rag-otel collector init` is "
        "checked as a whole stack (default: the stack shipped with rag-otel)",
    )
    check.add_argument(
        "--base",
        type=Path,
        metavar="CONFIG",
        help="a Collector config that --overlay files are merged onto (as otelcol --config merges)",
    )
    check.add_argument(
        "--overlay",
        type=Path,
        action="append",
        default=[],
        metavar="CONFIG",
        help="a Collector config fragment to check merged onto --base (repeatable)",
    )
    check.add_argument(
        "--docs",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a file that documents environment variables (besides docs/collector.md, "
        "docs/vendors.md and .env.example found next to the configs; repeatable)",
    )
    check.add_argument("-q", "--quiet", action="store_true", help="print errors only, not warnings")
    check.set_defaults(handler=run_check)
    parser.set_defaults(handler=_usage(parser))


def _usage(parser: argparse.ArgumentParser) -> Any:
    def handler(_: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return handler


def run_init(args: argparse.Namespace) -> int:
    from rag_otel.collector.stack import STANDALONE_JAEGER, StackExists, init_stack

    dest: Path = args.dir
    try:
        written = init_stack(dest, force=args.force)
    except StackExists as exc:
        names = ", ".join(str(p) for p in exc.existing[:3])
        more = f" and {len(exc.existing) - 3} more" if len(exc.existing) > 3 else ""
        print(
            f"rag-otel collector init: {names}{more} already exist; nothing written "
            "(--force overwrites)",
            file=sys.stderr,
        )
        return 1
    except OSError as exc:
        print(f"rag-otel collector init: {exc}", file=sys.stderr)
        return 1
    for name in written.files:
        note = " (overwritten)" if name in written.overwritten else ""
        print(f"wrote {dest / name}{note}")
    print(_next_steps(dest, STANDALONE_JAEGER))
    return 0


def _next_steps(dest: Path, standalone: str) -> str:
    cd = "" if dest == Path(".") else f"  cd {dest}\n"
    return (
        "\nnext steps:\n"
        f"{cd}"
        "  cp .env.example .env    # optional: vendor keys; see docs/collector.md\n"
        "  RAG_OTEL_UID=$(id -u) RAG_OTEL_GID=$(id -g) docker compose up -d\n"
        "  export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318\n"
        "  open http://127.0.0.1:16686 (Jaeger) and http://127.0.0.1:9090 (Prometheus)\n"
        f"without Docker: jaeger --config {dest / standalone}\n"
        f"after editing: rag-otel collector check {dest}   (pip install 'rag-otel[collector]')"
    )


def run_check(args: argparse.Namespace) -> int:
    from rag_otel.cli.extras import require_extra

    missing = require_extra("collector check", "collector")
    if missing is not None:
        return missing
    from rag_otel.collector.check import (
        UnreadableInput,
        bundle_at,
        bundled_stack,
        check_paths,
        has_errors,
    )

    paths: list[Path] = list(args.paths)
    base: Path | None = args.base
    overlays: list[Path] = list(args.overlay)
    if overlays and base is None:
        print("rag-otel collector check: --overlay needs --base CONFIG", file=sys.stderr)
        return 2
    stack_dir = paths[0] if len(paths) == 1 and paths[0].is_dir() else None
    if not overlays and base is None and stack_dir is not None:
        bundle = bundle_at(stack_dir)  # a folder written by `collector init`: the whole stack
        if bundle is not None:
            paths = list(bundle.files)
            base, overlays = bundle.base, list(bundle.overlays)
    if not paths and not overlays:
        bundle = bundled_stack()
        if bundle is None:
            print(
                "rag-otel collector check: no PATHS given and no bundled docker-compose.yml + "
                "collector/ found in this installation; pass the files to check (or write "
                "them with rag-otel collector init DIR)",
                file=sys.stderr,
            )
            return 2
        paths = list(bundle.files)
        base, overlays = bundle.base, list(bundle.overlays)
    try:
        findings = check_paths(paths, base=base, overlays=overlays, extra_docs=args.docs)
    except UnreadableInput as exc:
        print(f"rag-otel collector check: {exc}", file=sys.stderr)
        return 2
    for finding in findings:
        if args.quiet and finding.severity != "error":
            continue
        print(finding)
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    print(
        f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)}",
        file=sys.stderr,
    )
    return 1 if has_errors(findings) else 0

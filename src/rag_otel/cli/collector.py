"""``rag-otel collector check [PATHS]``: static checks of a compose file and Collector configs.

Exit codes: 0 no error (warnings may be printed), 1 at least one error, 2 unreadable input.
One line per finding: ``path:line: severity: message``.
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
        help="files or directories to check (default: the docker-compose.yml and collector/ "
        "configs of this source tree)",
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


def run_check(args: argparse.Namespace) -> int:
    try:
        import yaml  # noqa: F401
    except ModuleNotFoundError:
        print(
            "rag-otel collector check needs PyYAML: pip install 'rag-otel[collector]'",
            file=sys.stderr,
        )
        return 2
    from rag_otel.collector.check import (
        UnreadableInput,
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
    if not paths and not overlays:
        bundle = bundled_stack()
        if bundle is None:
            print(
                "rag-otel collector check: no PATHS given and no bundled docker-compose.yml + "
                "collector/ found (they ship with the source tree, not the wheel); pass the "
                "files to check",
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

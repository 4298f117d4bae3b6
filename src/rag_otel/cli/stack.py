"""``rag-otel stack up | status | down``: the bundled stack without Docker (needs the
``collector`` extra and the ``otelcol``/``otelcol-contrib``, ``jaeger`` and ``prometheus``
programs, on PATH or in ``--bin-dir``).

Exit codes: 0 done, 1 a program failed to start (or ``status``: not every service healthy),
2 a missing program, a bad option or no stack recorded in the run folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_DIR = Path("rag-otel-stack")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "stack",
        help="run the bundled Collector + Jaeger + Prometheus stack without Docker",
        description=(
            "Run the bundled stack as local processes from the same configs docker-compose.yml "
            "mounts, rewritten to listen on 127.0.0.1 with ports that do not clash."
        ),
    )
    sub = parser.add_subparsers(dest="stack_command", metavar="SUBCOMMAND")
    up = sub.add_parser("up", help="start the stack and wait until it is healthy")
    down = sub.add_parser("down", help="stop, by PID, what `up` started")
    status = sub.add_parser("status", help="PIDs, health, URLs and the trace file")
    for p in (up, down, status):
        p.add_argument(
            "--dir",
            type=Path,
            default=DEFAULT_DIR,
            help="run folder: configs, logs, data, PIDs (default: ./rag-otel-stack)",
        )
    up.add_argument(
        "--bin-dir",
        type=Path,
        help="look for otelcol/otelcol-contrib, jaeger and prometheus here before PATH",
    )
    up.add_argument(
        "--port",
        action="append",
        default=[],
        metavar="NAME=PORT",
        help="move one port (repeatable), e.g. otlp_grpc=5317; names: see docs/collector.md",
    )
    up.add_argument("--free-ports", action="store_true", help="pick free ports for everything")
    up.add_argument(
        "--vendor",
        metavar="NAME",
        help="also merge collector/vendors/NAME.yaml onto the Collector config",
    )
    up.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for each service")
    up.add_argument(
        "--scrape-interval",
        metavar="DURATION",
        help="Prometheus scrape and span-metrics flush interval (default: the bundled 15s)",
    )
    status.add_argument("--format", choices=("text", "json"), default="text")
    up.set_defaults(handler=run_up)
    down.set_defaults(handler=run_down)
    status.set_defaults(handler=run_status)
    parser.set_defaults(handler=lambda _args: (parser.print_help(), 2)[1])


def _fail(message: str, code: int = 2) -> int:
    print(f"rag-otel stack: {message}", file=sys.stderr)
    return code


def run_up(args: argparse.Namespace) -> int:
    from rag_otel.cli.extras import require_extra

    missing = require_extra("stack up", "collector")
    if missing is not None:
        return missing
    from rag_otel.collector import run
    from rag_otel.collector.local_stack import DEFAULT_PORTS, StackConfigError, parse_ports

    try:
        ports = parse_ports(args.port)
    except ValueError as exc:
        return _fail(str(exc))
    if args.free_ports:
        chosen = {p.partition("=")[0] for p in args.port}
        ports.update(run.free_ports([n for n in DEFAULT_PORTS if n not in chosen]))
    overlays: list[Path] = []
    if args.vendor:
        from rag_otel.collector.stack import stack_root

        root = stack_root()
        overlay = (root / "collector" / "vendors" / f"{args.vendor}.yaml") if root else None
        if overlay is None or not overlay.is_file():
            return _fail(f"--vendor {args.vendor}: no collector/vendors/{args.vendor}.yaml")
        overlays.append(overlay)
    try:
        binaries = run.find_binaries(args.bin_dir)
        state = run.start(
            args.dir,
            binaries,
            ports=ports,
            overlays=overlays,
            timeout=args.timeout,
            scrape_interval=args.scrape_interval,
        )
    except run.StackError as exc:
        return _fail(str(exc), 2 if isinstance(exc, run.StackUsageError) else 1)
    except StackConfigError as exc:
        return _fail(str(exc))
    for name in run.SERVICES:
        print(f"{name:<10} pid {state.pids[name]:<8} {state.binaries[name]}")
    print(f"Jaeger UI   {state.urls['jaeger']}")
    print(f"Prometheus  {state.urls['prometheus']}")
    print(f"OTLP        {state.urls['otlp_http']} (http)  {state.urls['otlp_grpc']} (grpc)")
    print(f"trace file  {state.files['traces']}")
    print(f"logs        {state.dir}/logs/")
    print(f"\nexport OTEL_EXPORTER_OTLP_ENDPOINT={state.otlp_endpoint}")
    return 0


def run_status(args: argparse.Namespace) -> int:
    from rag_otel.cli.extras import require_extra

    missing = require_extra("stack status", "collector")
    if missing is not None:
        return missing
    from rag_otel.collector.run import status

    report = status(args.dir)
    if report is None:
        return _fail(f"no stack was started from {args.dir} (`rag-otel stack up --dir {args.dir}`)")
    ok = bool(report["services"]) and all(s["healthy"] for s in report["services"].values())
    if args.format == "json":
        print(json.dumps(report, indent=2))
        return 0 if ok else 1
    if not report["services"]:
        print("stopped")
    for name, service in report["services"].items():
        print(f"{name:<10} pid {service['pid']:<8} {'healthy' if service['healthy'] else 'DOWN'}")
    for name, url in report["urls"].items():
        print(f"{name:<10} {url}")
    print(f"{'traces':<10} {report['files']['traces']}")
    return 0 if ok else 1


def run_down(args: argparse.Namespace) -> int:
    from rag_otel.cli.extras import require_extra

    missing = require_extra("stack down", "collector")
    if missing is not None:
        return missing
    from rag_otel.collector.run import read_state, stop

    if read_state(args.dir.resolve()) is None:
        return _fail(f"no stack was started from {args.dir}")
    stopped = stop(args.dir)
    print(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")
    return 0

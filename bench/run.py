#!/usr/bin/env python3
"""Run rag-otel's benchmarks: ``python3 dev.py bench`` (or ``python bench/run.py``).

    python bench/run.py                 every bench/bench_*.py module
    python bench/run.py core            only bench_core.py
    python bench/run.py --quick         fewer iterations (a smoke run)
    python bench/run.py --json out.json also write the results as JSON

A benchmark is a module ``bench/bench_<topic>.py``, found by its file name, of either form:

* ``TITLE`` and ``results(quick: bool) -> list[_harness.Result]``: run in this process and
  printed as a table (each figure with its ratio against a baseline of the same run);
* a script with ``main(argv) -> int``: run as ``python bench/bench_<topic>.py`` in a
  subprocess, plus the arguments in its ``QUICK_ARGS`` list when ``--quick`` is given.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _harness import Result, format_table  # noqa: E402


def discover() -> dict[str, Path]:
    return {p.stem.removeprefix("bench_"): p for p in sorted(HERE.glob("bench_*.py"))}


def main(argv: list[str] | None = None) -> int:
    found = discover()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("only", nargs="*", help=f"benchmarks to run (of: {', '.join(found)})")
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    parser.add_argument("--json", type=Path, help="write the results to this JSON file")
    args = parser.parse_args(argv)
    unknown = [name for name in args.only if name not in found]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; have {', '.join(found)}")
    selected = args.only or list(found)

    print(f"python {platform.python_version()} on {platform.machine()}, {time.strftime('%F %T')}")
    report: dict[str, Any] = {}
    missed = 0
    for name in selected:
        module = importlib.import_module(f"bench_{name}")
        print(flush=True)
        if hasattr(module, "results"):
            results: list[Result] = module.results(args.quick)
            print(format_table(getattr(module, "TITLE", name), results), flush=True)
            report[name] = [dataclasses.asdict(r) for r in results]
            missed += sum(1 for r in results if r.ok is False)
        else:
            extra = list(getattr(module, "QUICK_ARGS", [])) if args.quick else []
            print(f"== {name}: {found[name].name} {' '.join(extra)}".rstrip(), flush=True)
            code = subprocess.call([sys.executable, str(found[name]), *extra])
            report[name] = {"exit_code": code}
            if code != 0:
                print(f"{found[name].name} exited with {code}")
                missed += 1
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if missed:
        print(f"\n{missed} target(s) missed in this run (noisy machine? rerun to confirm)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

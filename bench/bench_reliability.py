"""Reliability figures (issue 8): turn latency with a broken collector, and sustained load.

    python bench/run.py reliability     (or: python bench/bench_reliability.py [--quick])

A script (no ``results()``): every case runs fresh interpreters, as in tests/reliability,
whose receivers and apps it reuses (real sockets on 127.0.0.1):

* for each broken collector (down, slow, hanging, HTTP 500/503, gRPC UNAVAILABLE; OTLP/HTTP
  and OTLP/gRPC): the median turn latency of an application exporting to it, over the same
  application exporting to a healthy receiver, run side by side (target: <= 1.2x), and how
  long ``rag_otel.shutdown()`` took (export timeout 1 s);
* load: 1,000 turns/s asked of 50 asyncio tasks with parallel stages for
  ``RAG_OTEL_LOAD_SECONDS`` (default 30; ``--quick``: 5), counted at a real OTLP/HTTP
  receiver: achieved rate, spans lost, RSS first third vs last third.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1] / "tests" / "reliability"
QUICK_ARGS = ["--quick"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 5 s load run")
    parser.add_argument("--skip-failures", action="store_true", help="only the load run")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(TESTS))
    import test_exporter_failures as failures
    import test_load as load
    from reliability_helpers import HttpReceiver

    ok = True
    if not args.skip_failures:
        print(f"{'collector':18} {'latency ratio':>13} {'p90 ratio':>9} {'shutdown':>9}  target")
        for case in failures.CASES:
            run = failures.run_case(case)
            healthy, broken = run["healthy"], run["broken"]
            ratio = broken["median_ms"] / healthy["median_ms"]
            ok &= ratio <= 1.2
            print(
                f"{case:18} {ratio:12.3f}x {broken['p90_ms'] / healthy['p90_ms']:8.3f}x"
                f" {broken['shutdown_s']:8.2f}s  <= 1.2x {'ok' if ratio <= 1.2 else 'MISSED'}"
            )
    seconds = 5.0 if args.quick else float(os.environ.get("RAG_OTEL_LOAD_SECONDS", "30"))
    with HttpReceiver() as receiver:
        result = load.run_load(receiver, seconds)
        spans = list(receiver.received.spans)
    expected = result["turns"] * (len(load.STAGES) + 1)
    load.check_traces(spans, result["turns"])
    print(
        f"\nload {seconds:.0f} s, 50 tasks, 1,000 turns/s asked: {result['rate']:.0f} turns/s"
        f" achieved ({result['turns']} turns), {expected - len(spans)} of {expected} spans lost,"
        f" RSS max first third {result['rss_first_third_mb']:.1f} MB,"
        f" last third {result['rss_last_third_mb']:.1f} MB"
    )
    if not ok:
        print("a latency target was missed in this run (noisy machine? rerun to confirm)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

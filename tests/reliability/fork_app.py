"""A traced application that forks workers; run by test_fork.py in a fresh interpreter.

    python fork_app.py {process,pool,osfork} [--children N] [--turns N] [--no-flush]
                       [--hold-file-lock]

configure() comes from the environment (OTLP/HTTP to the test's receiver, or the file
exporter). The parent traces turns (session "parent"), so its batch thread is running and its
exporter has an open connection or file; then it forks children that each trace ``--turns``
turns (session "child-K") with three stages, while the parent keeps tracing. Children end
the way their start method ends them; with ``--no-flush`` they do not call
``force_flush()`` themselves. Prints ``RESULT {json}`` with the expected turn counts.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import threading
import time

from opentelemetry import trace

import rag_otel


def traced_turns(session: str, turns: int) -> None:
    for i in range(turns):
        with rag_otel.turn(session_id=session):
            for name, kind in (("embed", "embedding"), ("search", "retrieval"), ("gen", "other")):
                with rag_otel.stage(name, kind=kind) as s:  # type: ignore[arg-type]
                    s.set_attribute("app.i", i)


def child(k: int, turns: int, flush: bool) -> int:
    traced_turns(f"child-{k}", turns)
    if flush:  # a pool worker may run several tasks: flush, do not shut down
        trace.get_tracer_provider().force_flush(5000)  # type: ignore[attr-defined]
    return k


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["process", "pool", "osfork"])
    parser.add_argument("--children", type=int, default=3)
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--no-flush", action="store_true")
    parser.add_argument("--hold-file-lock", action="store_true")
    args = parser.parse_args()
    flush = not args.no_flush

    config = rag_otel.configure(service_name="fork-app")
    traced_turns("parent", args.turns)
    config.force_flush()  # the parent's exporter now has an open connection / file handle

    # Keep the parent tracing while it forks, so its batch thread is busy at fork time.
    stop = threading.Event()
    parent_turns = [args.turns]

    def keep_tracing() -> None:
        while not stop.is_set():
            traced_turns("parent", 1)
            parent_turns[0] += 1
            time.sleep(0.001)

    background = threading.Thread(target=keep_tracing)
    background.start()

    release = threading.Event()
    if args.hold_file_lock:
        # The parent's batch thread is inside the file exporter's export() when the fork
        # happens: its lock is held at that moment (made deterministic here).
        file_exporter = config.processors[0].exporter.inner
        held = threading.Event()

        def hold() -> None:
            with file_exporter._lock:
                held.set()
                release.wait()

        threading.Thread(target=hold, daemon=True).start()
        held.wait()

    if args.mode == "process":
        ctx = multiprocessing.get_context("fork")
        procs = [
            ctx.Process(target=child, args=(k, args.turns, flush)) for k in range(args.children)
        ]
        for p in procs:
            p.start()
        release.set()
        for p in procs:
            p.join(30)
        codes = [p.exitcode for p in procs]
    elif args.mode == "pool":
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(args.children) as pool:
            release.set()
            done = pool.starmap(child, [(k, args.turns, flush) for k in range(args.children)])
            pool.close()
            pool.join()
        codes = [0 if d == k else 1 for k, d in enumerate(done)]
    else:
        pids = []
        for k in range(args.children):
            pid = os.fork()
            if pid == 0:  # the child: trace, then leave through the interpreter's normal exit
                child(k, args.turns, flush)
                sys.exit(0)
            pids.append(pid)
        release.set()
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]

    stop.set()
    background.join()
    rag_otel.shutdown(5000)
    expected = {"parent": parent_turns[0]} | {
        f"child-{k}": args.turns for k in range(args.children)
    }
    print("RESULT " + json.dumps({"codes": codes, "expected": expected}), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Analysis at scale: `rag-otel analyze` vs DuckDB on 1,000,000 spans of OTLP JSON lines.

    python bench/bench_analysis.py                  # 1,000,000 spans, 511 spans per line
    python bench/bench_analysis.py --per-line span  # one span per line (worst case)

Generates rag-otel-shaped OTLP JSON lines (by default one export batch of up to
512 spans per line, as the SDK's BatchSpanProcessor and the Collector's ``file``
exporter write; ``--per-line turn`` or ``span`` for smaller lines), turns of 7 spans: the turn, embed,
vector_search and bm25 in parallel, fusion, rerank, generate; the attributes
rag-otel and its GenAI/OpenInference conventions put there), then, each in its
own subprocess so peak RSS is its own:

* rag-otel: ``analyze(read_spans(FILE))`` - the whole analysis: per-stage and
  per-turn stats, critical-path attribution, verdict;
* DuckDB: ``read_json`` + ``unnest`` + ``quantile_cont``, the same per-stage
  count and p50/p90/p95/p99 on the same file (what an engineer would reach for);
* rag-otel with and without the default what-if (each stage twice as fast, the
  missed-parallelism check: issue 19), in one process, alternating, three rounds: the
  median over rounds of the CPU time ratio (target: the what-if adds 25% or less).
* the parse floor: reading the file and ``orjson.loads`` of every line, in one process
  (what any Python reader of it must at least do), paired with the one-process analysis,
  three rounds: the median pair's CPU ratio.

Every generation streams (``rag.first_chunk`` event and ``gen_ai.response.time_to_first_chunk``),
so the time to first token and its critical path are in the measured work.

It checks that rag-otel and DuckDB agree on every stage's count and percentiles, and
prints the times, the ratios and each side's peak RSS. Targets: rag-otel at least as fast
as DuckDB (issue 4), within 2.0x the parse floor (issue 23: CPU time of the one-process
analysis over the floor's, the steady figure on a shared machine; wall time with all
cores beside it), under 1 GB RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
U = TypeVar("U")

BATCH = 512  # the OpenTelemetry SDK's BatchSpanProcessor max_export_batch_size
QUICK_ARGS = ["--spans", "200000"]  # for `bench/run.py --quick`
STAGES = ("embed", "vector_search", "bm25", "fusion", "rerank", "generate")
TTFC = "gen_ai.response.time_to_first_chunk"
QUANTILES = (0.5, 0.9, 0.95, 0.99)
FLOOR_ROUNDS = 3

_RESOURCE = (
    '{"resource":{"attributes":['
    '{"key":"telemetry.sdk.language","value":{"stringValue":"python"}},'
    '{"key":"telemetry.sdk.name","value":{"stringValue":"opentelemetry"}},'
    '{"key":"telemetry.sdk.version","value":{"stringValue":"1.45.2"}},'
    '{"key":"service.name","value":{"stringValue":"faq-bot"}}]},'
    '"scopeSpans":[{"scope":{"name":"rag_otel","version":"0.1.0"},"spans":['
)
_SPAN = (
    '{{"traceId":"{tid}","spanId":"{sid}","parentSpanId":"{pid}","flags":256,"name":"{name}",'
    '"kind":{kind},"startTimeUnixNano":"{start}","endTimeUnixNano":"{end}",'
    '"attributes":[{attrs}]{events},"status":{status}}}'
)
_FIRST_CHUNK = ',"events":[{{"timeUnixNano":"{at}","name":"rag.first_chunk"}}]'
"""A streamed generation's first chunk, as rag-otel writes it (with the
``gen_ai.response.time_to_first_chunk`` attribute beside it)."""


def _a(key: str, value: str) -> str:
    return f'{{"key":"{key}","value":{{"stringValue":"{value}"}}}}'


def _i(key: str, value: int) -> str:
    return f'{{"key":"{key}","value":{{"intValue":"{value}"}}}}'


def _d(key: str, value: float) -> str:
    return f'{{"key":"{key}","value":{{"doubleValue":{value!r}}}}}'


_STAGE_ATTRS = {
    "embed": [
        _a("rag.stage", "embed"),
        _a("rag.stage.kind", "embedding"),
        _a("gen_ai.operation.name", "embeddings"),
        _a("openinference.span.kind", "EMBEDDING"),
        _a("embedding.model_name", "all-MiniLM-L6-v2"),
        _i("gen_ai.embeddings.dimension.count", 384),
    ],
    "vector_search": [
        _a("rag.stage", "vector_search"),
        _a("rag.stage.kind", "retrieval"),
        _a("gen_ai.operation.name", "retrieval"),
        _a("openinference.span.kind", "RETRIEVER"),
        _a("gen_ai.data_source.id", "chroma:faq"),
        _i("gen_ai.retrieval.top_k", 20),
    ],
    "bm25": [
        _a("rag.stage", "bm25"),
        _a("rag.stage.kind", "retrieval"),
        _a("gen_ai.operation.name", "retrieval"),
        _a("openinference.span.kind", "RETRIEVER"),
        _a("gen_ai.data_source.id", "bm25:faq"),
        _i("gen_ai.retrieval.top_k", 20),
    ],
    "fusion": [
        _a("rag.stage", "fusion"),
        _a("rag.stage.kind", "fusion"),
        _a("openinference.span.kind", "CHAIN"),
    ],
    "rerank": [
        _a("rag.stage", "rerank"),
        _a("rag.stage.kind", "rerank"),
        _a("openinference.span.kind", "RERANKER"),
        _a("reranker.model_name", "ms-marco-MiniLM-L-12-v2"),
        _i("reranker.top_k", 5),
    ],
    "generate": [
        _a("rag.stage", "generate"),
        _a("rag.stage.kind", "generation"),
        _a("gen_ai.operation.name", "chat"),
        _a("openinference.span.kind", "LLM"),
        _a("gen_ai.request.model", "qwen2.5-7b-instruct"),
        _i("gen_ai.usage.input_tokens", 812),
        _i("gen_ai.usage.output_tokens", 143),
    ],
}


def generate(path: Path, n_spans: int, per_line: str = "span", seed: int = 7) -> int:
    """Write about `n_spans` spans (whole turns of 7) to `path`; return the span count."""
    rng = random.Random(seed)
    lognorm = rng.lognormvariate
    attrs = {k: ",".join(v) for k, v in _STAGE_ATTRS.items()}
    chat = _a("gen_ai.operation.name", "chat")
    ok, error = "{}", '{"code":2,"message":"rate limited"}'
    t0 = 1_795_591_355_000_000_000
    n_turns = max(1, n_spans // 7)
    with open(path, "w", encoding="ascii") as out:
        buf: list[str] = []
        batch: list[str] = []
        for t in range(n_turns):
            tid = f"{rng.getrandbits(128):032x}"
            ids = [f"{rng.getrandbits(64):016x}" for _ in range(7)]
            start = t0 + t * 2_000_000_000
            d = {
                "embed": int(rng.uniform(4e6, 9e6)),
                "vector_search": int(lognorm(16.8, 0.3)),  # ~20 ms
                "bm25": int(lognorm(16.3, 0.5)),  # ~12 ms
                "fusion": int(rng.uniform(2e5, 4e5)),
                "rerank": int(lognorm(17.4, 0.4)),  # ~36 ms
                "generate": int(lognorm(19.8, 0.3)),  # ~400 ms
            }
            c = start + 150_000
            times = {"embed": (c, c + d["embed"])}
            c += d["embed"]
            times["vector_search"] = (c, c + d["vector_search"])
            times["bm25"] = (c, c + d["bm25"])
            c += max(d["vector_search"], d["bm25"])
            for s in ("fusion", "rerank", "generate"):
                times[s] = (c, c + d[s])
                c += d[s]
            end = c + 300_000
            st, en = times["generate"]
            ttfc = int(rng.uniform(0.15, 0.5) * (en - st))  # every generation streams
            spans = []
            for i, s in enumerate(STAGES, start=1):
                st, en = times[s]
                streamed = s == "generate"
                spans.append(
                    _SPAN.format(
                        tid=tid,
                        sid=ids[i],
                        pid=ids[0],
                        name=f"rag.{s}",
                        kind=1,
                        start=st,
                        end=en,
                        attrs=attrs[s] + (f",{_d(TTFC, ttfc / 1e9)}" if streamed else ""),
                        events=_FIRST_CHUNK.format(at=st + ttfc) if streamed else "",
                        status=error if rng.random() < 0.01 else ok,
                    )
                )
            spans.append(
                _SPAN.format(
                    tid=tid,
                    sid=ids[0],
                    pid="",
                    name="rag.turn",
                    kind=2,
                    start=start,
                    end=end,
                    attrs=f"{_a('rag.turn.id', str(t))},{_a('session.id', f's-{t % 997}')},{chat}",
                    events="",
                    status=ok,
                ).replace(',"parentSpanId":""', "")
            )
            if per_line == "span":
                buf.extend('{"resourceSpans":[' + _RESOURCE + s + "]}]}]}\n" for s in spans)
            elif per_line == "turn":
                buf.append('{"resourceSpans":[' + _RESOURCE + ",".join(spans) + "]}]}]}\n")
            else:  # "batch": one export of up to BATCH spans per line
                batch.extend(spans)
                if len(batch) + 7 > BATCH or t == n_turns - 1:
                    buf.append('{"resourceSpans":[' + _RESOURCE + ",".join(batch) + "]}]}]}\n")
                    batch.clear()
            if len(buf) >= 7000 or (per_line == "batch" and len(buf) >= 8):
                out.write("".join(buf))
                buf.clear()
        out.write("".join(buf))
    return n_turns * 7


# --- workers (each runs in its own process) --------------------------------------------------


class _PeakRss:
    """Peak resident memory of this process plus its worker processes, in MB.

    With ``tree=True`` sampled every 20 ms with psutil (the sum of RSS over the process
    tree: an upper bound, as forked workers share pages with their parent); always at
    least this process's own high-water mark (``VmHWM``), which is all a single-process
    worker needs: no sampling thread then, so its CPU time is the work's alone. Not
    ``ru_maxrss``: on Linux a child inherits its parent's figure across fork and exec, so a
    worker started by a large process would report the parent's memory.
    """

    def __init__(self, tree: bool = False) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if tree:
            import psutil

            self._me = psutil.Process()
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def _sample(self) -> None:
        import psutil

        total = self._me.memory_info().rss
        for child in self._me.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        self.peak = max(self.peak, total)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self._sample()

    def stop(self) -> float:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._sample()
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    self.peak = max(self.peak, int(line.split()[1]) * 1024)
        return self.peak / 1e6


def _cpu_s() -> float:
    """CPU seconds of this process and its worker processes."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(who)
        total += r.ru_utime + r.ru_stime
    return total


def worker_rag_otel(path: str, workers: int | None = None) -> dict[str, Any]:
    """What ``rag-otel analyze FILE`` does, minus rendering."""
    rss = _PeakRss(tree=workers != 1)
    t = time.perf_counter()
    from rag_otel.analysis.model import Diagnostics
    from rag_otel.analysis.parallel import default_workers
    from rag_otel.analysis.pipeline import analyze_sources

    diagnostics = Diagnostics()
    report = analyze_sources([path], diagnostics=diagnostics, workers=workers)
    elapsed = time.perf_counter() - t
    used = workers or default_workers()
    forked = resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime > 0
    stages = {
        s.name: {
            "count": s.timed,
            "q": [x * 1e6 for x in (s.p50_ms, s.p90_ms, s.p95_ms, s.p99_ms)],  # type: ignore[operator]
        }
        for s in report.stages
    }
    return {
        "seconds": elapsed,
        "rss_mb": rss.stop(),
        "processes": used if forked else 1,
        "cpu_s": _cpu_s(),
        "stages": stages,
        "turns": report.turn.timed,
        "verdict": report.verdict.lines[0],
        "what_if": [w.change for w in report.what_if],
        "warnings": dict(diagnostics.counts),
    }


def worker_floor(path: str) -> dict[str, Any]:
    """The parse floor: read the file and parse every line with orjson, keeping nothing."""
    rss = _PeakRss()
    t = time.perf_counter()
    import orjson

    loads = orjson.loads
    with open(path, "rb") as f:
        for line in f:
            loads(line)
    return {"seconds": time.perf_counter() - t, "rss_mb": rss.stop(), "cpu_s": _cpu_s()}


DUCKDB_SQL = """
WITH spans AS (
    SELECT unnest(ss.spans) AS sp FROM (
        SELECT unnest(rs.scopeSpans) AS ss FROM (
            SELECT unnest(resourceSpans) AS rs
            FROM read_json(?, format = 'newline_delimited', maximum_object_size = 1073741824)
        )
    )
), stage_spans AS (
    SELECT list_filter(sp.attributes, lambda a: a.key = 'rag.stage')[1].value.stringValue AS stage,
           CAST(sp.endTimeUnixNano AS BIGINT) - CAST(sp.startTimeUnixNano AS BIGINT) AS d
    FROM spans
)
SELECT stage, count(*) AS n, quantile_cont(d, [0.5, 0.9, 0.95, 0.99]) AS q
FROM stage_spans WHERE stage IS NOT NULL GROUP BY stage ORDER BY stage
"""


def worker_what_if(path: str, rounds: int = 3) -> dict[str, Any]:
    """CPU seconds of ``analyze(read_spans(FILE))`` without and with the default what-if,
    alternating in one process (which goes first alternates too): the median ratio."""
    import statistics

    from rag_otel.analysis.model import Diagnostics
    from rag_otel.analysis.readers import read_spans
    from rag_otel.analysis.report import analyze

    def cpu(what_if: bool) -> float:
        t = time.process_time()
        analyze(read_spans(path, diagnostics=Diagnostics()), default_what_if=what_if)
        return time.process_time() - t

    pairs = alternating(rounds, lambda: cpu(False), lambda: cpu(True))
    return {"rounds": pairs, "added": statistics.median(b / a for a, b in pairs) - 1}


def worker_duckdb(path: str) -> dict[str, Any]:
    rss = _PeakRss()  # one process (its threads are in VmHWM)
    t = time.perf_counter()
    import duckdb

    con = duckdb.connect()
    rows = con.execute(DUCKDB_SQL, [path]).fetchall()
    elapsed = time.perf_counter() - t
    return {
        "seconds": elapsed,
        "rss_mb": rss.stop(),
        "cpu_s": _cpu_s(),
        "threads": con.execute("SELECT current_setting('threads')").fetchone()[0],  # type: ignore[index]
        "stages": {stage: {"count": n, "q": [float(x) for x in q]} for stage, n, q in rows},
    }


def _run_worker(name: str, path: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", name, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{name} worker failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def alternating(rounds: int, a: Callable[[], T], b: Callable[[], U]) -> list[tuple[T, U]]:
    """``rounds`` pairs of (a(), b()) run back to back, which goes first alternating."""
    pairs = []
    for r in range(rounds):
        if r % 2:
            second = b()
            pairs.append((a(), second))
        else:
            first = a()
            pairs.append((first, b()))
    return pairs


def floor_pairs(
    path: Path, rounds: int = FLOOR_ROUNDS
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(floor, one-process analysis) run back to back ``rounds`` times, which goes first
    alternating, sorted by their CPU ratio: the median pair is the figure (the machine's
    speed drifts by 20% between minutes on a shared host; a pair sees the same drift)."""
    pairs = alternating(
        rounds, lambda: _run_worker("floor", path), lambda: _run_worker("rag-otel-1", path)
    )
    return sorted(pairs, key=lambda p: p[1]["cpu_s"] / p[0]["cpu_s"])


def agree(a: dict[str, Any], b: dict[str, Any], rel: float = 1e-9) -> list[str]:
    """Differences between the per-stage counts and percentiles of two results."""
    problems = []
    if set(a) != set(b):
        problems.append(f"stages differ: {sorted(a)} vs {sorted(b)}")
    for stage in sorted(set(a) & set(b)):
        if a[stage]["count"] != b[stage]["count"]:
            problems.append(f"{stage}: count {a[stage]['count']} vs {b[stage]['count']}")
        for q, x, y in zip(QUANTILES, a[stage]["q"], b[stage]["q"], strict=True):
            if abs(x - y) > rel * max(abs(x), abs(y), 1.0):
                problems.append(f"{stage}: q{q} {x} vs {y}")
    return problems


def run(
    n_spans: int = 1_000_000, per_line: str = "batch", keep: Path | None = None
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="rag-otel-bench-") as tmp:
        path = keep or Path(tmp) / "spans.jsonl"
        t = time.perf_counter()
        spans = generate(path, n_spans, per_line)
        gen_s = time.perf_counter() - t
        size_mb = path.stat().st_size / 1e6
        print(
            f"generated {spans:,} spans ({size_mb:,.0f} MB, one {per_line} per line) in {gen_s:.1f} s"
        )
        print(
            f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True
        )
        duck = _run_worker("duckdb", path)
        ours = _run_worker("rag-otel", path)
        pairs = floor_pairs(path)
        floor, single = pairs[len(pairs) // 2]
        what_if = _run_worker("what-if", path)
    problems = agree(ours["stages"], duck["stages"]) + agree(single["stages"], duck["stages"])
    ratio = duck["seconds"] / ours["seconds"]
    rows = [
        (f"rag-otel analyze ({ours['processes']} processes)", ours),
        ("rag-otel analyze (1 process)", single),
        (f"DuckDB read_json ({duck['threads']} threads)", duck),
        ("parse floor (orjson, 1 process)", floor),
    ]
    for label, r in rows:
        print(
            f"{label:34} {r['seconds']:7.2f} s wall {r['cpu_s']:7.2f} s CPU "
            f"peak RSS {r['rss_mb']:6.0f} MB  ({spans / r['seconds'] / 1e3:,.0f}k spans/s)"
        )
    print(f"speed ratio (DuckDB time / rag-otel time): {ratio:.2f}x  (target >= 1.0)")
    print(f"  single process: {duck['seconds'] / single['seconds']:.2f}x")
    floor_ratio = single["cpu_s"] / floor["cpu_s"]
    print(
        f"parse-floor ratio (rag-otel 1 process CPU / floor CPU): {floor_ratio:.2f}x  (target <= 2.0;"
        f" median of {len(pairs)} paired rounds: "
        + ", ".join(f"{s['cpu_s']:.2f}/{f['cpu_s']:.2f} s" for f, s in pairs)
        + ")"
    )
    print(
        f"  wall, all cores: {ours['seconds'] / floor['seconds']:.2f}x;"
        f" wall, 1 process: {single['seconds'] / floor['seconds']:.2f}x"
    )
    print(f"rag-otel RSS under 1 GB: {'yes' if ours['rss_mb'] < 1024 else 'NO'}")
    print(
        "percentiles agree: "
        + ("yes (all stages, counts and p50/p90/p95/p99)" if not problems else "NO")
    )
    for p in problems:
        print("  " + p)
    added = what_if["added"]
    print(
        f"default what-if adds {100 * added:.0f}% CPU to analyze (1 process, median of "
        f"{len(what_if['rounds'])} paired rounds: "
        + ", ".join(f"{a:.2f} s -> {b:.2f} s" for a, b in what_if["rounds"])
        + f"; target <= 25%): {', '.join(single['what_if'])}"
    )
    print(f"verdict: {ours['verdict']}")
    if ours["warnings"]:
        print(f"warnings: {ours['warnings']}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return {
        "spans": spans,
        "file_mb": size_mb,
        "per_line": per_line,
        "rag_otel": ours,
        "rag_otel_single": single,
        "duckdb": duck,
        "floor": floor,
        "ratio": ratio,
        "floor_ratio": floor_ratio,
        "agree": not problems,
        "what_if_added": added,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--spans", type=int, default=1_000_000)
    p.add_argument("--per-line", choices=("batch", "turn", "span"), default="batch")
    p.add_argument("--keep", type=Path, help="write the generated file here and keep it")
    p.add_argument("--worker", nargs=2, metavar=("NAME", "FILE"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        name, path = args.worker
        workers = {
            "rag-otel": lambda p: worker_rag_otel(p),
            "rag-otel-1": lambda p: worker_rag_otel(p, workers=1),
            "what-if": worker_what_if,
            "duckdb": worker_duckdb,
            "floor": worker_floor,
        }
        print(json.dumps(workers[name](path)))
        return 0
    result = run(args.spans, args.per_line, args.keep)
    ok = result["agree"] and result["ratio"] >= 1.0 and result["rag_otel"]["rss_mb"] < 1024
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())

"""ClickHouse at scale: `rag-otel analyze chdb://` on 10,000,000 spans, the file analysis beside it.

    python bench/bench_clickhouse.py                    # 10,000,000 spans
    python bench/bench_clickhouse.py --spans 1000000    # smaller
    python bench/bench_clickhouse.py --file-spans 2000000  # file analysis on the first 2M only

In one run:

1. makes rag-otel-shaped turns of 7 spans (turn, embed, vector_search || bm25, fusion,
   rerank, streamed generate with a ``rag.first_chunk`` event; about 1% errors) in chDB, in
   the contrib exporter's current ``otel_traces`` table, generated in SQL (seeded hashes, so
   every run makes the same spans);
2. writes the same spans out as OTLP JSON lines (one span per line, in time order), by SQL
   in chunks of 100,000 turns;
3. times, each in its own process (peak RSS its own):
   - ``rag-otel analyze chdb://DIR`` (the statistics in chDB, the critical path on a sample),
   - ``rag-otel analyze clickhouse://127.0.0.1:PORT/`` over HTTP through ``clickhouse-connect``
     against `tests/clickhouse_front.py` (chDB behind a 127.0.0.1 HTTP front: no ClickHouse
     server can be installed here), with the client's peak RSS,
   - ``rag-otel analyze FILE`` on the same spans (all cores);
4. checks that every stage's count and percentiles agree between chDB and the file (1e-6 ms).

Targets (issue 20): chDB 10M spans in 10 s or less; HTTP client RSS under 150 MB at 1M+ spans.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
QUICK_ARGS = ["--spans", "1000000"]  # for `bench/run.py --quick`
sys.path.insert(0, str(ROOT / "tests"))

T0 = 1_795_591_355_000_000_000
STAGES = ("embed", "vector_search", "bm25", "fusion", "rerank", "generate")
KINDS = {
    "embed": "embedding",
    "vector_search": "retrieval",
    "bm25": "retrieval",
    "fusion": "fusion",
    "rerank": "rerank",
    "generate": "generation",
}


def _u(k: int) -> str:
    return f"((cityHash64(t, {k}) % 1000000) + 0.5) / 1000000"


def _lognormal(k: int, mu: float, sigma: float) -> str:
    z = f"sqrt(-2 * ln({_u(k)})) * cos(2 * pi() * {_u(k + 50)})"
    return f"toInt64(exp({mu} + {sigma} * {z}))"


def turns_sql(n_turns: int) -> str:
    """One row per turn: ids and the stage times (ns), as bench_analysis draws them."""
    return f"""SELECT t,
  lower(hex(cityHash64(t, 1))) || lower(hex(cityHash64(t, 2))) AS tid,
  toInt64({T0} + t * 2000000000) AS start,
  toInt64(4000000 + 5000000 * {_u(3)}) AS d_embed,
  {_lognormal(4, 16.8, 0.3)} AS d_vector,
  {_lognormal(5, 16.3, 0.5)} AS d_bm25,
  toInt64(200000 + 200000 * {_u(6)}) AS d_fusion,
  {_lognormal(7, 17.4, 0.4)} AS d_rerank,
  {_lognormal(8, 19.8, 0.3)} AS d_generate,
  toInt64(d_generate * (0.1 + 0.2 * {_u(9)})) AS d_first,
  start + 150000 AS s_embed,
  s_embed + d_embed AS s_retrieve,
  s_retrieve + greatest(d_vector, d_bm25) AS s_fusion,
  s_fusion + d_fusion AS s_rerank,
  s_rerank + d_rerank AS s_generate,
  s_generate + d_generate + 300000 AS turn_end
FROM numbers({n_turns}) AS n ARRAY JOIN [n.number] AS t"""


def spans_sql(n_turns: int) -> str:
    """Seven exporter rows per turn (current encoding: ``Server``, ``Error``)."""
    rows = [
        (
            "rag.turn",
            "''",
            "start",
            "turn_end - start",
            "'Server'",
            "map('rag.turn.id', toString(t))",
        ),
    ]
    starts = {
        "embed": ("s_embed", "d_embed"),
        "vector_search": ("s_retrieve", "d_vector"),
        "bm25": ("s_retrieve", "d_bm25"),
        "fusion": ("s_fusion", "d_fusion"),
        "rerank": ("s_rerank", "d_rerank"),
        "generate": ("s_generate", "d_generate"),
    }
    for name, (s, d) in starts.items():
        attrs = f"map('rag.stage', '{name}', 'rag.stage.kind', '{KINDS[name]}')"
        rows.append((f"rag.{name}", "'root'", s, d, "'Internal'", attrs))
    arms = ", ".join(f"('{n}', {p}, {s}, {d}, {k}, {a})" for n, p, s, d, k, a in rows)
    return f"""SELECT
  fromUnixTimestamp64Nano(toInt64(r.3)) AS Timestamp, tid AS TraceId,
  lower(hex(cityHash64(t, r.1))) AS SpanId,
  if(r.2 = '', '', lower(hex(cityHash64(t, 'rag.turn')))) AS ParentSpanId,
  '' AS TraceState, r.1 AS SpanName, r.5 AS SpanKind, 'faq-bot' AS ServiceName,
  map('service.name', 'faq-bot') AS ResourceAttributes, 'rag_otel' AS ScopeName, '0.1.0' AS ScopeVersion,
  r.6 AS SpanAttributes, toUInt64(r.4) AS Duration,
  if(r.1 != 'rag.turn' AND cityHash64(t, r.1, 'error') % 100 = 0, 'Error', 'Unset') AS StatusCode,
  '' AS StatusMessage,
  if(r.1 = 'rag.generate', [fromUnixTimestamp64Nano(toInt64(s_generate + d_first))], []) AS `Events.Timestamp`,
  if(r.1 = 'rag.generate', ['rag.first_chunk'], []) AS `Events.Name`,
  if(r.1 = 'rag.generate', [map()], []) AS `Events.Attributes`,
  [] AS `Links.TraceId`, [] AS `Links.SpanId`, [] AS `Links.TraceState`, [] AS `Links.Attributes`
FROM ({turns_sql(n_turns)})
ARRAY JOIN [{arms}] AS r"""


def otlp_sql(table: str, first_turn: int, turns: int) -> str:
    """The same spans as OTLP JSON lines (one span per line) of turns [first, first + turns),
    in time order: a trace's spans close together, as an exporter writes them."""
    span = """concat('{"traceId":"', TraceId, '","spanId":"', SpanId, '"',
      if(ParentSpanId = '', '', concat(',"parentSpanId":"', ParentSpanId, '"')),
      ',"name":"', SpanName, '","kind":', if(SpanKind = 'Server', '2', '1'),
      ',"startTimeUnixNano":"', toString(toUnixTimestamp64Nano(Timestamp)),
      '","endTimeUnixNano":"', toString(toUnixTimestamp64Nano(Timestamp) + Duration),
      '","attributes":[', arrayStringConcat(arrayMap((k, v) -> concat('{"key":"', k,
      '","value":{"stringValue":"', v, '"}}'), mapKeys(SpanAttributes), mapValues(SpanAttributes)), ','),
      ']', if(empty(`Events.Name`), '', concat(',"events":[{"timeUnixNano":"',
      toString(toUnixTimestamp64Nano(`Events.Timestamp`[1])), '","name":"rag.first_chunk"}]')),
      ',"status":', if(StatusCode = 'Error', '{"code":2}', '{}'), '}')"""
    head = (
        '{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":'
        '{"stringValue":"faq-bot"}}]},"scopeSpans":[{"scope":{"name":"rag_otel"},"spans":['
    )
    lo, hi = T0 + first_turn * 2_000_000_000, T0 + (first_turn + turns) * 2_000_000_000
    return f"""SELECT concat('{head}', {span}, ']}}]}}]}}')
FROM {table} WHERE Timestamp >= fromUnixTimestamp64Nano(toInt64({lo}))
  AND Timestamp < fromUnixTimestamp64Nano(toInt64({hi}))
ORDER BY Timestamp"""


def _timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str]:
    """(seconds, peak RSS MB of the command's process, stdout)."""
    wrapper = (
        "import sys\n"
        "sys.argv = ['rag-otel'] + sys.argv[1:]\n"
        "from rag_otel.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
        "sys.stderr.write('\\nRSS_KB %s\\n' % hwm)\n"
        "sys.exit(code)\n"
    )
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, env=env, check=False
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    rss = int(proc.stderr.rsplit("RSS_KB", 1)[1].split()[0]) // 1024
    return seconds, rss, proc.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--spans", type=int, default=10_000_000)
    parser.add_argument(
        "--file-spans", type=int, help="analyse only this many of the spans as a file (default all)"
    )
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args(argv)
    import chdb.session

    from netutil import free_port

    n_turns = max(1, args.spans // 7)
    file_turns = n_turns if args.file_spans is None else max(1, args.file_spans // 7)
    work = args.keep or Path(tempfile.mkdtemp(prefix="rag-otel-ch-"))
    datadir, spans_file = work / "chdb", work / "spans.jsonl"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    try:
        started = time.perf_counter()
        from clickhouse_tables import CURRENT

        session = chdb.session.Session(str(datadir))
        session.query("CREATE DATABASE IF NOT EXISTS otel")
        session.query(CURRENT.format(db="otel", table="otel_traces"))
        session.query(f"INSERT INTO otel.otel_traces SELECT * FROM ({spans_sql(n_turns)})")
        count = int(str(session.query("SELECT count() FROM otel.otel_traces", "CSV")).strip())
        made = time.perf_counter() - started
        started = time.perf_counter()
        with spans_file.open("wb") as out:
            for first in range(0, file_turns, 100_000):
                chunk = min(100_000, file_turns - first)
                sql = otlp_sql("otel.otel_traces", first, chunk)
                out.write(session.query(sql, "TabSeparatedRaw").bytes())
        written = time.perf_counter() - started
        session.close()
        print(
            f"{count:,} spans in chDB ({made:.1f} s); {file_turns * 7:,} as OTLP JSON lines "
            f"({spans_file.stat().st_size / 1e6:,.0f} MB, {written:.1f} s)"
        )

        ch_s, ch_rss, ch_out = _timed(["analyze", f"chdb://{datadir}", "--format", "json"], env)
        port = free_port()
        front = subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "clickhouse_front.py"), str(datadir), str(port)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            assert front.stdout is not None
            front.stdout.readline()
            http_s, http_rss, http_out = _timed(
                ["analyze", f"clickhouse://127.0.0.1:{port}/", "--format", "json"], env
            )
        finally:
            front.terminate()
            front.wait(30)
        file_s, file_rss, file_out = _timed(["analyze", str(spans_file), "--format", "json"], env)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    chdb_report: dict[str, Any] = json.loads(ch_out)
    http_report: dict[str, Any] = json.loads(http_out)
    file_report: dict[str, Any] = json.loads(file_out)
    sample = chdb_report["critical_path_sample"]
    print(f"{'':24}{'spans':>12}{'seconds':>10}{'spans/s':>14}{'peak RSS MB':>13}")
    for name, n, s, rss in (
        ("chdb:// (in-process)", count, ch_s, ch_rss),
        ("clickhouse:// (HTTP)", count, http_s, http_rss),
        ("file (rag-otel analyze)", file_turns * 7, file_s, file_rss),
    ):
        print(f"{name:24}{n:>12,}{s:>10.2f}{n / s:>14,.0f}{rss:>13,}")
    assert chdb_report["stages"] == http_report["stages"]
    if file_turns == n_turns:
        for a, b in zip(chdb_report["stages"], file_report["stages"], strict=True):
            assert (a["name"], a["count"]) == (b["name"], b["count"]), (a, b)
            for key in ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms"):
                assert abs(a[key] - b[key]) < 1e-6, (a["name"], key, a[key], b[key])
        agree = "every stage's count and percentiles agree (1e-6 ms)"
    else:
        agree = "file analysis on a prefix: not compared"
    print(
        f"file / chdb time per span: {(file_s / (file_turns * 7)) / (ch_s / count):.1f}x; {agree}"
    )
    print(
        f"critical path and verdict on a sample of {sample['traces']:,} traces of "
        f"{sample['of_turns']:,} turns; verdict: {chdb_report['verdict']['lines'][0]}"
    )
    print(
        f"targets: chdb {count:,} spans <= 10 s: {'ok' if ch_s <= 10 else 'MISSED'}; "
        f"HTTP client RSS < 150 MB: {'ok' if http_rss < 150 else 'MISSED'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

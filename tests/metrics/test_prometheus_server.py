"""A real Prometheus (Debian's 2.42) scraping a real instrumented process every second.

The percentiles ``rag-otel analyze prometheus+http://...`` computes with
``histogram_quantile`` must agree with the exact (type 7) percentiles of the same run's
spans, read back from the span file with the analysis readers, to within the histogram's
bucket error: the estimate must lie inside the buckets that hold the order statistics
around the quantile's rank. The allowed error is computed from the bucket boundaries.
"""

from __future__ import annotations

import bisect
import json
import math
import os
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from prometheus_server import PrometheusBinary, PrometheusServer

from netutil import free_port
from rag_otel.analysis.model import Diagnostics, InputError
from rag_otel.analysis.prometheus import NO_TRACES_LINE, analyze_prometheus
from rag_otel.analysis.readers import read_spans
from rag_otel.analysis.renderers import render
from rag_otel.analysis.report import FIRST_TOKEN_ROW, TURN_ROW, analyze
from rag_otel.metrics import DEFAULT_BUCKETS

APP = Path(__file__).resolve().parent / "instrumented_app.py"
ROOT = Path(__file__).resolve().parents[2]
TURNS = 120
STAGES = ("embed", "retrieve", "generate")
RANK_SLACK = 2
"""Order statistics either side of the quantile's rank: the warm-up sample at the window's
start and the rank conventions of type 7 vs ``histogram_quantile`` differ by about one."""
TIMER_TOLERANCE = 0.02
"""Span and histogram time the same call with two clocks a few microseconds apart."""

pytestmark = pytest.mark.slow


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAG_OTEL_"))}


def bucket_interval(low: float, high: float, bounds: tuple[float, ...]) -> tuple[float, float]:
    """The union of the buckets holding ``low`` and ``high`` (bucket i is (b[i-1], b[i]])."""
    i = bisect.bisect_left(bounds, low)
    j = bisect.bisect_left(bounds, high)
    lower = bounds[i - 1] if i > 0 else 0.0
    upper = bounds[j] if j < len(bounds) else bounds[-1]
    return lower, upper


def allowed(values: list[float], q: float) -> tuple[float, float]:
    """Where a bucket-interpolated ``q`` quantile of ``values`` (sorted, seconds) may fall."""
    n = len(values)
    low_rank = max(0, math.floor((n - 1) * q) - RANK_SLACK)
    high_rank = min(n - 1, math.ceil(q * n) + RANK_SLACK)
    return bucket_interval(
        values[low_rank] * (1 - TIMER_TOLERANCE),
        values[high_rank] * (1 + TIMER_TOLERANCE),
        DEFAULT_BUCKETS,
    )


def test_prometheus_percentiles_agree_with_the_spans(
    prometheus_binary: PrometheusBinary, tmp_path: Path
) -> None:
    spans_file = tmp_path / "spans.jsonl"
    app = subprocess.Popen(
        [sys.executable, str(APP), str(spans_file), str(TURNS), "7"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=tmp_path,
    )
    assert app.stdin is not None
    assert app.stdout is not None
    try:
        hello = json.loads(app.stdout.readline())
        started = time.time()
        server = PrometheusServer(
            prometheus_binary, tmp_path / "prometheus", [f"127.0.0.1:{hello['port']}"], 1.0
        )
        try:
            # The warm-up turn is scraped: every series exists before the measured run.
            server.wait_for(
                "count(rag_stage_duration_seconds_count)",
                lambda r: bool(r) and float(r[0]["value"][1]) == len(STAGES),
            )
            app.stdin.write("go\n")
            app.stdin.flush()
            assert json.loads(app.stdout.readline()) == {"done": TURNS}
            [last] = server.wait_for(
                "timestamp(gen_ai_invoke_workflow_duration_seconds_count)",
                lambda r: (
                    bool(r)
                    and float(
                        server.query("gen_ai_invoke_workflow_duration_seconds_count")[0]["value"][1]
                    )
                    == TURNS + 1
                ),
            )
            # Evaluate at the last scrape: no extrapolation past it.
            until = datetime.fromtimestamp(float(last["value"][1]), tz=timezone.utc).isoformat()
            window = f"{math.ceil(time.time() - started) + 5}s"
            source = f"prometheus+{server.url}"
            report = analyze_prometheus(source, since=window, until=until)
            cli = subprocess.run(
                [sys.executable, "-m", "rag_otel", "analyze", source, "--since", window,
                 "--until", until, "--format", "json", "--html", str(tmp_path / "p.html")],
                capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=60,
            )  # fmt: skip
            unreachable = subprocess.run(
                [sys.executable, "-m", "rag_otel", "analyze",
                 f"prometheus+http://127.0.0.1:{free_port()}", "--since", "1h"],
                capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=60,
            )  # fmt: skip
            not_prometheus = subprocess.run(
                [sys.executable, "-m", "rag_otel", "analyze",
                 f"prometheus+http://127.0.0.1:{hello['port']}", "--since", "1h"],
                capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=60,
            )  # fmt: skip
        finally:
            server.stop()
    finally:
        app.stdin.write("stop\n")
        app.stdin.flush()
        app.wait(timeout=60)

    # The exact percentiles of the same run's spans, warm-up turn left out.
    diagnostics = Diagnostics()
    spans = [
        s
        for s in read_spans(str(spans_file), diagnostics=diagnostics)
        if s.trace_id != hello["warmup_trace"]
    ]
    exact = analyze(spans, diagnostics=diagnostics)
    assert exact.first_token is not None
    exact_rows = {s.name: s for s in [*exact.stages, exact.turn, exact.first_token]}
    durations = {
        name: sorted(s.duration_ns / 1e9 for s in spans if s.stage == name and s.duration_ns)
        for name in STAGES
    }
    durations[TURN_ROW] = sorted(s.duration_ns / 1e9 for s in spans if s.is_turn and s.duration_ns)
    durations[FIRST_TOKEN_ROW] = sorted(v / 1e9 for v in exact.samples[FIRST_TOKEN_ROW])
    assert {n: len(v) for n, v in durations.items()} == {
        **dict.fromkeys(STAGES, TURNS),
        TURN_ROW: TURNS,
        FIRST_TOKEN_ROW: TURNS,
    }

    assert report.first_token is not None  # the turns' time to first token, from its histogram
    rows = {s.name: s for s in [*report.stages, report.turn, report.first_token]}
    assert [s.name for s in report.stages] == list(STAGES)  # ordered by stage kind
    checked = 0
    for name, values in durations.items():
        row, truth = rows[name], exact_rows[name]
        assert abs(row.count - TURNS) <= RANK_SLACK, (name, row.count)
        assert row.errors == 0
        assert row.mean_ms == pytest.approx(truth.mean_ms, rel=0.05)
        for q, got_ms, exact_ms in (
            (0.5, row.p50_ms, truth.p50_ms),
            (0.95, row.p95_ms, truth.p95_ms),
            (0.99, row.p99_ms, truth.p99_ms),
        ):
            assert got_ms is not None
            assert exact_ms is not None
            low, high = allowed(values, q)
            print(  # shown with -s: the figures behind the assertion
                f"{name:>9} p{q * 100:<4g} prometheus {got_ms:8.3f} ms  spans {exact_ms:8.3f} ms  "
                f"allowed [{low * 1000:.3f}, {high * 1000:.3f}]"
            )
            assert low * 1000 <= exact_ms <= high * 1000  # the exact value is in the interval
            assert low * 1000 <= got_ms <= high * 1000, (
                f"{name} p{q * 100:g}: Prometheus {got_ms:.3f} ms, spans {exact_ms:.3f} ms, "
                f"allowed [{low * 1000:.3f}, {high * 1000:.3f}] ms by the bucket bounds"
            )
            if q == 0.5:  # dense ranks: a couple of buckets, so the check has teeth
                assert high / low <= 1.25**3 + 1e-9, (name, low, high)
            checked += 1
    assert checked == 15
    assert report.verdict.lines[0] == NO_TRACES_LINE
    assert report.attribution.overall.turns == 0
    for fmt in ("table", "markdown", "csv"):  # the span analysis' renderers take it as it is
        text = render(report, fmt)
        assert "generate" in text
        if fmt != "csv":
            assert "critical-path shares need traces" in " ".join(text.split())

    assert cli.returncode == 0, cli.stderr
    doc = json.loads(cli.stdout)
    assert [s["name"] for s in doc["stages"]] == list(STAGES)
    assert doc["verdict"]["lines"][0] == NO_TRACES_LINE
    assert doc["turn"]["count"] == pytest.approx(TURNS, abs=RANK_SLACK)
    assert doc["first_token"]["count"] == pytest.approx(TURNS, abs=RANK_SLACK)
    page = (tmp_path / "p.html").read_text(encoding="utf-8")  # percentiles only: no spans
    assert 'class="box"' in page
    assert "no turn trees in this source" in page
    assert all(f">{s['name']}<" in page for s in doc["stages"])

    assert unreachable.returncode == 2
    assert unreachable.stdout == ""
    [line] = unreachable.stderr.splitlines()
    assert "expected a reachable Prometheus HTTP API" in line
    assert not_prometheus.returncode == 2
    [line] = not_prometheus.stderr.splitlines()
    assert line.startswith(f"rag-otel: prometheus+http://127.0.0.1:{hello['port']}")
    assert prometheus_binary.version.startswith("prometheus, version")


def test_nothing_to_read_is_one_clear_error(
    prometheus_binary: PrometheusBinary, tmp_path: Path
) -> None:
    server = PrometheusServer(prometheus_binary, tmp_path / "prometheus", [], 1.0)
    try:
        with pytest.raises(InputError, match="histograms with samples in the last 600s"):
            analyze_prometheus(f"prometheus+{server.url}", since="10m")
        with pytest.raises(InputError, match="option --since"):
            analyze_prometheus(f"prometheus+{server.url}", since="yesterday")
    finally:
        server.stop()


SPAN_METRICS_BUCKETS_MS = (0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000, 10000)
"""The explicit buckets of collector/otel-collector.yaml's span_metrics connector, in ms."""


def test_collector_span_metrics_are_read_too(
    prometheus_binary: PrometheusBinary, tmp_path: Path
) -> None:
    """The Collector's span_metrics histograms, in the Prometheus exporter's layout (names,
    labels, ms), served by prometheus_client on 127.0.0.1 (no Collector binary installs here)."""
    import random

    from prometheus_client import CollectorRegistry, Histogram, start_http_server

    registry = CollectorRegistry()
    duration = Histogram(
        "traces_span_metrics_duration_milliseconds",
        "span_metrics connector histogram",
        ["service_name", "span_name", "span_kind", "status_code", "rag_stage", "rag_stage_kind"],
        buckets=SPAN_METRICS_BUCKETS_MS,
        registry=registry,
    )
    series = {
        "retrieve": ("retrieve", "SPAN_KIND_INTERNAL", "retrieve", "retrieval", 20.0),
        "generate": ("generate", "SPAN_KIND_INTERNAL", "generate", "generation", 300.0),
        TURN_ROW: ("rag.turn", "SPAN_KIND_SERVER", "", "", 400.0),
    }
    rng = random.Random(3)
    samples: dict[str, list[float]] = {name: [1.0] for name in series}  # + warm-up
    errors = duration.labels(
        "faq-bot", "retrieve", "SPAN_KIND_INTERNAL", "STATUS_CODE_ERROR", "retrieve", "retrieval"
    )
    errors.observe(1.0)
    for span_name, kind, stage, stage_kind, _ in series.values():
        duration.labels("faq-bot", span_name, kind, "STATUS_CODE_UNSET", stage, stage_kind).observe(
            1.0
        )
    server, _thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    prom = PrometheusServer(
        prometheus_binary, tmp_path / "prometheus", [f"127.0.0.1:{server.server_port}"], 1.0
    )
    try:
        started = time.time()
        prom.wait_for(
            "count(traces_span_metrics_duration_milliseconds_count)",
            lambda r: bool(r) and float(r[0]["value"][1]) == 4,
        )
        for name, (span_name, kind, stage, stage_kind, median) in series.items():
            child = duration.labels(
                "faq-bot", span_name, kind, "STATUS_CODE_UNSET", stage, stage_kind
            )
            for _ in range(200):
                value = rng.lognormvariate(math.log(median), 0.4)
                samples[name].append(value)
                child.observe(value)
        for _ in range(40):
            errors.observe(2.0)
        samples["retrieve"] += [2.0] * 40 + [1.0]  # the errors, and the error series' warm-up
        [last] = prom.wait_for(
            'timestamp(traces_span_metrics_duration_milliseconds_count{span_name="rag.turn"})',
            lambda r: (
                bool(r)
                and float(
                    prom.query("sum(traces_span_metrics_duration_milliseconds_count)")[0]["value"][
                        1
                    ]
                )
                == 4 + 640
            ),
        )
        until = datetime.fromtimestamp(float(last["value"][1]), tz=timezone.utc).isoformat()
        window = f"{math.ceil(time.time() - started) + 5}s"
        report = analyze_prometheus(
            f"prometheus+{prom.url}", since=window, until=until, service="faq-bot"
        )
        with pytest.raises(InputError, match="found none"):
            analyze_prometheus(f"prometheus+{prom.url}", since=window, until=until, service="other")
    finally:
        prom.stop()
        server.shutdown()
        server.server_close()

    assert "Collector span metrics" in report.percentile_method
    rows = {s.name: s for s in [*report.stages, report.turn]}
    assert [s.name for s in report.stages] == ["retrieve", "generate"]
    # The warm-up samples happened inside the window too: rate()/increase() extrapolate a
    # series that starts in the window back to zero, so they are counted.
    assert rows["retrieve"].errors == 1 + 40
    assert rows["retrieve"].count == 1 + 1 + 200 + 40
    assert rows[TURN_ROW].count == 1 + 200
    bounds = tuple(float(b) for b in SPAN_METRICS_BUCKETS_MS)
    for name, values in samples.items():
        values.sort()
        for q, got in ((0.5, rows[name].p50_ms), (0.95, rows[name].p95_ms)):
            n = len(values)
            low, high = bucket_interval(
                values[max(0, math.floor((n - 1) * q) - RANK_SLACK)],
                values[min(n - 1, math.ceil(q * n) + RANK_SLACK)],
                bounds,
            )
            assert got is not None
            assert low <= got <= high, (name, q, got, low, high)

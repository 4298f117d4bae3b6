"""The bundled stack run for real, without Docker: ``rag-otel stack up`` with the Collector and
Jaeger built from source (``dev.py stack-binaries``) and Debian's Prometheus.

One stack per module (free ports, a 2 s scrape interval); the tests run in file order: the
application's turns first, the demo, then the figures, then the fault (Jaeger killed and
started again, which empties its in-memory store). The figures of each run are printed
(``-s``) and quoted in docs/collector.md.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from rag_otel.cli import main
from rag_otel.collector import run
from rag_otel.collector.local_stack import DEFAULT_PORTS
from stack_binaries import binary

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
APP = HERE / "stack_app.py"
STAGES = {"embed", "retrieve.vector", "rerank", "generate"}
SERVICE = "stack-e2e"
TURNS = 20
# the span_metrics histogram buckets of collector/otel-collector.yaml, in ms
BUCKETS = [0.25, 0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2000, 5000]

T = TypeVar("T")


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.25)


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def app(
    service: str, turns: int, endpoint: str, pause: float = 0.0, after_first: float = 0.0
) -> list[float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAG_OTEL_"))}
    # export every 100 ms (the SDK's default is 5 s), so spans leave as the turns end
    env |= {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "PYTHONPATH": str(REPO / "src"),
    }
    done = subprocess.run(
        [sys.executable, str(APP), service, str(turns), str(pause), str(after_first)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout.splitlines()[-1])["turn_seconds"])


def jaeger_traces(ui: str, service: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"service": service, "limit": 1000, "lookback": "1h"})
    try:
        return list(get_json(f"{ui}/api/traces?{query}")["data"] or [])
    except OSError:
        return []


def analyze_json(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "rag_otel", "analyze", *args, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def stages(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in report["stages"]}


def collector_metrics(state: run.StackState) -> dict[str, float]:
    """The Collector's own span counters (its :8888 telemetry), summed per metric and exporter."""
    with urllib.request.urlopen(state.urls["collector_metrics"], timeout=10) as response:
        text = response.read().decode()
    totals: dict[str, float] = {}
    for line in text.splitlines():
        m = re.match(r"^(otelcol_\w+_spans)(?:_total)?(\{[^}]*\})? ([0-9.e+]+)$", line)
        if m is None:
            continue
        exporter = re.search(r'exporter="([^"]+)"', m[2] or "")
        key = m[1] + (f"[{exporter[1]}]" if exporter else "")
        totals[key] = totals.get(key, 0.0) + float(m[3])
    return totals


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[run.StackState]:
    binaries = run.Binaries(binary("otelcol"), binary("jaeger"), binary("prometheus"))
    run_dir = tmp_path_factory.mktemp("stack")
    started = time.monotonic()
    state = run.start(
        run_dir, binaries, ports=run.free_ports(list(DEFAULT_PORTS)), scrape_interval="2s"
    )
    print(f"\nstack up in {time.monotonic() - started:.1f}s")
    try:
        yield state
    finally:
        assert set(run.stop(run_dir)) <= set(run.SERVICES)


def test_status_json_names_every_service(
    stack: run.StackState, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stack", "status", "--dir", stack.dir, "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["services"]) == {"collector", "jaeger", "prometheus"}
    assert all(s["healthy"] and s["pid"] > 0 for s in report["services"].values())
    assert set(report["urls"]) == {"otlp_http", "otlp_grpc", "jaeger", "prometheus"}
    assert report["files"]["traces"] == str(Path(stack.dir) / "data" / "traces.jsonl")
    # loopback only: every derived config listens on 127.0.0.1
    for config in (Path(stack.dir) / "config").glob("*.yaml"):
        assert "0.0.0.0" not in config.read_text(), config


def test_jaeger_gets_every_turn_with_all_its_stages(stack: run.StackState) -> None:
    sent = time.monotonic()
    app(SERVICE, TURNS, stack.otlp_endpoint)
    exported = time.monotonic()
    traces = wait_for(
        f"{TURNS} traces in Jaeger",
        lambda: (t := jaeger_traces(stack.urls["jaeger"], SERVICE)) and len(t) >= TURNS and t,
    )
    print(f"\n{TURNS} turns visible in Jaeger {time.monotonic() - exported:.2f}s after the app exited"
          f" ({time.monotonic() - sent:.2f}s after the first turn)")  # fmt: skip
    assert len(traces) == TURNS
    for trace in traces:
        names = [s["operationName"] for s in trace["spans"]]
        assert sorted(names) == sorted([*STAGES, "rag.turn"]), names


def test_analyze_of_jaeger_equals_analyze_of_the_collectors_file(stack: run.StackState) -> None:
    traces_file = Path(stack.files["traces"])
    wait_for(
        "the file exporter's output", lambda: traces_file.exists() and traces_file.stat().st_size
    )
    from_file = analyze_json(str(traces_file))
    from_jaeger = analyze_json(stack.urls["jaeger"], "--service", SERVICE, "--since", "1h")
    assert set(stages(from_file)) == STAGES
    assert from_jaeger["turn"]["count"] == from_file["turn"]["count"] == TURNS
    for name, row in stages(from_file).items():
        other = stages(from_jaeger)[name]
        assert other["count"] == row["count"] == TURNS
        for column in ("p50_ms", "p95_ms", "p99_ms", "max_ms"):
            # Jaeger keeps microseconds, the file nanoseconds
            assert other[column] == pytest.approx(row[column], abs=0.002), (name, column)


def test_prometheus_has_the_span_metrics_within_bucket_error(stack: run.StackState) -> None:
    source = "prometheus+" + stack.urls["prometheus"]
    calls = urllib.parse.urlencode(
        {"query": f'sum(traces_span_metrics_calls_total{{service_name="{SERVICE}"}})'}
    )

    def scraped(spans: int) -> Callable[[], bool]:
        def probe() -> bool:
            url = f"{stack.urls['prometheus']}/api/v1/query?{calls}"
            result = get_json(url)["data"]["result"]
            return bool(result) and float(result[0]["value"][1]) >= spans

        return probe

    per_turn = len(STAGES) + 1
    wait_for("span metrics in Prometheus", scraped(TURNS * per_turn))
    # A counter's first sample is its starting point for increase() and rate(), and every
    # process is a series of its own (service.instance.id): the turns of a short run that
    # created its series are not in them. So one more run waits after its first turn until
    # that is scraped; its other turns are an increase (as with a long-running application).
    app(SERVICE, TURNS, stack.otlp_endpoint, after_first=5.0)
    wait_for("the second run in Prometheus", scraped(2 * TURNS * per_turn))
    time.sleep(4)  # two more scrapes
    from_prom = analyze_json(source, "--service", SERVICE, "--since", "5m")
    from_file = stages(analyze_json(stack.files["traces"]))
    assert set(stages(from_prom)) == set(from_file)
    for name, row in stages(from_prom).items():
        truth = from_file[name]["p50_ms"]
        upper = next(b for b in BUCKETS if b >= truth)
        lower = max([0.0, *(b for b in BUCKETS if b < truth)])
        assert lower <= row["p50_ms"] <= upper, (name, row["p50_ms"], truth)


def test_jaeger_monitor_tab_returns_latencies(stack: run.StackState) -> None:
    now_ms = int(time.time() * 1000)
    query = urllib.parse.urlencode(
        {
            "service": SERVICE,
            "quantile": 0.95,
            "spanKind": "internal",
            "endTs": now_ms,
            "lookback": 600_000,
            "step": 5_000,
            "ratePer": 60_000,
        }
    )
    body = get_json(f"{stack.urls['jaeger']}/api/metrics/latencies?{query}")
    points = [
        float(p["gaugeValue"]["doubleValue"])
        for metric in body["metrics"]
        for p in metric["metricPoints"]
        if "doubleValue" in p.get("gaugeValue", {})
    ]
    assert any(v > 0 for v in points), body  # NaN where a step had no spans


def test_the_demo_once(stack: run.StackState, tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "RAG_OTEL_", "OPENAI_"))
    }
    env |= {"OTEL_EXPORTER_OTLP_ENDPOINT": stack.otlp_endpoint, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run(
        [sys.executable, "-m", "rag_otel", "demo", "--faq", "30", "--distractors", "30",
         "--questions", "3", "--out-dir", str(tmp_path), "--cache-dir", str(tmp_path / "cache")],
        capture_output=True, text=True, timeout=300, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    traces = wait_for(
        "the demo's 3 turns in Jaeger",
        lambda: (t := jaeger_traces(stack.urls["jaeger"], "rag-otel-demo")) and len(t) >= 3 and t,
    )
    assert len(traces) == 3
    demo_stages = {"embed", "retrieve.vector", "retrieve.bm25", "fuse", "rerank", "generate"}
    for trace in traces:
        assert demo_stages <= {s["operationName"] for s in trace["spans"]}


def test_collector_counts_what_it_received_and_exported(stack: run.StackState) -> None:
    metrics = wait_for(
        "the Collector's span counters",
        lambda: (
            (m := collector_metrics(stack)).get("otelcol_exporter_sent_spans[otlp_grpc/jaeger]")
            and m
        ),
    )
    print(f"\ncollector telemetry: {json.dumps(metrics, indent=1, sort_keys=True)}")
    received = metrics["otelcol_receiver_accepted_spans"]
    assert received >= TURNS * (len(STAGES) + 1)
    assert metrics.get("otelcol_receiver_refused_spans", 0) == 0
    assert metrics["otelcol_exporter_sent_spans[otlp_grpc/jaeger]"] == received
    assert metrics["otelcol_exporter_sent_spans[file/traces]"] == received


def test_jaeger_killed_mid_run_loses_nothing_and_never_blocks_the_app(
    stack: run.StackState,
) -> None:
    os.kill(stack.pids["jaeger"], signal.SIGKILL)
    service, turns = "stack-fault", 30
    took = app(service, turns, stack.otlp_endpoint, pause=0.05)
    assert max(took) < 1.0, took  # the application never waits for the exporter
    assert run.status(Path(stack.dir))["services"]["collector"]["healthy"]  # type: ignore[index]
    before = collector_metrics(stack)
    assert before.get("otelcol_exporter_send_failed_spans[otlp_grpc/jaeger]", 0) == 0
    restarted = time.monotonic()
    run.restart(Path(stack.dir), "jaeger")
    traces = wait_for(
        "the turns sent while Jaeger was down",
        lambda: (t := jaeger_traces(stack.urls["jaeger"], service)) and len(t) >= turns and t,
    )
    print(f"\nJaeger back: {turns} queued turns visible {time.monotonic() - restarted:.1f}s after"
          f" its restart; max turn {max(took) * 1000:.1f} ms while it was down")  # fmt: skip
    assert len(traces) == turns
    after = collector_metrics(stack)
    dropped = {k: v for k, v in after.items() if "failed" in k or "refused" in k}
    print(f"after the fault: {json.dumps(after, indent=1, sort_keys=True)}")
    assert not any(dropped.values()), dropped
    assert (
        after["otelcol_exporter_sent_spans[otlp_grpc/jaeger]"]
        == after["otelcol_receiver_accepted_spans"]
    )


def test_down_stops_what_up_started(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary("otelcol"), binary("jaeger"), binary("prometheus")
    bin_dir = str(binary("otelcol").parent)
    ports = [f"--port={n}={p}" for n, p in run.free_ports(list(DEFAULT_PORTS)).items()]
    assert main(["stack", "up", "--dir", str(tmp_path), "--bin-dir", bin_dir, *ports]) == 0
    out = capsys.readouterr().out
    assert "export OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:" in out
    pids = json.loads((tmp_path / "stack.json").read_text())["pids"]
    assert main(["stack", "down", "--dir", str(tmp_path)]) == 0
    assert not any(run.alive(pid) for pid in pids.values())
    assert (tmp_path / "logs" / "collector.log").stat().st_size > 0
    assert main(["stack", "status", "--dir", str(tmp_path)]) == 1


def test_standalone_jaeger_receives_otlp_and_serves_the_api(tmp_path: Path) -> None:
    """The docs' no-Docker path: the jaeger binary alone with collector/jaeger-standalone.yaml
    (its 127.0.0.1 ports moved to free ones so that parallel runs do not clash)."""
    text = (REPO / "collector" / "jaeger-standalone.yaml").read_text()
    ports = {p: run.free_ports([p])[p] for p in set(re.findall(r"127\.0\.0\.1:(\d+)", text))}
    text = re.sub(r"127\.0\.0\.1:(\d+)", lambda m: f"127.0.0.1:{ports[m[1]]}", text)
    config = tmp_path / "jaeger-standalone.yaml"
    config.write_text(
        text.replace("service:\n", "service:\n  telemetry:\n    metrics:\n      level: none\n", 1)
    )
    log = (tmp_path / "jaeger.log").open("wb")
    process = subprocess.Popen(
        [str(binary("jaeger")), "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_for(
            "standalone Jaeger", lambda: run.healthy(f"http://127.0.0.1:{ports['13133']}/status")
        )
        app("standalone", 5, f"http://127.0.0.1:{ports['4318']}")
        ui = f"http://127.0.0.1:{ports['16686']}"
        traces = wait_for(
            "5 traces", lambda: (t := jaeger_traces(ui, "standalone")) and len(t) >= 5 and t
        )
        assert len(traces) == 5
        assert all(len(t["spans"]) == len(STAGES) + 1 for t in traces)
    finally:
        run.stop_pid(process.pid)
        log.close()

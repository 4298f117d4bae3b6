"""End to end: rag-otel spans over OTLP/HTTP protobuf into a real Phoenix, read back over REST.

Phoenix (arize-phoenix from PyPI) is a real OTLP receiver. It runs from its own cached
virtual environment (tests/collector/phoenix_env.py: created on the first run, which takes
minutes), bound to 127.0.0.1 on free ports, with its gRPC listener also moved to loopback
(phoenix_launch.py). A subprocess sends traced turns with ``rag_otel.configure()`` and the
standard OTLP environment variables; the test reads the spans back with Phoenix's REST API
(``GET /v1/projects/{project}/spans``), checks names, parent links and attributes, then turns
what came back into OTLP JSON and runs the analysis on it. The same spans are then read by
rag-otel's own Phoenix readers: the REST answer saved to a file (one page, and small pages as
JSON lines) and the live ``phoenix+http://`` source; each gives the report the OTLP file gave.

Phoenix quirks this relies on: it accepts OTLP/HTTP protobuf only on /v1/traces (JSON: 415),
picks the project from the resource attribute ``openinference.project.name``, returns the
OpenInference span kind (not the OTel kind) and no resource attributes.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rag_otel import semconv

sys.path.insert(0, str(Path(__file__).resolve().parent))
from phoenix_env import PHOENIX_VERSION, ensure_phoenix_venv

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]

HERE = Path(__file__).resolve().parent
PROJECT = "rag-otel-e2e"
SERVICE = "faq-bot-e2e"
TURNS = 3
STAGES = [  # (name, kind) in pipeline order; the two retrievals run in parallel threads
    ("embed", "embedding"),
    ("retrieve.vector", "retrieval"),
    ("retrieve.bm25", "retrieval"),
    ("fuse", "fusion"),
    ("rerank", "rerank"),
    ("generate", "generation"),
]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def phoenix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running Phoenix on 127.0.0.1; yields its base URL; stopped by PID afterwards."""
    work = tmp_path_factory.mktemp("phoenix")
    started = time.monotonic()
    python = ensure_phoenix_venv(log=work / "install.log")
    install_s = time.monotonic() - started
    port, grpc_port = free_port(), free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "PHOENIX_HOST": "127.0.0.1",
        "PHOENIX_PORT": str(port),
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_WORKING_DIR": str(work / "data"),
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
    }
    log = open(work / "phoenix.log", "wb")  # noqa: SIM115 (closed in teardown)
    process = subprocess.Popen(
        [str(python), str(HERE / "phoenix_launch.py")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        t0 = time.monotonic()
        while True:
            if process.poll() is not None:
                raise AssertionError(
                    f"Phoenix exited with {process.returncode}:\n"
                    + (work / "phoenix.log").read_text(errors="replace")[-3000:]
                )
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() - t0 > 180:
                raise AssertionError("Phoenix did not become ready in 180 s")
            time.sleep(0.25)
        sys.stderr.write(
            f"\nphoenix {PHOENIX_VERSION}: venv ready in {install_s:.1f} s, "
            f"server ready in {time.monotonic() - t0:.1f} s\n"
        )
        yield base
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        log.close()


SENDER = textwrap.dedent(
    """
    import json, sys, threading
    import rag_otel

    config = rag_otel.configure(service_name=sys.argv[1])
    stages = json.loads(sys.argv[2])
    out = []
    for n in range(int(sys.argv[3])):
        with rag_otel.turn(session_id="session-e2e", user_id="user-1") as t:
            with rag_otel.stage("embed", kind="embedding") as s:
                s.set_model("minilm-int8")
                s.set_embedding_dimension(384)

            def retrieve(name):
                with rag_otel.stage(name, kind="retrieval") as s:
                    s.set_top_k(5)
                    s.set_data_source("faq")
                    s.record_documents(["d1", "d2", "d3"], scores=[0.9, 0.5, 0.1])

            threads = [threading.Thread(target=retrieve, args=(name,))
                       for name in ("retrieve.vector", "retrieve.bm25")]
            for th in threads: th.start()
            for th in threads: th.join()
            with rag_otel.stage("fuse", kind="fusion"):
                pass
            with rag_otel.stage("rerank", kind="rerank") as s:
                s.set_model("cross-encoder")
                s.set_top_k(3)
            with rag_otel.stage("generate", kind="generation") as s:
                s.set_model("tiny-llm")
                s.set_usage(input_tokens=120 + n, output_tokens=30)
            ctx = t.span.get_span_context()
            out.append({"turn_id": t.turn_id, "trace_id": format(ctx.trace_id, "032x"),
                        "span_id": format(ctx.span_id, "016x")})
    rag_otel.shutdown()
    print(json.dumps({"turns": out, "exporters": config.exporters}))
    """
)


def send_turns(endpoint: str) -> dict[str, Any]:
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_RESOURCE_ATTRIBUTES": f"{semconv.OPENINFERENCE_PROJECT_NAME}={PROJECT}",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    for name in ("OTEL_TRACES_EXPORTER", "RAG_OTEL_EXPORTER", "OTEL_SDK_DISABLED"):
        env.pop(name, None)
    result = subprocess.run(
        [sys.executable, "-c", SENDER, SERVICE, json.dumps(STAGES), str(TURNS)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    sent: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return sent


def fetch_pages(base: str, limit: int) -> list[bytes]:
    """The REST answers, as Phoenix wrote them, following next_cursor."""
    pages, cursor = [], None
    while True:
        url = f"{base}/v1/projects/{PROJECT}/spans?limit={limit}"
        if cursor:
            url += f"&cursor={cursor}"
        with urllib.request.urlopen(url, timeout=5.0) as response:
            body = response.read()
        pages.append(body)
        cursor = json.loads(body).get("next_cursor")
        if not cursor:
            return pages


def fetch_spans(base: str, expected: int) -> list[dict[str, Any]]:
    """All spans of the project, polling until Phoenix's bulk inserter has stored them."""
    deadline = time.monotonic() + 60
    spans: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        spans, cursor = [], None
        try:
            while True:
                url = f"{base}/v1/projects/{PROJECT}/spans?limit=1000"
                if cursor:
                    url += f"&cursor={cursor}"
                page = get_json(url)
                spans += page["data"]
                cursor = page.get("next_cursor")
                if not cursor:
                    break
        except urllib.error.HTTPError as exc:
            if exc.code != 404:  # 404 until the project exists
                raise
        if len(spans) >= expected:
            return spans
        time.sleep(0.5)
    raise AssertionError(f"Phoenix holds {len(spans)} spans of {PROJECT}, expected {expected}")


# --- Phoenix REST JSON -> OTLP JSON (what `rag-otel analyze` reads) -----------------------------

_STATUS = {"UNSET": 0, "OK": 1, "ERROR": 2}


def otlp_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [otlp_value(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": otlp_attributes(value)}}
    return {"stringValue": str(value)}


def otlp_attributes(attributes: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": otlp_value(v)} for k, v in attributes.items()]


def unix_ns(timestamp: str) -> str:
    moment = dt.datetime.fromisoformat(timestamp)
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return str((moment - epoch) // dt.timedelta(microseconds=1) * 1000)


def to_otlp(spans: list[dict[str, Any]], service: str) -> dict[str, Any]:
    """One OTLP JSON document. Phoenix returns neither resource attributes nor the OTel span
    kind, so the service name is the sender's and every kind is left unspecified."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": otlp_attributes({"service.name": service})},
                "scopeSpans": [
                    {
                        "scope": {"name": "phoenix-rest"},
                        "spans": [
                            {
                                "traceId": s["context"]["trace_id"],
                                "spanId": s["context"]["span_id"],
                                "parentSpanId": s["parent_id"] or "",
                                "name": s["name"],
                                "kind": 0,
                                "startTimeUnixNano": unix_ns(s["start_time"]),
                                "endTimeUnixNano": unix_ns(s["end_time"]),
                                "attributes": otlp_attributes(s["attributes"]),
                                "status": {"code": _STATUS.get(s["status_code"], 0)},
                            }
                            for s in spans
                        ],
                    }
                ],
            }
        ]
    }


# --- the test ----------------------------------------------------------------------------------------


def test_turns_reach_phoenix_and_analyse(phoenix: str, tmp_path: Path) -> None:
    sent = send_turns(phoenix)
    assert any(e.startswith("otlp(http/protobuf") for e in sent["exporters"]), sent
    turns = sent["turns"]
    assert len(turns) == TURNS
    expected = TURNS * (1 + len(STAGES))
    spans = fetch_spans(phoenix, expected)
    assert len(spans) == expected  # nothing lost, nothing duplicated

    by_trace: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        by_trace.setdefault(span["context"]["trace_id"], []).append(span)
    assert set(by_trace) == {t["trace_id"] for t in turns}

    kinds = dict(STAGES)
    for sent_turn in turns:
        trace = by_trace[sent_turn["trace_id"]]
        [root] = [s for s in trace if s["name"] == semconv.TURN_SPAN_NAME]
        assert root["parent_id"] is None
        assert root["context"]["span_id"] == sent_turn["span_id"]
        assert root["attributes"][semconv.RAG_TURN_ID] == sent_turn["turn_id"]
        assert root["attributes"][semconv.SESSION_ID] == "session-e2e"
        # (turn spans carry no openinference.span.kind yet: Phoenix lists them as UNKNOWN)

        stages = [s for s in trace if s is not root]
        assert sorted(s["name"] for s in stages) == sorted(kinds)
        for stage in stages:
            kind = kinds[stage["name"]]
            attributes = stage["attributes"]
            assert stage["parent_id"] == root["context"]["span_id"], stage["name"]
            assert attributes[semconv.RAG_STAGE] == stage["name"]
            assert attributes[semconv.RAG_STAGE_KIND] == kind
            # Phoenix turns openinference.span.kind into span_kind
            assert stage["span_kind"] == semconv.KIND_CONVENTIONS[kind].openinference
            assert any(key.startswith("gen_ai.") for key in attributes), stage["name"]
            assert stage["status_code"] in ("UNSET", "OK")
            assert stage["start_time"] >= root["start_time"]
            assert stage["end_time"] <= root["end_time"]

        [generate] = [s for s in stages if s["name"] == "generate"]
        assert generate["attributes"][semconv.GEN_AI_REQUEST_MODEL] == "tiny-llm"
        assert generate["attributes"][semconv.GEN_AI_USAGE_OUTPUT_TOKENS] == 30
        [vector] = [s for s in stages if s["name"] == "retrieve.vector"]
        assert vector["attributes"][semconv.GEN_AI_DATA_SOURCE_ID] == "faq"
        assert vector["attributes"][semconv.GEN_AI_RETRIEVAL_TOP_K] == 5

    # what came back, as OTLP JSON lines, through the analysis
    from rag_otel.analysis.model import Diagnostics
    from rag_otel.analysis.readers import read_spans
    from rag_otel.analysis.report import analyze

    path = tmp_path / "from-phoenix.jsonl"
    path.write_text(json.dumps(to_otlp(spans, SERVICE)) + "\n")
    diagnostics = Diagnostics()
    report = analyze(
        read_spans(str(path), diagnostics=diagnostics),
        diagnostics=diagnostics,
        sources=[str(path)],
    )
    assert report.turn.count == TURNS
    assert {s.name for s in report.stages} == set(kinds)
    assert all(s.count == TURNS and s.timed == TURNS for s in report.stages)
    assert report.diagnostics.counts.get("duplicate-span-id", 0) == 0
    assert report.verdict.stage in kinds

    # the same spans through rag-otel's Phoenix readers: the same report
    from rag_otel.analysis.model import InputError
    from rag_otel.analysis.pipeline import analyze_sources

    [page] = fetch_pages(phoenix, limit=1000)
    rest = tmp_path / "phoenix-rest.json"
    rest.write_bytes(page)
    small_pages = fetch_pages(phoenix, limit=5)
    assert len(small_pages) == -(-expected // 5)
    paged = tmp_path / "phoenix-rest-pages.jsonl"
    paged.write_bytes(b"".join(p.strip() + b"\n" for p in small_pages))
    live = f"phoenix+{phoenix}/{PROJECT}"
    for source in (str(rest), str(paged), live):
        same = analyze_sources([source], workers=1)
        assert_same_report(same, report)
        assert not same.diagnostics, (source, same.diagnostics.counts)  # (to_otlp adds "")

    newest = analyze_sources([live], limit=2, workers=1)
    assert newest.turn.count == 2
    assert newest.diagnostics.counts["live-limit-reached"] == 1
    with pytest.raises(InputError, match=r"expected project 'nope' .*HTTP 404.*rag-otel-e2e"):
        analyze_sources([f"phoenix+{phoenix}/nope"], workers=1)

    cli = subprocess.run(
        [sys.executable, "-m", "rag_otel", "analyze", live, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert cli.returncode == 0, cli.stderr
    assert {s["name"] for s in json.loads(cli.stdout)["stages"]} == set(kinds)


def assert_same_report(got: Any, want: Any) -> None:
    """Same stages, counts, percentiles, attribution and verdict."""
    assert got.stages == want.stages
    assert got.turn == want.turn
    assert got.attribution == want.attribution
    assert got.verdict == want.verdict
    assert got.samples == want.samples

"""configure(): environment variables, exporters, an existing provider, the disabled path.

Each test runs a fresh interpreter (configure() installs a process-global provider)."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from core_helpers import ROOT
from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from subprocesses import run_python

pytestmark = pytest.mark.lowest  # also run on the lowest declared versions

PIPELINE = """
import rag_otel

@rag_otel.stage("embed", kind="embedding")
def embed(text):
    return [0.0] * 4

@rag_otel.stage("generate", kind="generation")
def generate(prompt):
    yield "a"
    yield "b"

with rag_otel.turn(session_id="user-42") as t:
    embed("q")
    with rag_otel.stage("retrieve", kind="retrieval") as s:
        s.set_query("the query text")
        s.record_documents(["d1", "d2"], [0.9, 0.4])
    "".join(generate("p"))
"""

CONFIGURED = "import rag_otel\nrag_otel.configure()\n" + PIPELINE


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _spans(objs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        span
        for obj in objs
        for rs in obj["resourceSpans"]
        for ss in rs["scopeSpans"]
        for span in ss["spans"]
    ]


def _attrs(kv: list[dict[str, Any]]) -> dict[str, Any]:
    return {a["key"]: next(iter(a["value"].values())) for a in kv}


def _to_proto(obj: dict[str, Any]) -> ExportTraceServiceRequest:
    """Parse an OTLP/JSON line strictly (hex ids back to protobuf's base64 bytes)."""
    obj = json.loads(json.dumps(obj))
    for span in _spans([obj]):
        for key in ("traceId", "spanId", "parentSpanId"):
            if key in span:
                span[key] = base64.b64encode(bytes.fromhex(span[key])).decode()
    message = ExportTraceServiceRequest()
    json_format.ParseDict(obj, message)
    return message


def test_default_is_the_otlp_json_file(tmp_path: Path) -> None:
    out = tmp_path / "spans" / "run.jsonl"
    result = run_python(
        CONFIGURED + "\nrag_otel.shutdown()\n",
        env={
            "RAG_OTEL_FILE_PATH": str(out),
            "OTEL_SERVICE_NAME": "faq-bot",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test,team=rag",
        },
    )
    assert result.returncode == 0, result.stderr
    objs = _lines(out)
    assert objs, "the file exporter wrote nothing"
    for obj in objs:
        assert list(obj) == ["resourceSpans"]
        assert _to_proto(obj).resource_spans  # every line is a valid OTLP JSON object
    spans = _spans(objs)
    assert sorted(s["name"] for s in spans) == ["embed", "generate", "rag.turn", "retrieve"]
    resource = _attrs(objs[0]["resourceSpans"][0]["resource"]["attributes"])
    assert resource["service.name"] == "faq-bot"
    assert resource["deployment.environment"] == "test"
    assert resource["team"] == "rag"
    by_name = {s["name"]: s for s in spans}
    turn = by_name["rag.turn"]
    assert len(turn["traceId"]) == 32
    assert len(turn["spanId"]) == 16
    assert turn["kind"] == 2  # SERVER, as an integer enum
    for name in ("embed", "generate", "retrieve"):
        assert by_name[name]["parentSpanId"] == turn["spanId"]
        assert by_name[name]["traceId"] == turn["traceId"]
    assert isinstance(turn["startTimeUnixNano"], str)
    assert _attrs(by_name["retrieve"]["attributes"])["rag.stage.kind"] == "retrieval"
    assert "gen_ai.retrieval.query.text" not in _attrs(by_name["retrieve"]["attributes"])


def test_file_lines_have_the_collector_shape(tmp_path: Path) -> None:
    """Same keys, at every level, as the official OTLP JSON file exporter's output."""
    fixture = ROOT / "tests" / "fixtures" / "traces" / "python-sdk_otlp-json-file-exporter.jsonl"
    if not fixture.exists():
        fixture = ROOT.parent / "shared" / "fixtures" / "traces" / fixture.name
    reference = json.loads(fixture.read_text().splitlines()[0])
    out = tmp_path / "spans.jsonl"
    result = run_python(
        CONFIGURED + "\nrag_otel.shutdown()\n", env={"RAG_OTEL_FILE_PATH": str(out)}
    )
    assert result.returncode == 0, result.stderr
    ours = _lines(out)[0]
    ref_rs, our_rs = reference["resourceSpans"][0], ours["resourceSpans"][0]
    assert set(our_rs) >= {"resource", "scopeSpans"}
    assert set(our_rs["scopeSpans"][0]) >= set(ref_rs["scopeSpans"][0])
    our_turn = next(s for s in _spans([ours]) if s["name"] == "rag.turn")
    ref_span = ref_rs["scopeSpans"][0]["spans"][0]
    assert set(ref_span) - {"parentSpanId"} <= set(our_turn)
    assert type(our_turn["flags"]) is type(ref_span["flags"])


def test_exit_flushes_without_shutdown(tmp_path: Path) -> None:
    out = tmp_path / "spans.jsonl"
    result = run_python(CONFIGURED, env={"RAG_OTEL_FILE_PATH": str(out)})
    assert result.returncode == 0, result.stderr
    assert len(_spans(_lines(out))) == 4


def test_configure_returns_what_it_did(tmp_path: Path) -> None:
    result = run_python(
        """
        import rag_otel
        config = rag_otel.configure(service_name="svc", file_path="x.jsonl")
        print(config.created_provider, config.exporters, config.file_path)
        """,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "['file(x.jsonl)']", "x.jsonl"]


def test_sdk_disabled_installs_nothing(tmp_path: Path) -> None:
    result = run_python(
        PIPELINE
        + """
from rag_otel._otel_private import installed_tracer_provider
config = rag_otel.configure()
print(config.disabled, installed_tracer_provider())
""",
        env={"OTEL_SDK_DISABLED": "true", "RAG_OTEL_FILE_PATH": str(tmp_path / "s.jsonl")},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "None"]
    assert not (tmp_path / "s.jsonl").exists()


@pytest.mark.parametrize(
    ("sampler", "arg", "expected"),
    [("always_off", None, 0), ("traceidratio", "0", 0), ("parentbased_always_on", None, 4)],
)
def test_sampler_from_env(tmp_path: Path, sampler: str, arg: str | None, expected: int) -> None:
    out = tmp_path / "s.jsonl"
    env = {"OTEL_TRACES_SAMPLER": sampler, "RAG_OTEL_FILE_PATH": str(out)}
    if arg is not None:
        env["OTEL_TRACES_SAMPLER_ARG"] = arg
    result = run_python("import rag_otel; rag_otel.configure()\n" + PIPELINE, env=env)
    assert result.returncode == 0, result.stderr
    assert len(_spans(_lines(out)) if out.exists() else []) == expected


def test_capture_content_from_env(tmp_path: Path) -> None:
    out = tmp_path / "s.jsonl"
    result = run_python(
        "import rag_otel; rag_otel.configure()\n" + PIPELINE,
        env={"RAG_OTEL_CAPTURE_CONTENT": "true", "RAG_OTEL_FILE_PATH": str(out)},
    )
    assert result.returncode == 0, result.stderr
    retrieve = next(s for s in _spans(_lines(out)) if s["name"] == "retrieve")
    assert _attrs(retrieve["attributes"])["gen_ai.retrieval.query.text"] == "the query text"


def test_existing_sdk_provider_is_added_to() -> None:
    result = run_python(
        """
        import logging
        logging.basicConfig(level=logging.INFO, format="%(message)s")
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        import rag_otel

        app_exporter, ours = InMemorySpanExporter(), InMemorySpanExporter()
        app_provider = TracerProvider()
        app_provider.add_span_processor(SimpleSpanProcessor(app_exporter))
        trace.set_tracer_provider(app_provider)
        config = rag_otel.configure(exporter="none", span_exporter=ours)
        assert config.provider is app_provider and not config.created_provider
        with rag_otel.stage("s", kind="retrieval"):
            pass
        config.force_flush()
        print(len(app_exporter.get_finished_spans()), len(ours.get_finished_spans()))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "1"]
    assert "already installed; added exporters ['InMemorySpanExporter']" in result.stderr


def test_tracing_off_then_an_app_provider_without_configure() -> None:
    """No provider: every shape runs untraced. A provider installed later gets spans."""
    result = run_python(
        """
        import asyncio
        import rag_otel
        from opentelemetry import trace
        from opentelemetry.trace import INVALID_SPAN

        @rag_otel.stage("f", kind="retrieval")
        def f(x):
            return x + 1

        @rag_otel.stage("g", kind="generation")
        def g():
            yield from (1, 2)

        @rag_otel.stage("a")
        async def a():
            return 3

        @rag_otel.stage("ag")
        async def ag():
            yield 4

        async def run_async():
            return await a(), [x async for x in ag()]

        with rag_otel.turn(session_id="s") as t, rag_otel.stage("cm") as s:
            s.record_documents(["x"], [1.0])
            stage, turn = rag_otel.current_stage(), rag_otel.current_turn()
            assert stage.span is INVALID_SPAN and turn.span is INVALID_SPAN  # no-ops, not None
            stage.set_top_k(3), stage.record_documents(["y"]), turn.set_output("z")
            assert f(1) == 2 and list(g()) == [1, 2]
            assert asyncio.run(run_async()) == (3, [4])
            assert len(t.turn_id) == 32 and not t.span.is_recording()

        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(provider)
        f(1)
        print([s.name for s in exporter.get_finished_spans()])
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "['f']"


def test_propagation_opt_out(tmp_path: Path) -> None:
    code = """
        import sys
        from concurrent.futures import ThreadPoolExecutor
        import rag_otel
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
        exporter = InMemorySpanExporter()
        rag_otel.configure(exporter="none", span_exporter=exporter,
                           propagate_context=sys.argv[-1] == "on")
        with rag_otel.turn(), ThreadPoolExecutor(1) as pool:
            pool.submit(rag_otel.stage("s")(lambda: None)).result()
        rag_otel.shutdown()
        (s,) = [s for s in exporter.get_finished_spans() if s.name == "s"]
        print(s.parent is not None)
        """
    on = run_python(code.replace('sys.argv[-1] == "on"', "True"))
    off = run_python(code.replace('sys.argv[-1] == "on"', "False"))
    assert (on.stdout.strip(), off.stdout.strip()) == ("True", "False"), on.stderr + off.stderr


def test_console_and_none_exporters(tmp_path: Path) -> None:
    console = run_python(
        "import rag_otel; rag_otel.configure(exporter='console')\n"
        + PIPELINE
        + "rag_otel.shutdown()\n",
        cwd=tmp_path,
    )
    assert console.returncode == 0, console.stderr
    assert '"name": "rag.turn"' in console.stdout
    none = run_python(
        "import rag_otel; print(rag_otel.configure().exporters)\n" + PIPELINE,
        env={"OTEL_TRACES_EXPORTER": "none"},
        cwd=tmp_path,
    )
    assert none.returncode == 0, none.stderr
    assert none.stdout.strip() == "[]"
    assert list(tmp_path.iterdir()) == []


def test_unknown_exporter_is_a_one_line_error() -> None:
    result = run_python("import rag_otel; rag_otel.configure(exporter='zipkin')")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        "ValueError: rag-otel: exporter= names unknown exporter 'zipkin'; "
        "expected one of otlp, file, console, none"
    )


@pytest.mark.parametrize("traces", ["otlp", "none"])
def test_bad_protocol_argument_is_a_one_line_error_for_spans_and_metrics(traces: str) -> None:
    result = run_python(
        f"import rag_otel; rag_otel.configure(exporter={traces!r}, metrics='otlp', "
        "protocol='http/json')"
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "ValueError: rag-otel: protocol='http/json'; expected one of http/protobuf, grpc"
    )


def test_failing_exporter_and_processor_never_reach_the_app() -> None:
    result = run_python(
        """
        import logging
        logging.basicConfig(level=logging.WARNING, format="%(message)s")
        from opentelemetry import trace
        from opentelemetry.sdk.trace import SpanProcessor
        from opentelemetry.sdk.trace.export import SpanExporter
        import rag_otel
        from rag_otel._errors import COUNTS

        class Broken(SpanExporter):
            def export(self, spans):
                raise OSError("disk full")

        class BrokenProcessor(SpanProcessor):
            def on_end(self, span):
                raise RuntimeError("bug in a processor")

        config = rag_otel.configure(exporter="none", span_exporter=Broken())
        config.provider.add_span_processor(BrokenProcessor())

        @rag_otel.stage("s")
        def s():
            return 42

        assert all(s() == 42 for _ in range(50))
        config.force_flush()
        config.force_flush()
        print(dict(COUNTS))
        """
    )
    assert result.returncode == 0, result.stderr
    counts = eval(result.stdout.strip())  # a dict literal printed by the child
    assert counts["span-end"] == 50
    assert counts["exporter.Broken"] >= 1
    assert result.stderr.count("the Broken exporter failed") == 1  # logged once


# --- OTLP/HTTP against a real server -----------------------------------------------------


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, dict[str, str], bytes]]]]:
    received: list[tuple[str, dict[str, str], bytes]] = []
    handler = type("Handler", (_Collector,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()
    thread.join()


def test_otlp_http_export_to_a_real_server(
    collector: tuple[str, list[tuple[str, dict[str, str], bytes]]], tmp_path: Path
) -> None:
    url, received = collector
    result = run_python(
        "import rag_otel\nprint(rag_otel.configure().exporters)\n"
        + PIPELINE
        + "rag_otel.shutdown()\n",
        env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": url,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=secret-1",
            "OTEL_SERVICE_NAME": "faq-bot",
        },
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == f"['otlp(http/protobuf {url}/v1/traces)']"
    assert received, "nothing was exported"
    names = []
    for path, headers, body in received:
        assert path == "/v1/traces"
        assert headers.get("x-api-key") == "secret-1"
        request = ExportTraceServiceRequest.FromString(body)
        for rs in request.resource_spans:
            service = {a.key: a.value.string_value for a in rs.resource.attributes}
            assert service["service.name"] == "faq-bot"
            names += [span.name for ss in rs.scope_spans for span in ss.spans]
    assert sorted(names) == ["embed", "generate", "rag.turn", "retrieve"]
    assert list(tmp_path.iterdir()) == []  # with an endpoint, no file by default


def test_bad_protocol_variable_is_warned_once_and_http_is_used(
    collector: tuple[str, list[tuple[str, dict[str, str], bytes]]], tmp_path: Path
) -> None:
    url, received = collector
    result = run_python(
        "import logging\nlogging.basicConfig(level=logging.WARNING, format='%(message)s')\n"
        "import rag_otel\nrag_otel.configure(metrics='otlp')\n"
        + PIPELINE
        + "rag_otel.shutdown()\nrag_otel.configure(metrics='otlp')\nrag_otel.shutdown()\n",
        env={"OTEL_EXPORTER_OTLP_ENDPOINT": url, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    warning = (
        "rag-otel: OTEL_EXPORTER_OTLP_PROTOCOL='http/json' is not supported "
        "(http/protobuf, grpc); using http/protobuf"
    )
    assert result.stderr.splitlines().count(warning) == 1  # spans and metrics, two configures
    assert {path for path, _headers, _body in received} == {"/v1/traces", "/v1/metrics"}


def test_explicit_endpoint_and_file_together(
    collector: tuple[str, list[tuple[str, dict[str, str], bytes]]], tmp_path: Path
) -> None:
    url, received = collector
    result = run_python(
        f"import rag_otel\nrag_otel.configure(endpoint={url!r}, file_path='both.jsonl')\n"
        + PIPELINE
        + "rag_otel.shutdown()\n",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert received
    assert len(_spans(_lines(tmp_path / "both.jsonl"))) == 4


def test_otlp_grpc_export_to_a_real_server() -> None:
    from concurrent import futures

    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    received: list[tuple[ExportTraceServiceRequest, dict[str, str]]] = []

    class Collector(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(  # the generated service's method name
            self, request: ExportTraceServiceRequest, context: grpc.ServicerContext
        ) -> trace_service_pb2.ExportTraceServiceResponse:
            received.append((request, dict(context.invocation_metadata())))
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Collector(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        result = run_python(
            CONFIGURED + "rag_otel.shutdown()\n",
            env={
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://127.0.0.1:{port}",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=rag",
            },
        )
    finally:
        server.stop(grace=None)
    assert result.returncode == 0, result.stderr
    names = sorted(
        span.name
        for request, _ in received
        for rs in request.resource_spans
        for ss in rs.scope_spans
        for span in ss.spans
    )
    assert names == ["embed", "generate", "rag.turn", "retrieve"]
    assert all(metadata.get("x-tenant") == "rag" for _, metadata in received)


def test_content_switch_argument_and_ecosystem_variables(tmp_path: Path) -> None:
    def retrieve_attrs(code: str, env: dict[str, str]) -> dict[str, Any]:
        out = tmp_path / f"s{len(list(tmp_path.iterdir()))}.jsonl"
        result = run_python(code + PIPELINE, env={**env, "RAG_OTEL_FILE_PATH": str(out)})
        assert result.returncode == 0, result.stderr
        return _attrs(next(s for s in _spans(_lines(out)) if s["name"] == "retrieve")["attributes"])

    query = "gen_ai.retrieval.query.text"
    plain = "import rag_otel; rag_otel.configure()\n"
    otel = {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY"}
    assert retrieve_attrs(plain, otel)[query] == "the query text"
    assert retrieve_attrs(plain, {"OPENINFERENCE_HIDE_INPUTS": "false"})[query] == "the query text"
    argument = "import rag_otel; rag_otel.configure(capture_content=False)\n"
    assert query not in retrieve_attrs(argument, {**otel, "RAG_OTEL_CAPTURE_CONTENT": "true"})
    own = {**otel, "RAG_OTEL_CAPTURE_CONTENT": "false"}
    assert query not in retrieve_attrs(plain, own)


def test_workflow_name_from_configure_and_env(tmp_path: Path) -> None:
    def turn_attrs(code: str, env: dict[str, str]) -> dict[str, Any]:
        out = tmp_path / f"w{len(list(tmp_path.iterdir()))}.jsonl"
        result = run_python(code + PIPELINE, env={**env, "RAG_OTEL_FILE_PATH": str(out)})
        assert result.returncode == 0, result.stderr
        return _attrs(next(s for s in _spans(_lines(out)) if s["name"] == "rag.turn")["attributes"])

    name = "gen_ai.workflow.name"
    assert name not in turn_attrs(CONFIGURED, {})
    assert turn_attrs(CONFIGURED, {"RAG_OTEL_WORKFLOW_NAME": "faq-bot"})[name] == "faq-bot"
    code = "import rag_otel; rag_otel.configure(workflow_name='support')\n"
    assert turn_attrs(code, {"RAG_OTEL_WORKFLOW_NAME": "faq-bot"})[name] == "support"


@pytest.mark.parametrize(
    ("variable", "value", "accepted"),
    [
        ("RAG_OTEL_EXPORTER", "otlpp", "otlp, file, console, none"),
        ("OTEL_TRACES_EXPORTER", "consol", "otlp, file, console, none"),
        ("RAG_OTEL_METRICS", "promethus", "otlp, prometheus, console"),
    ],
)
def test_a_typo_in_an_exporter_variable_warns_once_and_uses_the_default(
    tmp_path: Path, variable: str, value: str, accepted: str
) -> None:
    """The host starts: the warning names the accepted values, once however many
    ``configure()`` calls; spans go where they go without the variable (the file)."""
    result = run_python(
        "import logging, rag_otel\n"
        "logging.basicConfig(level=logging.WARNING)\n"
        "for _ in range(2):\n"
        "    config = rag_otel.configure()\n"
        "print(config.exporters, config.metrics)\n"
        "with rag_otel.turn('s'):\n"
        "    pass\n"
        "rag_otel.shutdown()\n",
        env={variable: value},
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if f"{variable}=" in line]
    assert len(warnings) == 1, result.stderr
    assert f"{variable}={value!r} names unknown" in warnings[0]
    assert f"expected one of {accepted}" in warnings[0]
    assert result.stdout.strip() == "['file(rag-otel-spans.jsonl)'] None"
    assert '"rag.turn"' in (tmp_path / "rag-otel-spans.jsonl").read_text()

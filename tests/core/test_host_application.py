"""A host application with spans of its own, beside rag-otel's (issue 11: on SDK 1.30 ending
any span after configure() raised AttributeError into the application).

Run on the locked versions and on the lowest declared ones (``python3 dev.py test-lowest``).
Each test is a fresh interpreter: configure() installs a process-global provider.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rag_otel import semconv as sc
from subprocesses import run_python

pytestmark = pytest.mark.lowest

HOST_WORK = """
from concurrent.futures import ThreadPoolExecutor
from opentelemetry import trace
import rag_otel

host = trace.get_tracer("host-app")

@rag_otel.stage("embed", kind="embedding")
def embed(text):
    with host.start_as_current_span("host.tokenize"):  # host span inside a stage
        return [0.0] * 4

def request(i):
    with host.start_as_current_span("host.request") as root:  # host span around a turn
        root.set_attribute("host.i", i)
        with rag_otel.turn(session_id="s") as t:
            embed("q")
            with rag_otel.stage("retrieve", kind="retrieval") as s:
                s.record_documents(["d1"], [0.5])
    with host.start_as_current_span("host.after"):  # host span on its own
        pass

with ThreadPoolExecutor(4) as pool:
    list(pool.map(request, range(20)))
"""


def _span_names(path: Path) -> list[str]:
    names = []
    for line in path.read_text().splitlines():
        for rs in json.loads(line)["resourceSpans"]:
            for ss in rs["scopeSpans"]:
                names.extend(span["name"] for span in ss["spans"])
    return names


def _expected_counts(names: list[str]) -> dict[str, int]:
    return {name: names.count(name) for name in sorted(set(names))}


EXPECTED = {
    name: 20
    for name in (
        "embed",
        "host.after",
        "host.request",
        "host.tokenize",
        sc.TURN_SPAN_NAME,
        "retrieve",
    )
}


def test_configure_first_then_host_spans(tmp_path: Path) -> None:
    out = tmp_path / "spans.jsonl"
    result = run_python(
        "import rag_otel\n"
        f"rag_otel.configure(service_name='host', file_path={str(out)!r})\n"
        + HOST_WORK
        + "rag_otel.shutdown()\nprint('OK')\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "OK"
    assert "Traceback" not in result.stderr, result.stderr
    assert _expected_counts(_span_names(out)) == EXPECTED


def test_host_provider_with_its_own_batch_processor_then_configure(tmp_path: Path) -> None:
    """The host's own BatchSpanProcessor and exporter keep working beside rag-otel's."""
    out = tmp_path / "spans.jsonl"
    host_out = tmp_path / "host.jsonl"
    result = run_python(
        f"""
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from rag_otel.exporters import OtlpJsonFileExporter

provider = TracerProvider()
provider.add_span_processor(BatchSpanProcessor(OtlpJsonFileExporter({str(host_out)!r})))
trace.set_tracer_provider(provider)
import rag_otel
config = rag_otel.configure(file_path={str(out)!r})
assert config.provider is provider and not config.created_provider
"""
        + HOST_WORK
        + "rag_otel.shutdown()\nprovider.shutdown()\nprint('OK')\n"
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    ours, theirs = _span_names(out), _span_names(host_out)
    assert sorted(ours) == sorted(theirs)
    assert _expected_counts(ours) == EXPECTED


def test_exit_without_shutdown_exports_everything(tmp_path: Path) -> None:
    out = tmp_path / "spans.jsonl"
    result = run_python(
        f"import rag_otel\nrag_otel.configure(file_path={str(out)!r})\n" + HOST_WORK
    )
    assert result.returncode == 0, result.stderr
    assert _expected_counts(_span_names(out)) == EXPECTED

"""Process-global behaviour, each in a fresh interpreter: ``opentelemetry-instrument`` end to end,
content capture from the environment, lazy patching, ``configure(instrument=True)``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from subprocesses import run_python

BIN = Path(sys.executable).parent

# Each script prints one JSON line prefixed with RESULT: (spans, checks) at the end.
MEMORY_PROVIDER = """
import json, sys
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

EXPORTER = InMemorySpanExporter()
_provider = TracerProvider()
_provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
trace.set_tracer_provider(_provider)

def finish(**checks):
    spans = [
        {"name": s.name, "attributes": dict(s.attributes or {})}
        for s in EXPORTER.get_finished_spans()
    ]
    print("RESULT:" + json.dumps({"spans": spans, **checks}))
"""

LETTERS_EMBEDDING = """
import numpy as np
from chromadb import Documents, EmbeddingFunction, Embeddings

class Letters(EmbeddingFunction[Documents]):
    # a tiny offline embedding function, so query_texts works without a model download
    def __init__(self) -> None:
        pass

    def __call__(self, input: Documents) -> Embeddings:
        return [np.array([t.count("a"), t.count("e"), len(t)], dtype=np.float32) for t in input]

    @staticmethod
    def name() -> str:
        return "letters"

    def get_config(self):
        return {}

    @staticmethod
    def build_from_config(config):
        return Letters()
"""


def _run(
    tmp_path: Path, script: str, env: dict[str, str] | None = None, *, via: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    quiet = {
        "ANONYMIZED_TELEMETRY": "False",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
    done = run_python(
        script, env={**quiet, **(env or {})}, cwd=tmp_path, timeout=240, via=via or ()
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def _result(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT:")]
    assert len(lines) == 1, done.stdout[-3000:] + done.stderr[-3000:]
    return dict(json.loads(lines[0].removeprefix("RESULT:")))


def _console_spans(stdout: str) -> list[dict[str, Any]]:
    """The JSON objects ``ConsoleSpanExporter`` printed, in order."""
    decoder = json.JSONDecoder()
    found, i = [], 0
    while (i := stdout.find("{", i)) != -1:
        try:
            obj, end = decoder.raw_decode(stdout, i)
        except json.JSONDecodeError:
            i += 1
            continue
        if isinstance(obj, dict) and "context" in obj and "name" in obj:
            found.append(obj)
        i = end
    return found


def _by_name(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s["attributes"] for s in spans}


# --- opentelemetry-instrument ----------------------------------------------------------

APP = """
import chromadb
import rag_otel
from chromadb.config import Settings
from rank_bm25 import BM25Okapi

rag_otel.configure(service_name="e2e")  # exporter from OTEL_TRACES_EXPORTER=console
client = chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False))
docs = client.create_collection("e2e-docs", embedding_function=None)
docs.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]])
bm25 = BM25Okapi([["fence", "permit"], ["roof", "solar"]])
with rag_otel.turn(session_id="e2e-session"):
    docs.query(query_embeddings=[[0.9, 0.1]], n_results=2)
    bm25.get_top_n(["fence"], ["doc a", "doc b"], n=1)
rag_otel.shutdown()
"""


@pytest.mark.slow
def test_opentelemetry_instrument_loads_both_from_entry_points(tmp_path: Path) -> None:
    done = _run(
        tmp_path,
        APP,
        {"OTEL_TRACES_EXPORTER": "console", "OTEL_SERVICE_NAME": "e2e"},
        via=[str(BIN / "opentelemetry-instrument")],
    )
    spans = _console_spans(done.stdout)
    names = [s["name"] for s in spans]
    assert sorted(names) == sorted(
        ["chroma.add", "bm25.index", "chroma.query", "bm25.get_top_n", "rag.turn"]
    ), done.stdout[-2000:]
    by_name = {s["name"]: s for s in spans}
    turn_id = by_name["rag.turn"]["context"]["span_id"]
    for name in ("chroma.query", "bm25.get_top_n"):
        assert by_name[name]["parent_id"] == turn_id
        assert by_name[name]["attributes"]["rag.stage.kind"] == "retrieval"
        assert by_name[name]["resource"]["attributes"]["service.name"] == "e2e"
    assert by_name["chroma.query"]["attributes"]["gen_ai.data_source.id"] == "e2e-docs"
    assert by_name["chroma.add"]["attributes"]["rag.operation"] == "ingest"


@pytest.mark.slow
def test_opentelemetry_instrument_honours_the_disabled_list(tmp_path: Path) -> None:
    script = APP.replace(
        "rag_otel.shutdown()",
        "import sys\n"
        "from rag_otel.instrumentation import instrument\n"
        "print('INSTRUMENTED:' + ','.join(instrument()))\n"
        "rag_otel.shutdown()",
    )
    done = _run(
        tmp_path,
        script,
        {
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "chromadb_rag_otel",
        },
        via=[str(BIN / "opentelemetry-instrument")],
    )
    names = sorted(s["name"] for s in _console_spans(done.stdout))
    assert names == ["bm25.get_top_n", "bm25.index", "rag.turn"]
    assert "INSTRUMENTED:rank_bm25\n" in done.stdout  # instrument() skips it too


# --- content capture -------------------------------------------------------------------

CAPTURE = (
    MEMORY_PROVIDER
    + LETTERS_EMBEDDING
    + """
import chromadb
from chromadb.config import Settings
from rank_bm25 import BM25L
import rag_otel
from rag_otel.instrumentation import instrument

instrument()
client = chromadb.EphemeralClient(settings=Settings(anonymized_telemetry=False))
col = client.create_collection("capture", embedding_function=Letters())
col.add(ids=["a", "b", "c"], documents=["banana bread", "beet salad", "apple pie"])
col.query(query_texts=["baked apple"], n_results=2)
col.get(ids=["b"])
vec = client.create_collection("vectors", embedding_function=None)
vec.add(ids=["v"], embeddings=[[0.123456789, 0.987654321]], documents=["vector doc"])
vec.query(query_embeddings=[[0.123456789, 0.987654321]], n_results=1, include=["embeddings", "documents"])
docs = ["fence rules here", "roof rules", "fence height"]
bm25 = BM25L([d.split() for d in docs])
bm25.get_top_n(["fence", "height"], docs, n=2)
bm25.get_scores(["roof"])
finish(capture=rag_otel.content_capture_enabled())
"""
)


@pytest.mark.slow
def test_content_capture_on_records_query_and_document_text(tmp_path: Path) -> None:
    result = _result(_run(tmp_path, CAPTURE, {"RAG_OTEL_CAPTURE_CONTENT": "true"}))
    assert result["capture"] is True
    spans = result["spans"]
    query = next(s["attributes"] for s in spans if s["name"] == "chroma.query")
    assert query["rag.retrieval.query_type"] == "texts"
    assert query["gen_ai.retrieval.query.text"] == "baked apple"
    assert query["input.value"] == "baked apple"
    ids = [query[f"retrieval.documents.{i}.document.id"] for i in range(2)]
    texts = {"a": "banana bread", "b": "beet salad", "c": "apple pie"}
    assert [query[f"retrieval.documents.{i}.document.content"] for i in range(2)] == [
        texts[i] for i in ids
    ]
    get = _by_name(spans)["chroma.get"]
    assert get["retrieval.documents.0.document.content"] == "beet salad"
    top_n = _by_name(spans)["bm25.get_top_n"]
    assert top_n["gen_ai.retrieval.query.text"] == "fence height"
    assert top_n["retrieval.documents.0.document.content"] == "fence height"
    scores = _by_name(spans)["bm25.get_scores"]
    assert scores["gen_ai.retrieval.query.text"] == "roof"
    assert "retrieval.documents.0.document.content" not in scores  # get_scores has no texts
    # even with capture on: never a vector
    for span in spans:
        for key, value in span["attributes"].items():
            assert "0.123456789" not in str(value), (span["name"], key)
            assert "0.987654321" not in str(value), (span["name"], key)


@pytest.mark.slow
def test_content_capture_is_off_by_default(tmp_path: Path) -> None:
    result = _result(_run(tmp_path, CAPTURE, {"RAG_OTEL_CAPTURE_CONTENT": "false"}))
    assert result["capture"] is False
    for span in result["spans"]:
        for key, value in span["attributes"].items():
            assert not key.endswith(".content"), key
            assert key not in ("input.value", "gen_ai.retrieval.query.text"), key
            for text in ("banana", "beet", "apple", "fence", "roof", "vector doc"):
                assert text not in str(value), (span["name"], key)


# --- lazy patching and configure(instrument=True) ----------------------------------------

LAZY = """
import sys
from rag_otel.instrumentation import instrument, uninstrument

names = instrument()
imported_early = [m for m in ("chromadb", "rank_bm25") if m in sys.modules]
uninstrument()
import rank_bm25  # imported while uninstrumented: left alone
bm25_plain = not hasattr(vars(rank_bm25.BM25)["get_top_n"], "__wrapped__")
instrument()
bm25_wrapped = hasattr(vars(rank_bm25.BM25)["get_top_n"], "__wrapped__")
import chromadb  # imported after instrument(): wrapped on import
from chromadb.api.models.AsyncCollection import AsyncCollection
chroma_wrapped = all(
    hasattr(vars(cls)[m], "__wrapped__")
    for cls in (chromadb.Collection, AsyncCollection)
    for m in ("query", "get", "add", "upsert", "update", "delete")
)
print("RESULT:" + json.dumps(dict(
    names=names, imported_early=imported_early, bm25_plain=bm25_plain,
    bm25_wrapped=bm25_wrapped, chroma_wrapped=chroma_wrapped,
)))
"""


@pytest.mark.slow
def test_instrument_imports_neither_library_and_patches_on_import(tmp_path: Path) -> None:
    result = _result(_run(tmp_path, "import json\n" + LAZY))
    assert result == {
        "names": ["chromadb_rag_otel", "rank_bm25"],
        "imported_early": [],
        "bm25_plain": True,
        "bm25_wrapped": True,
        "chroma_wrapped": True,
    }


CONFIGURE = (
    MEMORY_PROVIDER
    + """
import rag_otel
from rank_bm25 import BM25Plus
from rag_otel.instrumentation.chromadb import ChromaInstrumentor
from rag_otel.instrumentation.rank_bm25 import BM25Instrumentor

# adds to the provider installed above; a smaller documents bound
rag_otel.configure(exporter="none", instrument=True, max_documents=3)
BM25Plus([["a", "b"], ["c"], ["a"], ["a", "a"], ["b"]]).get_scores(["a"])
finish(
    chroma=ChromaInstrumentor().is_instrumented_by_opentelemetry,
    bm25=BM25Instrumentor().is_instrumented_by_opentelemetry,
    top_level=rag_otel.instrument(),
)
"""
)


@pytest.mark.slow
def test_configure_instrument_true_turns_both_on(tmp_path: Path) -> None:
    result = _result(_run(tmp_path, CONFIGURE))
    assert result["chroma"] is True
    assert result["bm25"] is True
    assert result["top_level"] == ["chromadb_rag_otel", "rank_bm25"]
    assert [s["name"] for s in result["spans"]] == ["bm25.index", "bm25.get_scores"]
    scores = result["spans"][1]["attributes"]
    assert len(json.loads(scores["gen_ai.retrieval.documents"])) == 3
    assert "retrieval.documents.2.document.id" in scores
    assert "retrieval.documents.3.document.id" not in scores


# --- the docs page's example runs as printed -----------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "instrumentation.md"


@pytest.mark.slow
def test_the_docs_example_runs_and_prints_its_spans(tmp_path: Path) -> None:
    text = DOCS.read_text()
    start = text.index("## Runnable example")
    block = text[text.index("```python\n", start) + len("```python\n") :]
    block = block[: block.index("```\n")]
    done = _run(tmp_path, block)
    names = sorted(s["name"] for s in _console_spans(done.stdout))
    assert names == sorted(
        [
            "chroma.upsert",
            "bm25.index",
            "chroma.query",
            "retrieve.vector",
            "bm25.get_top_n",
            "rag.turn",
        ]
    )
    assert "['fence', 'roof']" in done.stdout

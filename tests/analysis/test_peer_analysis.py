"""What the analysis makes of spans made by the peers' real libraries (tests/fixtures/peers),
with default flags: the stages, kinds, sources, turns and verdict their ground truth names."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from rag_otel.analysis.compare import compare
from rag_otel.analysis.model import Diagnostics
from rag_otel.analysis.pipeline import analyze_sources
from rag_otel.analysis.readers import read_spans
from rag_otel.analysis.renderers import render
from rag_otel.analysis.report import TURN_ROW, Report, analyze
from rag_otel.cli import main
from subprocesses import run_python

PEERS = Path(__file__).resolve().parents[1] / "fixtures" / "peers"
OTLP_TRUTHS = sorted(
    p for p in PEERS.glob("*.truth.json") if json.loads(p.read_text())["fixture"].endswith(".jsonl")
)
# "openinference.span.kind=RETRIEVER" -> the source the analysis names
SOURCES = {
    "openinference.span.kind": "openinference",
    "traceloop.span.kind": "openllmetry",
    "gen_ai.operation.name": "gen-ai",
    "langfuse.observation.type": "langfuse",
    "llamaindex.event": "llamaindex",  # LlamaIndex: no attributes, its events as span events
    "haystack.component.type": "haystack",
    "mlflow.spanType": "mlflow",
}


def source_of(recognised_from: str) -> str:
    return SOURCES[recognised_from.split("=")[0]]


def truth_of(path: Path) -> dict[str, Any]:
    truth: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return truth


def report_of(truth: dict[str, Any], *, all_spans: bool = False) -> Report:
    return analyze_sources([str(PEERS / truth["fixture"])], all_spans=all_spans, workers=1)


def recognised(truth: dict[str, Any]) -> list[dict[str, Any]]:
    """The ground truth's stages that a convention marks (not plain spans)."""
    return [stage for stage in truth["stages"] if stage["recognised_from"]]


@pytest.mark.parametrize("truth_path", OTLP_TRUTHS, ids=lambda p: p.stem)
def test_default_flags_find_the_stages_kinds_turns_and_verdict(truth_path: Path) -> None:
    truth = truth_of(truth_path)
    report = report_of(truth)
    stages = {s.name: s for s in report.stages}
    for expected in recognised(truth):
        got = stages[expected["name"]]
        # a convention that says no more than "a span" gives kind other
        assert got.kind == (expected["kind_from_attributes"] or "other"), expected["name"]
        source = expected.get("source") or source_of(expected["recognised_from"])
        assert got.source == source, expected["name"]
        per_turn = truth.get("stage_spans_per_turn", {}).get(expected["name"], 1)
        assert got.count == got.timed == per_turn * truth["turns"], expected["name"]
        assert got.turns == truth["turns"]
    plain = {stage["name"] for stage in truth["stages"] if not stage["recognised_from"]}
    assert not plain & set(stages)
    assert report.turn.count == report.turn.timed == truth["turns"]
    turn_from = truth["turn"]["recognised_from"]
    if "source" in truth["turn"]:  # e.g. Haystack's, by its span name
        assert report.turn.source == truth["turn"]["source"]
    elif turn_from.startswith("trace root"):  # Langfuse: the root observation is the trace
        assert report.turn.source == "langfuse"
    else:
        assert report.turn.source == source_of(turn_from)
    # the turn span is not a stage, and no span time is counted twice
    assert truth["turn"]["span_name"] not in stages
    overall = report.attribution.overall
    assert sum(overall.stages.values()) + overall.remainder == pytest.approx(1.0)
    assert not report.diagnostics.counts, report.diagnostics.counts
    if truth["slowest_stage"] in plain:
        # its time is the turn's own (untraced) time: the largest share, named no stage
        assert overall.remainder > max(overall.stages.values())
        assert "try --all-spans" in report.verdict.lines[-1]
    else:
        assert report.verdict.stage == truth["slowest_stage"]
        assert overall.remainder < truth.get("max_untraced_share", 0.05)


def test_nested_client_spans_are_stages_of_their_own_kind() -> None:
    """OpenLLMetry's OpenAI instrumentation nests GenAI client spans in the user's tasks."""
    report = report_of(truth_of(PEERS / "openllmetry.truth.json"))
    kinds = {s.name: (s.kind, s.source) for s in report.stages}
    assert kinds["embeddings"] == ("embedding", "gen-ai")
    assert kinds["chat"] == ("generation", "gen-ai")
    shares = report.attribution.overall.stages
    # the task spans only wrap the client calls: their self time is what is left
    assert shares["embed"] < 0.01 < shares["embeddings"]
    assert shares["generate"] < 0.01 < shares["chat"]


@pytest.mark.parametrize("truth_path", OTLP_TRUTHS, ids=lambda p: p.stem)
def test_all_spans_makes_every_span_but_the_turn_a_stage(truth_path: Path) -> None:
    truth = truth_of(truth_path)
    default = {s.name for s in report_of(truth).stages}
    every = report_of(truth, all_spans=True)
    plain = {stage["span_name"] for stage in truth["stages"] if not stage["recognised_from"]}
    assert {s.name for s in every.stages} == default | plain
    assert {s.source for s in every.stages if s.name in plain} <= {"all-spans"}
    assert sum(s.count for s in every.stages) == truth["spans"] - truth["turns"]
    assert every.verdict.stage == truth["slowest_stage"]


@pytest.mark.parametrize("truth_path", OTLP_TRUTHS, ids=lambda p: p.stem)
def test_every_format_shows_kind_and_source(
    truth_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth = truth_of(truth_path)
    report = report_of(truth, all_spans=True)  # the slowest stage may be a plain span
    slowest = next(s for s in report.stages if s.name == truth["slowest_stage"])
    source = slowest.source
    assert source is not None

    doc = json.loads(render(report, "json"))
    row = next(s for s in doc["stages"] if s["name"] == slowest.name)
    assert (row["kind"], row["source"]) == (slowest.kind, source)
    assert doc["turn"]["source"] == report.turn.source

    rows = {r["stage"]: r for r in csv.DictReader(io.StringIO(render(report, "csv")))}
    assert (rows[slowest.name]["kind"], rows[slowest.name]["source"]) == (slowest.kind, source)
    assert rows[TURN_ROW]["source"] == report.turn.source

    assert f"| {slowest.name} | {slowest.kind} | {source} |" in render(report, "markdown")

    assert main(["analyze", str(PEERS / truth["fixture"]), "--all-spans"]) == 0
    table = capsys.readouterr().out
    line = next(x for x in table.splitlines() if f" {slowest.name} " in x)
    assert slowest.kind in line
    assert source in line
    assert f"optimise this next: {truth['slowest_stage']}" in table


def test_the_same_pipeline_traced_two_ways_compares_stage_by_stage() -> None:
    d = Diagnostics()
    openinference = analyze(
        read_spans(PEERS / "openinference.otlp.jsonl", diagnostics=d), diagnostics=d
    )
    openllmetry = analyze(
        read_spans(PEERS / "openllmetry.otlp.jsonl", diagnostics=d), diagnostics=d
    )
    c = compare(openinference, openllmetry)
    compared = {delta.stage for delta in c.deltas}
    assert {"embed", "retrieve", "rerank", "lookup_warranty", "generate", TURN_ROW} <= compared
    assert c.only_in_baseline == ["ChatCompletion"]
    assert c.only_in_new == ["chat", "embeddings"]
    # rerank sleeps 200 ms in both: not a regression beyond noise
    assert "rerank" not in {delta.stage for delta in c.regressions(10)}


LANGFUSE_APP = """
import sys, time
from langfuse import Langfuse, observe
from rag_otel.exporters import OtlpJsonFileExporter

langfuse = Langfuse(
    public_key="pk-lf-test", secret_key="sk-lf-test", host="http://127.0.0.1:9",
    span_exporter=OtlpJsonFileExporter(sys.argv[1]),
)

@observe(name="embed", as_type="embedding")
def embed(q): time.sleep(0.005); return [0.1]

@observe(name="retrieve", as_type="retriever")
def retrieve(q, v): time.sleep(0.01); return ["a", "b"]

@observe(name="rerank")
def rerank(q, passages): time.sleep(0.06); return passages[:1]

@observe(name="lookup_warranty", as_type="tool")
def lookup_warranty(flat): time.sleep(0.005); return "10 years"

@observe(name="generate", as_type="generation")
def generate(q, context): time.sleep(0.02); return "answer"

@observe(name="rag_turn")
def rag_turn(q):
    return generate(q, rerank(q, retrieve(q, embed(q))) + [lookup_warranty("4B")])

for i in range(5):
    rag_turn(f"question {i}")
langfuse.shutdown()
"""


def test_langfuse_sdk_spans_are_stages_and_turns(tmp_path: Path) -> None:
    """Spans made by the real Langfuse SDK (OpenTelemetry-based, in the dev environment)."""
    out = tmp_path / "langfuse.jsonl"
    (tmp_path / "app.py").write_text(LANGFUSE_APP, encoding="utf-8")
    done = run_python(
        f"import runpy, sys; sys.argv = ['app', {str(out)!r}]; "
        f"runpy.run_path({str(tmp_path / 'app.py')!r}, run_name='__main__')"
    )
    assert done.returncode == 0, done.stderr
    report = analyze_sources([str(out)], workers=1)
    assert [(s.name, s.kind, s.source) for s in report.stages] == [
        ("embed", "embedding", "langfuse"),
        ("retrieve", "retrieval", "langfuse"),
        ("rerank", "other", "langfuse"),  # @observe's default type, "span", says no more
        ("lookup_warranty", "tool", "langfuse"),
        ("generate", "generation", "langfuse"),
    ]
    assert (report.turn.count, report.turn.source) == (5, "langfuse")
    assert report.verdict.stage == "rerank"
    assert not report.diagnostics.counts, report.diagnostics.counts

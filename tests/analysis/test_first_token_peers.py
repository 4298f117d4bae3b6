"""The time to first token of the peer fixtures (tests/fixtures/peers: spans made by
OpenInference, OpenLLMetry, Langfuse and the official GenAI instrumentation, each with its
real library), against their ground truth: per turn, from the turn's start to the first
chunk, as measured when the fixtures were made; and rerank (200 ms) as the largest share
of it. Turns and stages are those the conventions recognise (`conventions.classify_span`);
with ``--all-spans``, every other span is a stage too, named by its span name."""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

import pytest

from rag_otel.analysis.model import Diagnostics
from rag_otel.analysis.readers import read_spans
from rag_otel.analysis.report import FIRST_TOKEN_ROW, analyze

PEERS = Path(__file__).resolve().parents[1] / "fixtures" / "peers"


def truth_of(peer: str) -> dict[str, Any]:
    truth: dict[str, Any] = json.loads((PEERS / f"{peer}.truth.json").read_text("utf-8"))
    return truth


OTLP = sorted(
    p.name.removesuffix(".truth.json")
    for p in PEERS.glob("*.truth.json")
    if truth_of(p.name.removesuffix(".truth.json"))["format"] == "otlp-jsonl"
)


def test_every_peer_library_is_here() -> None:
    assert {"openinference", "openinference-parallel", "openllmetry", "langfuse"} <= set(OTLP)
    assert {"genai-default", "genai-latest"} <= set(OTLP)


@pytest.mark.parametrize("peer", OTLP)
def test_peer_time_to_first_token(peer: str) -> None:
    truth = truth_of(peer)
    d = Diagnostics()
    spans = list(read_spans(str(PEERS / truth["fixture"]), diagnostics=d))
    report = analyze(spans, all_spans=True, diagnostics=d)
    ft = report.first_token
    assert ft is not None
    assert ft.turns == truth["turns"]
    measured = sorted(truth["measured_turn_to_first_token_ms"])
    if not truth["first_token"]["recorded"]:
        assert measured == []
        assert ft.timed == 0
        assert report.verdict.first_token_stage is None
        return
    streamed = {s.name for s in spans if s.first_chunk_ns is not None}
    if "span_name" in truth["first_token"]:
        assert streamed == {truth["first_token"]["span_name"]}
    got = sorted(v / 1e6 for v in report.samples[FIRST_TOKEN_ROW])
    assert got == pytest.approx(measured, abs=0.001)  # the truth is rounded to microseconds
    assert got[0] >= truth["min_turn_to_first_token_ms"]  # the sleeps before the first chunk
    # a stage a convention recognises is named by it, a plain span (--all-spans) by its name
    stages = {
        s["name"]: s["name"] if s["recognised_from"] else s["span_name"] for s in truth["stages"]
    }
    slowest = stages[truth["slowest_stage_for_first_token"]]
    assert report.verdict.first_token_stage == slowest
    fa = report.first_token_attribution
    assert fa is not None
    share = fa.overall.stages[slowest]
    bounds = truth.get("slowest_first_token_share")  # the truth's own bounds, when it has them
    if bounds is not None:
        low, high = bounds
        assert low < share < high
    else:  # rerank's 200 ms of about 305 ms to the first token (350 ms in MLflow's hybrid one)
        expected = truth["timings_ms"]["rerank_sleep"] / statistics.median(measured)
        assert share == pytest.approx(expected, abs=0.08)
    assert report.verdict.lines[1].startswith(f"optimise this next: {slowest} for the first token")
    for name in truth.get("after_first_token", ()):  # e.g. a guardrail after the generation
        assert report.attribution.overall.stages[name] > 0
        assert fa.overall.stages.get(name, 0.0) == 0.0

"""The peer fixtures (tests/fixtures/peers, made by the peers' real libraries with
make_fixtures.py) load with today's readers and hold what their ground truth says.

Only loading and counting is checked here; what the analysis makes of them (stages, kinds,
turns, time to first token) is tested with the recognition of issue 13 and 14.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from rag_otel.analysis.model import Diagnostics
from rag_otel.analysis.readers import read_spans

PEERS = Path(__file__).resolve().parents[1] / "fixtures" / "peers"
TRUTHS = sorted(PEERS.glob("*.truth.json"))


def truth_of(path: Path) -> dict[str, Any]:
    truth: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return truth


OTLP_TRUTHS = [p for p in TRUTHS if truth_of(p)["format"] == "otlp-jsonl"]
REST_TRUTHS = [p for p in TRUTHS if truth_of(p)["format"] != "otlp-jsonl"]


def rest_trace_id(item: dict[str, Any], format: str) -> str:
    """The trace id of one item of a REST export's ``data`` array."""
    if format in ("langfuse-observations-v1", "langfuse-observations-v2"):
        return str(item["traceId"])
    assert format == "phoenix-spans", format
    return str(item["context"]["trace_id"])


def test_every_fixture_has_its_ground_truth() -> None:
    fixtures = {p.name for p in PEERS.iterdir() if p.suffix in (".json", ".jsonl")}
    described = {truth_of(p)["fixture"] for p in TRUTHS}
    assert fixtures == described | {p.name for p in TRUTHS}
    assert {"openinference.otlp.jsonl", "openllmetry.otlp.jsonl"} <= described


@pytest.mark.parametrize("truth_path", OTLP_TRUTHS, ids=lambda p: p.name)
def test_otlp_fixture_loads_with_expected_counts(truth_path: Path) -> None:
    truth = truth_of(truth_path)
    diagnostics = Diagnostics()
    spans = list(read_spans(PEERS / truth["fixture"], diagnostics=diagnostics))
    assert len(spans) == truth["spans"]
    assert len({s.trace_id for s in spans}) == truth["traces"] == truth["turns"]
    assert Counter(s.name for s in spans) == Counter(truth["span_names"])
    assert not diagnostics.counts, diagnostics.counts
    # each turn is one trace: its root is the turn span the ground truth names
    roots = Counter(s.name for s in spans if s.parent_id is None)
    assert roots == Counter({truth["turn"]["span_name"]: truth["turns"]})
    per_turn = truth.get("spans_per_turn", {})  # e.g. an agent's two chat requests
    for stage in truth["stages"]:  # else one span per stage and turn (Haystack: one name for all)
        sharing = sum(other["span_name"] == stage["span_name"] for other in truth["stages"])
        count = per_turn.get(stage["span_name"], sharing) * truth["turns"]
        assert truth["span_names"][stage["span_name"]] == count


@pytest.mark.parametrize("truth_path", REST_TRUTHS, ids=lambda p: p.name)
def test_rest_export_holds_expected_counts(truth_path: Path) -> None:
    """Phoenix and Langfuse REST exports: one ``data`` item per span / observation."""
    truth = truth_of(truth_path)
    document = json.loads((PEERS / truth["fixture"]).read_text(encoding="utf-8"))
    data = document["data"]
    assert len(data) == truth["spans"]
    assert len({rest_trace_id(item, truth["format"]) for item in data}) == truth["traces"]
    assert Counter(item["name"] for item in data) == Counter(truth["span_names"])


@pytest.mark.parametrize("truth_path", OTLP_TRUTHS + REST_TRUTHS, ids=lambda p: p.name)
def test_ground_truth_timings_are_what_the_spans_show(truth_path: Path) -> None:
    """The known sleeps make the slowest stage unambiguous in the measured means."""
    truth = truth_of(truth_path)
    means = truth["measured_mean_ms"]
    # wrappers and helpers (role other: a framework's query engine, a synthesizer) last as
    # long as what they wrap; by span name, or by stage name where stages share one
    # (Haystack's component spans)
    by_name = {
        stage["name"]: stage["name"] if stage["name"] in means else stage["span_name"]
        for stage in truth["stages"]
        if stage["role"] != "other"
    }
    slowest = by_name[truth["slowest_stage"]]
    wrappers = {stage["name"] for stage in truth["stages"] if stage.get("wraps")}  # agent steps
    others = [
        means[span] for name, span in by_name.items() if span != slowest and name not in wrappers
    ]
    assert means[slowest] > 1.5 * max(others)
    first = truth["measured_turn_to_first_token_ms"]
    if not truth["first_token"]["recorded"]:
        assert first == []
        return
    assert len(first) == truth["turns"]
    assert min(first) >= truth["min_turn_to_first_token_ms"]

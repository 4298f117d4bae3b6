"""Frameworks that trace themselves (issue 22, first half): Haystack's and MLflow's own spans,
made by the real libraries (tests/fixtures/peers/haystack.*, mlflow.*), analysed with default
flags; and the escape hatch for every other framework, ``--stage-key`` and ``--kind-map``.
LlamaIndex, pydantic-ai and the tool-call first-token rule are in test_framework_dialects.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from rag_otel.analysis.conventions import CONVENTIONS, SPAN_NAME
from rag_otel.analysis.first_token import first_chunk_ns
from rag_otel.analysis.model import Diagnostics, InputError
from rag_otel.analysis.overrides import Overrides
from rag_otel.analysis.parallel import Settings, analyze_files
from rag_otel.analysis.pipeline import analyze_sources
from rag_otel.analysis.readers.otlp import events as otlp_events
from rag_otel.analysis.report import FIRST_TOKEN_ROW, Report
from rag_otel.cli import main

PEERS = Path(__file__).resolve().parents[1] / "fixtures" / "peers"
HAYSTACK = PEERS / "haystack.otlp.jsonl"
MLFLOW = PEERS / "mlflow.otlp.jsonl"


def truth(name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((PEERS / f"{name}.truth.json").read_text("utf-8"))
    return found


def stages(report: Report) -> list[tuple[str, str | None, str | None]]:
    return [(s.name, s.kind, s.source) for s in report.stages]


def test_haystack_components_are_stages_named_and_kinded_by_the_component() -> None:
    t = truth("haystack")
    report = analyze_sources([str(HAYSTACK)], workers=1)
    assert sorted(stages(report)) == sorted(
        (s["name"], s["kind_from_attributes"], "haystack") for s in t["stages"]
    )
    assert {s.name: s.kind for s in report.stages} == {
        "embedder": "embedding",
        "dense": "retrieval",
        "bm25": "retrieval",
        "joiner": "fusion",  # DocumentJoiner, reciprocal rank fusion
        "ranker": "rerank",  # MetaFieldRanker
        "prompt": "other",  # ChatPromptBuilder
        "llm": "generation",  # OpenAIChatGenerator, streaming
    }
    assert all(s.count == s.turns == t["turns"] for s in report.stages)
    assert (report.turn.count, report.turn.source) == (t["turns"], "haystack")
    assert report.verdict.stage == t["slowest_stage"] == "llm"
    overall = report.attribution.overall
    assert overall.remainder < 0.05  # the pipeline span's own time only
    # Haystack records no first chunk: no time to first token, and no guess
    assert report.first_token is not None
    assert report.first_token.timed == 0
    assert report.verdict.first_token_stage is None
    assert not report.diagnostics.counts, report.diagnostics.counts


def test_haystack_agent_steps_are_generation_and_tool_stages() -> None:
    t = truth("haystack-agent")
    report = analyze_sources([str(PEERS / "haystack-agent.otlp.jsonl")], workers=1)
    assert stages(report) == [
        ("haystack.agent.step", "other", "haystack"),
        ("haystack.agent.step.llm", "generation", "haystack"),
        ("lookup_warranty", "tool", "haystack"),  # named by haystack.tool.name
    ]
    assert (report.turn.count, report.turn.source) == (t["turns"], "haystack")  # agent.run
    assert report.verdict.stage == t["slowest_stage"] == "lookup_warranty"
    # the step only wraps the model call and the tool: its own time is what is left
    assert report.attribution.overall.stages["haystack.agent.step"] < 0.05


def test_mlflow_spans_are_stages_turns_and_a_first_token() -> None:
    t = truth("mlflow")
    report = analyze_sources([str(MLFLOW)], workers=1)
    assert stages(report) == [(s["name"], s["kind_from_attributes"], "mlflow") for s in t["stages"]]
    assert (report.turn.count, report.turn.source) == (t["turns"], "mlflow")
    assert "rag_turn" not in {s.name for s in report.stages}  # the root CHAIN is the turn
    assert report.verdict.stage == report.verdict.first_token_stage == "rerank"
    ft = report.first_token
    assert ft is not None
    assert ft.timed == ft.turns == t["turns"]
    got = sorted(v / 1e6 for v in report.samples[FIRST_TOKEN_ROW])
    assert got == pytest.approx(sorted(t["measured_turn_to_first_token_ms"]), abs=0.001)
    assert got[0] >= t["min_turn_to_first_token_ms"]
    assert not report.diagnostics.counts, report.diagnostics.counts


def test_kind_map_gives_mlflow_fusion_step_its_kind() -> None:
    """MLflow has no fusion span type: the ``fuse`` PARSER span is ``other`` by default."""
    by_name = analyze_sources([str(MLFLOW)], workers=1, kind_map=["fuse=fusion"])
    by_type = analyze_sources([str(MLFLOW)], workers=1, kind_map={"PARSER": "fusion"})
    for report in (by_name, by_type):
        kinds = {s.name: (s.kind, s.source) for s in report.stages}
        assert kinds["fuse"] == ("fusion", "mlflow")  # the source stays the convention's
        assert kinds["rerank"] == ("rerank", "mlflow")
    # first match wins, case-insensitively, on the name or the type
    report = analyze_sources(
        [str(MLFLOW)], workers=1, kind_map=["RETRIEVE_*=fusion", "retriever=other"]
    )
    kinds = {s.name: s.kind for s in report.stages}
    assert kinds["retrieve_dense"] == kinds["retrieve_keyword"] == "fusion"


def test_stage_key_names_stages_by_an_attribute() -> None:
    report = analyze_sources([str(HAYSTACK)], workers=1, stage_key="haystack.component.type")
    assert sorted(stages(report)) == sorted(
        [
            ("OpenAITextEmbedder", "embedding", "haystack"),
            ("InMemoryEmbeddingRetriever", "retrieval", "haystack"),
            ("InMemoryBM25Retriever", "retrieval", "haystack"),
            ("DocumentJoiner", "fusion", "haystack"),
            ("MetaFieldRanker", "rerank", "haystack"),
            ("ChatPromptBuilder", "other", "haystack"),
            ("OpenAIChatGenerator", "generation", "haystack"),
        ]
    )
    assert report.turn.count == 20  # turns stay turns
    # MLflow writes every attribute JSON-encoded: the value is decoded
    report = analyze_sources([str(MLFLOW)], workers=1, stage_key="mlflow.spanFunctionName")
    assert "retrieve_dense" in {s.name for s in report.stages}


def _otlp_line(spans: list[dict[str, Any]]) -> str:
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]})


def _span(i: int, parent: int | None, name: str, **attributes: str) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": f"{i // 10 + 1:032x}",
        "spanId": f"{i + 1:016x}",
        "name": name,
        "startTimeUnixNano": str(1_000_000_000 + i * 1000),
        "endTimeUnixNano": str(1_000_000_000 + i * 1000 + (90_000_000 if parent is None else 500)),
        "attributes": [{"key": k, "value": {"stringValue": v}} for k, v in attributes.items()],
    }
    if parent is not None:
        span["parentSpanId"] = f"{parent + 1:016x}"
    return span


def unknown_framework(path: Path, turns: int = 3) -> Path:
    """A framework no row knows: ``step`` spans named by ``acme.node``."""
    lines = []
    for t in range(turns):
        root = t * 10
        lines.append(
            _otlp_line(
                [
                    _span(root, None, "acme.run"),
                    _span(root + 1, root, "step", **{"acme.node": "lookup_docs"}),
                    _span(root + 2, root, "step", **{"acme.node": "llm_answer"}),
                    _span(root + 3, root, "step", **{"acme.other": "x"}),
                ]
            )
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_escape_hatch_for_a_framework_no_convention_knows(tmp_path: Path) -> None:
    path = str(unknown_framework(tmp_path / "acme.jsonl"))
    assert analyze_sources([path], workers=1).stages == []
    report = analyze_sources(
        [path],
        workers=1,
        stage_key="acme.node",
        kind_map=["*_docs=retrieval", "llm_*=generation"],
    )
    assert stages(report) == [
        ("lookup_docs", "retrieval", "stage-key"),
        ("llm_answer", "generation", "stage-key"),
    ]
    assert report.turn.count == 3


def test_the_parallel_path_applies_the_same_overrides(tmp_path: Path) -> None:
    big = tmp_path / "mlflow.jsonl"
    shutil.copy(MLFLOW, big)
    overrides = Overrides.parse("mlflow.spanType", ["parser=fusion"])
    parallel = analyze_files(
        [str(big)],
        Settings(overrides=overrides),
        diagnostics=Diagnostics(),
        workers=2,
        min_bytes_per_worker=1,
    )
    assert parallel is not None  # it did split the file
    sequential = analyze_sources(
        [str(big)], workers=1, stage_key="mlflow.spanType", kind_map=["parser=fusion"]
    )
    for report in (parallel, sequential):
        counts = {s.name: (s.kind, s.count) for s in report.stages}
        assert counts["RETRIEVER"] == ("retrieval", 40)  # both retrievers, one type
        assert counts["PARSER"] == ("fusion", 20)
    assert sorted(stages(parallel)) == sorted(stages(sequential))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--kind-map", "fuse=fusing"], "--kind-map: fuse=fusing: expected KIND to be one of"),
        (["--kind-map", "fuse"], "--kind-map: expected PATTERN=KIND, got 'fuse'"),
        (["--kind-map", "=fusion"], "--kind-map: expected PATTERN=KIND, got '=fusion'"),
        (["--stage-key", " "], "--stage-key: expected an attribute name"),
    ],
)
def test_bad_values_exit_2_with_one_line(
    options: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for command in (["analyze", str(MLFLOW)], ["compare", str(MLFLOW), str(MLFLOW)]):
        assert main([*command, *options]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert message in err
    with pytest.raises(InputError, match=r"^--(kind-map|stage-key): "):
        analyze_sources([str(MLFLOW)], workers=1, **_as_api(options))


def _as_api(options: list[str]) -> dict[str, Any]:
    flag, value = options
    return {"kind_map": [value]} if flag == "--kind-map" else {"stage_key": value}


def test_cli_analyze_and_compare_take_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", str(MLFLOW), "--kind-map", "fuse=fusion", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert next(s for s in doc["stages"] if s["name"] == "fuse")["kind"] == "fusion"
    assert (
        main(
            [
                "compare",
                str(HAYSTACK),
                str(HAYSTACK),
                "--stage-key",
                "haystack.component.type",
                "--format",
                "json",
            ]
        )
        == 0
    )
    assert "OpenAIChatGenerator" in capsys.readouterr().out


def test_mlflow_first_chunk_is_the_earliest_item_0_event() -> None:
    start = 1_000_000_000
    events = [
        ("mlflow.chunk.item.1", start + 50),
        ("mlflow.chunk.item.0", start + 40),
        ("mlflow.chunk.item.0", start + 45),  # two streamed calls in one span: the earliest
    ]
    assert first_chunk_ns(start, None, events) == start + 40
    assert first_chunk_ns(start, None, [("mlflow.chunk.item.3", start + 9)]) is None
    # a tracer's own first-chunk record wins over MLflow's chunk events
    seconds = {"gen_ai.response.time_to_first_chunk": 0.000000020}
    assert first_chunk_ns(start, seconds, events) == start + 20
    # the OTLP reader hands over only the first chunk's event, not every chunk's
    otlp = [{"name": f"mlflow.chunk.item.{i}", "timeUnixNano": str(start + i)} for i in range(5)]
    assert otlp_events(otlp) == [("mlflow.chunk.item.0", str(start))]


def test_the_table_stays_data_a_store_can_translate() -> None:
    """Another engine (a store's SQL) recognises the same spans from the same table: values
    are matched exactly or by ``*`` / ``?`` globs (LIKE patterns), lower-cased, and only the
    `SPAN_NAME` key is not an attribute."""
    for convention in CONVENTIONS:
        for key in convention.keys:
            assert key == SPAN_NAME or not key.startswith(":"), key
        for pattern, _ in convention.patterns:
            assert pattern == pattern.lower(), pattern
            assert set(pattern) & set("[]!%_\\") == set(), pattern
        if SPAN_NAME not in convention.keys:
            assert all(value == value.lower() for value in convention.rules), convention.source


def test_overrides_keep_the_attributes_the_html_report_asked_for(tmp_path: Path) -> None:
    """``--stage-key`` / ``--kind-map`` read every attribute and then drop them, unless the
    HTML report's exemplars keep them (``keep_attributes``): both, on either path."""
    big = tmp_path / "mlflow.jsonl"
    shutil.copy(MLFLOW, big)
    parallel = analyze_files(
        [str(big)],
        Settings(
            keep_attributes=True,
            overrides=Overrides.parse("mlflow.spanType", ["parser=fusion"]),
        ),
        diagnostics=Diagnostics(),
        workers=2,
        min_bytes_per_worker=1,
    )
    assert parallel is not None  # it did split the file
    options: dict[str, Any] = {"stage_key": "mlflow.spanType", "kind_map": ["parser=fusion"]}
    sequential = analyze_sources([str(big)], workers=1, keep_attributes=True, **options)
    for report in (parallel, sequential):
        assert {s.name: s.kind for s in report.stages}["PARSER"] == "fusion"
        assert report.exemplars
        for exemplar in report.exemplars:
            attributes = exemplar.turn.span.attributes
            assert attributes is not None
            assert attributes["mlflow.spanType"] == '"CHAIN"'
    dropped = analyze_sources([str(big)], workers=1, **options)
    assert {s.name: s.kind for s in dropped.stages}["PARSER"] == "fusion"
    assert all(e.turn.span.attributes is None for e in dropped.exemplars)

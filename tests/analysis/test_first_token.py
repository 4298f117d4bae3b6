"""Time to first token: its extraction from each tracer's representation, the turn's TTFT,
its critical path, the report rows and verdict line, and `compare`'s gate on it."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag_otel.analysis.compare import compare
from rag_otel.analysis.critical_path import Attribution, attribute_first_token, first_token_path
from rag_otel.analysis.first_token import (
    LANGFUSE_COMPLETION_START_TIME,
    OPENINFERENCE_FIRST_TOKEN_EVENT,
    first_chunk_ns,
)
from rag_otel.analysis.model import Diagnostics, Span
from rag_otel.analysis.pipeline import analyze_sources
from rag_otel.analysis.readers import read_spans
from rag_otel.analysis.readers.jaeger import log_events as jaeger_logs
from rag_otel.analysis.readers.otlp import events as otlp_events
from rag_otel.analysis.renderers import CSV_HEADER, render, render_table
from rag_otel.analysis.report import FIRST_TOKEN_ROW, analyze
from rag_otel.analysis.stats import QUANTILES
from rag_otel.analysis.traces import build_trace
from rag_otel.cli import main

MS = 1_000_000
T0 = 1_700_000_000_000 * MS  # a start time, in ns
TTFC = "gen_ai.response.time_to_first_chunk"
Mk = Callable[..., Span]
OtlpFile = Callable[[str, list[Span]], Path]
Pipeline = Callable[..., list[Span]]


# --- extraction: one pure function, four representations --------------------------------------


def test_rag_otel_event_wins_over_the_attribute() -> None:
    events = [("rag.first_chunk", T0 + 7 * MS)]
    assert first_chunk_ns(T0, {TTFC: 0.005}, events) == T0 + 7 * MS
    assert first_chunk_ns(T0, {TTFC: 0.005}, []) == T0 + 5 * MS
    assert first_chunk_ns(T0, {TTFC: 1}, None) == T0 + 1_000 * MS  # an int is seconds too


def test_the_genai_attribute_wins_over_openinference_and_langfuse() -> None:
    events = [(OPENINFERENCE_FIRST_TOKEN_EVENT, T0 + 9 * MS)]
    attrs = {TTFC: 0.25, LANGFUSE_COMPLETION_START_TIME: '"2026-01-01T00:00:00Z"'}
    assert first_chunk_ns(T0, attrs, events) == T0 + 250 * MS
    assert first_chunk_ns(T0, {LANGFUSE_COMPLETION_START_TIME: "x"}, events) == T0 + 9 * MS
    events += [("rag.first_chunk", T0 + 8 * MS), ("rag.first_chunk", T0 + 6 * MS)]
    assert first_chunk_ns(T0, attrs, events) == T0 + 6 * MS


def test_langfuse_completion_start_time_as_the_sdk_writes_it() -> None:
    stamp = datetime(2026, 12, 1, 11, 5, 16, 314144, tzinfo=timezone.utc)
    ns = 1_796_123_116_314_144_000
    assert round(stamp.timestamp() * 1e6) * 1000 == ns
    for text in (
        '"2026-12-01T11:05:16.314144Z"',  # JSON-encoded, as Langfuse's SDK writes it
        "2026-12-01T11:05:16.314144Z",
        "2026-12-01T13:05:16.314144+02:00",
        "2026-12-01T11:05:16.314144",  # naive: UTC
    ):
        assert first_chunk_ns(T0, {LANGFUSE_COMPLETION_START_TIME: text}, None) == ns, text


def test_openllmetry_chunk_events_the_earliest_counts_and_comes_last() -> None:
    chunks = [
        ("gen_ai.content.completion.chunk", T0 + 12 * MS),
        ("gen_ai.content.completion.chunk", T0 + 11 * MS),  # out of order: still the first
        ("llm.content.completion.chunk", T0 + 13 * MS),
    ]
    assert first_chunk_ns(T0, None, chunks) == T0 + 11 * MS
    assert first_chunk_ns(T0, {TTFC: 0.5}, chunks) == T0 + 500 * MS
    stamp = '"2023-11-14T22:13:20.004Z"'  # T0 + 4 ms
    assert first_chunk_ns(T0, {LANGFUSE_COMPLETION_START_TIME: stamp}, chunks) == T0 + 4 * MS


@pytest.mark.parametrize(
    "attrs",
    [
        {TTFC: "soon"},
        {TTFC: -0.5},
        {TTFC: float("nan")},
        {TTFC: True},
        {TTFC: [0.1]},
        {LANGFUSE_COMPLETION_START_TIME: "yesterday"},
        {LANGFUSE_COMPLETION_START_TIME: '"unterminated'},
        {LANGFUSE_COMPLETION_START_TIME: 5},
        {"gen_ai.other": 0.1},
        {},
    ],
)
def test_unreadable_values_are_skipped(attrs: dict[str, object]) -> None:
    assert first_chunk_ns(T0, attrs, [("rag.first_chunk", "x"), ("other", T0)]) is None


def test_the_attribute_needs_the_start() -> None:
    assert first_chunk_ns(None, {TTFC: 0.1}, None) is None


def test_otlp_events_and_jaeger_logs_become_pairs() -> None:
    otlp = [
        {"timeUnixNano": "123", "name": "rag.first_chunk"},
        {"time_unix_nano": "456", "name": OPENINFERENCE_FIRST_TOKEN_EVENT},
        {"timeUnixNano": "789", "name": "exception"},
        "junk",
    ]
    assert otlp_events(otlp) == [
        ("rag.first_chunk", "123"),
        (OPENINFERENCE_FIRST_TOKEN_EVENT, "456"),
    ]
    assert otlp_events({"name": "rag.first_chunk"}) == []
    assert otlp_events([{"name": ["rag.first_chunk"]}, {"name": None}, 5]) == []  # odd: skipped
    assert jaeger_logs([{"fields": 7}, {"fields": [{"key": "event", "value": ["x"]}]}]) == []
    logs = [
        {
            "timestamp": 5,
            "fields": [{"key": "event", "type": "string", "value": "rag.first_chunk"}],
        },
        {"timestamp": 6, "fields": [{"key": "event", "value": "exception"}]},
        {"timestamp": "x", "fields": [{"key": "event", "value": OPENINFERENCE_FIRST_TOKEN_EVENT}]},
        None,
    ]
    assert jaeger_logs(logs) == [
        ("rag.first_chunk", 5000),
        (OPENINFERENCE_FIRST_TOKEN_EVENT, None),
    ]


def _otlp_line(span: dict[str, object]) -> str:
    base: dict[str, object] = {
        "traceId": "0" * 31 + "1",
        "name": "llm",
        "startTimeUnixNano": str(T0),
        "endTimeUnixNano": str(T0 + 100 * MS),
    }
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [{**base, **span}]}]}]})


def test_the_otlp_reader_reads_every_representation(tmp_path: Path) -> None:
    stamp = datetime.fromtimestamp(T0 / 1e9, tz=timezone.utc) + timedelta(milliseconds=40)
    langfuse_text = json.dumps(stamp.isoformat().replace("+00:00", "Z"))
    spans = [
        {
            "spanId": "01" * 8,
            "events": [{"timeUnixNano": str(T0 + 10 * MS), "name": "rag.first_chunk"}],
        },
        {"spanId": "02" * 8, "attributes": [{"key": TTFC, "value": {"doubleValue": 0.02}}]},
        {
            "spanId": "03" * 8,
            "events": [
                {"timeUnixNano": str(T0 + 1 * MS), "name": "exception"},
                {"timeUnixNano": str(T0 + 30 * MS), "name": OPENINFERENCE_FIRST_TOKEN_EVENT},
            ],
        },
        {
            "spanId": "04" * 8,
            "attributes": [
                {"key": "rag.stage", "value": {"stringValue": "generate"}},
                {"key": LANGFUSE_COMPLETION_START_TIME, "value": {"stringValue": langfuse_text}},
            ],
        },
        {"spanId": "05" * 8, "attributes": [{"key": "x", "value": {"intValue": "1"}}]},
        {"spanId": "06" * 8, "events": [{"name": ["odd"]}, 7]},  # read, with no first chunk
    ]
    path = tmp_path / "spans.jsonl"
    path.write_text("".join(_otlp_line(s) + "\n" for s in spans))
    for keep in (False, True):
        got = {
            s.span_id[:2]: s.first_chunk_ns
            for s in read_spans(str(path), diagnostics=Diagnostics(), keep_attributes=keep)
        }
        assert got == {
            "01": T0 + 10 * MS,
            "02": T0 + 20 * MS,
            "03": T0 + 30 * MS,
            "04": T0 + 40 * MS,
            "05": None,
            "06": None,
        }, keep


def test_the_jaeger_reader_reads_logs_and_tags(tmp_path: Path) -> None:
    def span(sid: str, **extra: object) -> dict[str, object]:
        return {
            "traceID": "1" * 32,
            "spanID": sid * 8,
            "operationName": "llm",
            "startTime": T0 // 1000,
            "duration": 100_000,
            "processID": "p1",
            **extra,
        }

    event = {"key": "event", "type": "string", "value": "rag.first_chunk"}
    doc = {
        "data": [
            {
                "traceID": "1" * 32,
                "processes": {"p1": {"serviceName": "svc"}},
                "spans": [
                    span("01", logs=[{"timestamp": T0 // 1000 + 15_000, "fields": [event]}]),
                    span("02", tags=[{"key": TTFC, "type": "float64", "value": 0.025}]),
                    span("03", logs=[]),
                ],
            }
        ]
    }
    path = tmp_path / "jaeger.json"
    path.write_text(json.dumps(doc))
    got = {
        s.span_id[:2]: s.first_chunk_ns for s in read_spans(str(path), diagnostics=Diagnostics())
    }
    assert got == {"01": T0 + 15 * MS, "02": T0 + 25 * MS, "03": None}


# --- the turn's time to first token and its critical path ---------------------------------------


def first_token(spans: list[Span]) -> list[Attribution | None]:
    return [attribute_first_token(t) for t in build_trace(spans, diagnostics=Diagnostics()).turns]


def ms(a: Attribution | None) -> dict[str, float]:
    assert a is not None
    out = {k: v / MS for k, v in a.charges.items() if v}
    out["(untraced)"] = a.remainder_ns / MS
    out["TTFT"] = a.duration_ns / MS
    return out


def test_sequential_stages(mk: Mk) -> None:
    spans = [
        mk("turn", None, 0, 100, turn=True),
        mk("r", "turn", 0, 20, stage="retrieve"),
        mk("k", "turn", 20, 50, stage="rerank"),
        mk("g", "turn", 50, 100, stage="generate", first_chunk_ms=60),
    ]
    [a] = first_token(spans)
    assert ms(a) == {"retrieve": 20, "rerank": 30, "generate": 10, "(untraced)": 0, "TTFT": 60}


def test_parallel_stages_before_the_generation(mk: Mk) -> None:
    spans = [
        mk("turn", None, 0, 100, turn=True),
        mk("v", "turn", 0, 30, stage="vector"),
        mk("b", "turn", 0, 40, stage="bm25"),  # the longer of the two is on the path
        mk("k", "turn", 40, 50, stage="rerank"),
        mk("g", "turn", 50, 100, stage="generate", first_chunk_ms=70),
    ]
    [a] = first_token(spans)
    assert ms(a) == {"bm25": 40, "rerank": 10, "generate": 20, "(untraced)": 0, "TTFT": 70}


def test_a_generation_that_is_not_the_last_stage(mk: Mk) -> None:
    spans = [
        mk("turn", None, 0, 100, turn=True),
        mk("r", "turn", 0, 10, stage="retrieve"),
        mk("g", "turn", 10, 60, stage="generate", first_chunk_ms=20),
        mk("s", "turn", 60, 100, stage="guard"),  # after the first token: counts nothing
    ]
    [a] = first_token(spans)
    assert ms(a) == {"retrieve": 10, "generate": 10, "(untraced)": 0, "TTFT": 20}
    report = analyze(spans, diagnostics=Diagnostics())
    assert report.attribution.overall.stages["guard"] == pytest.approx(0.4)
    assert report.first_token_attribution is not None
    assert report.first_token_attribution.overall.stages == {"retrieve": 0.5, "generate": 0.5}


def test_a_stage_still_running_at_the_first_chunk_is_not_charged_past_the_generation(
    mk: Mk,
) -> None:
    # The figure in attribute_first_token's docstring: audit starts after generate, and is
    # still running at the first chunk; the plain walk would put it on the path.
    spans = [
        mk("turn", None, 0, 14, turn=True),
        mk("r", "turn", 0, 3, stage="retrieve"),
        mk("k", "turn", 3, 7, stage="rerank"),
        mk("g", "turn", 7, 14, stage="generate", first_chunk_ms=9),
        mk("a", "turn", 8, 13, stage="audit"),
    ]
    [a] = first_token(spans)
    assert ms(a) == {"retrieve": 3, "rerank": 4, "generate": 2, "(untraced)": 0, "TTFT": 9}


def test_a_stage_overlapping_the_generation_start_takes_only_its_time_before_it(mk: Mk) -> None:
    spans = [
        mk("turn", None, 0, 100, turn=True),
        mk("r", "turn", 0, 10, stage="retrieve"),
        mk("x", "turn", 5, 90, stage="log"),  # from 5 to past the first chunk
        mk("g", "turn", 20, 100, stage="generate", first_chunk_ms=40),
    ]
    [a] = first_token(spans)
    assert ms(a) == {"retrieve": 5, "log": 15, "generate": 20, "(untraced)": 0, "TTFT": 40}


def test_turns_without_a_streamed_generation_have_no_ttft(mk: Mk) -> None:
    spans = [
        mk("turn", None, 0, 100, turn=True),
        mk("g", "turn", 10, 100, stage="generate"),
    ]
    assert first_token(spans) == [None]


def test_two_generations_in_one_turn_the_earliest_first_chunk_counts(mk: Mk) -> None:
    sequential = [
        mk("turn", None, 0, 100, turn=True),
        mk("r", "turn", 0, 10, stage="retrieve"),
        mk("d", "turn", 10, 40, stage="draft", first_chunk_ms=15),
        mk("f", "turn", 40, 90, stage="final", first_chunk_ms=50),
    ]
    [a] = first_token(sequential)
    assert ms(a) == {"retrieve": 10, "draft": 5, "(untraced)": 0, "TTFT": 15}
    parallel = [  # the one started second streams first: the path runs through it
        mk("turn", None, 0, 100, turn=True, trace="t2"),
        mk("r", "turn", 0, 10, stage="retrieve", trace="t2"),
        mk("d", "turn", 10, 90, stage="draft", first_chunk_ms=80, trace="t2"),
        mk("f", "turn", 20, 60, stage="final", first_chunk_ms=30, trace="t2"),
    ]
    [b] = first_token(parallel)
    assert ms(b) == {"retrieve": 10, "draft": 10, "final": 10, "(untraced)": 0, "TTFT": 30}


def test_untraced_time_and_a_nested_first_chunk(mk: Mk) -> None:
    # The first chunk is on a child of the generation stage (an LLM client span, not a
    # stage: its time is the stage's), earlier than the stage's own.
    spans = [
        mk("turn", None, 0, 100, turn=True),
        mk("g", "turn", 5, 100, stage="generate", first_chunk_ms=26),
        mk("c", "g", 10, 95, name="ChatCompletion", first_chunk_ms=25),
    ]
    [a] = first_token(spans)
    assert ms(a) == {"generate": 20, "(untraced)": 5, "TTFT": 25}
    [turn] = build_trace(spans, diagnostics=Diagnostics()).turns
    found = first_token_path(turn)
    assert found is not None
    chain, at = found
    assert [n.span.span_id for n in chain] == ["turn", "g", "c"]
    assert at == 25 * MS


def test_a_first_chunk_outside_its_span_is_clamped_into_it(mk: Mk) -> None:
    spans = [
        mk("turn", None, 0, 100, turn=True),
        mk("g", "turn", 10, 60, stage="generate", first_chunk_ms=75),  # clock skew
    ]
    [a] = first_token(spans)
    assert ms(a) == {"generate": 50, "(untraced)": 10, "TTFT": 60}


def test_a_root_span_that_streams_is_its_own_turn(mk: Mk) -> None:
    spans = [mk("llm", None, 0, 50, name="ChatCompletion", first_chunk_ms=12)]
    [a] = first_token(spans)
    assert ms(a) == {"(untraced)": 12, "TTFT": 12}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 100), st.integers(0, 100), st.integers(0, 3)),
        min_size=1,
        max_size=8,
    ),
    st.integers(0, 100),
)
def test_charges_add_up_to_the_ttft(stages: list[tuple[int, int, int]], chunk: int) -> None:
    spans = [Span("t", "turn", None, "rag.turn", 0, 100 * MS, is_turn=True)]
    for i, (a, b, parent) in enumerate(stages):
        lo, hi = min(a, b), max(a, b)
        spans.append(
            Span(
                "t",
                f"s{i}",
                "turn" if parent >= i else f"s{parent}",
                f"s{i}",
                lo * MS,
                hi * MS,
                stage=f"stage{i % 3}",
                first_chunk_ns=(lo + (hi - lo) * chunk // 100) * MS if i % 2 else None,
            )
        )
    for a in first_token(spans):
        if a is None:
            continue
        assert all(v >= 0 for v in a.charges.values())
        assert a.remainder_ns >= 0
        assert sum(a.charges.values()) + a.remainder_ns == a.duration_ns
        assert 0 <= a.duration_ns <= 100 * MS


# --- the report ------------------------------------------------------------------------------


def mixed(mk: Mk) -> list[Span]:
    """Four turns: three stream (TTFT 60, 30 and 45 ms), one does not."""
    spans: list[Span] = []
    for i, (rerank_end, chunk) in enumerate(((50, 60), (20, 30), (40, 45), (40, None))):
        tr = f"{i:032x}"
        spans += [
            mk("turn", None, 0, 100, turn=True, trace=tr),
            mk("k", "turn", 0, rerank_end, stage="rerank", trace=tr),
            mk("g", "turn", rerank_end, 100, stage="generate", first_chunk_ms=chunk, trace=tr),
        ]
    return spans


def test_the_report_has_a_ttft_row_shares_and_a_verdict_line(mk: Mk) -> None:
    report = analyze(mixed(mk), diagnostics=Diagnostics())
    ft = report.first_token
    assert ft is not None
    assert (ft.name, ft.count, ft.turns, ft.timed, ft.errors) == (FIRST_TOKEN_ROW, 3, 4, 3, 0)
    assert (ft.mean_ms, ft.p50_ms, ft.max_ms) == (45.0, 45.0, 60.0)
    assert ft.p90_ms == pytest.approx(57.0)
    assert sorted(report.samples[FIRST_TOKEN_ROW]) == [30 * MS, 45 * MS, 60 * MS]
    fa = report.first_token_attribution
    assert fa is not None
    # rerank: 50 + 20 + 40 of 135 ms; generate: 10 + 10 + 5
    assert fa.overall.turns == 3
    assert fa.overall.stages == pytest.approx({"rerank": 110 / 135, "generate": 25 / 135})
    assert report.verdict.first_token_stage == "rerank"
    # turn time: rerank 150 of 400 ms, generate 250; generate halved: turns of 75, 60, 70
    # and 70 ms instead of 100 (p50 70, p95 74.25)
    assert report.verdict.lines[:2] == (
        "optimise this next: generate — twice as fast saves 30 ms at p50 (-30%), 26 ms at p95 "
        "(62% of turn time on the critical path)",
        "optimise this next: rerank for the first token (81% of TTFT); "
        "generate for the full answer (62% of turn time)",
    )


def test_ttft_order_statistics_match_numpy(mk: Mk) -> None:
    rng = random.Random(7)
    spans: list[Span] = []
    chunks: list[float] = []
    for i in range(301):
        tr = f"{i:032x}"
        start = rng.uniform(1, 50)
        chunk = start + rng.lognormvariate(3, 0.7)
        chunks.append(chunk)
        spans += [
            mk("turn", None, 0, chunk + 100, turn=True, trace=tr),
            mk("g", "turn", start, chunk + 90, stage="generate", first_chunk_ms=chunk, trace=tr),
        ]
    report = analyze(spans, diagnostics=Diagnostics())
    ft = report.first_token
    assert ft is not None
    got = (ft.p50_ms, ft.p90_ms, ft.p95_ms, ft.p99_ms)
    xs = [round(c * MS) / MS for c in chunks]
    want = [float(np.quantile(xs, q, method="linear")) for q in QUANTILES]
    assert got == pytest.approx(want)
    assert ft.max_ms == pytest.approx(max(xs))
    assert ft.mean_ms == pytest.approx(sum(xs) / len(xs))


def test_every_format_shows_the_ttft(mk: Mk) -> None:
    report = analyze(mixed(mk), diagnostics=Diagnostics(), sources=["mixed.jsonl"])
    doc = json.loads(render(report, "json"))
    assert doc["first_token"]["timed"] == 3
    assert doc["first_token"]["turns"] == 4
    assert doc["first_token_critical_path"]["overall"]["turns"] == 3
    assert doc["verdict"]["first_token_stage"] == "rerank"
    table = render_table(report, width=200)
    assert "(first token)" in table
    assert "share of time to first token" in table
    assert "3 of 4 turns have one (1 streamed nothing: no time to first token)" in table
    assert "rerank for the first token (81% of TTFT)" in table
    md = render(report, "markdown")
    assert "| (first token) | - | - | 3 | 4 | 45.0 | 45.0 |" in md  # no kind, no source
    assert "## Share of time to first token" in md
    csv_text = render(report, "csv")
    row = next(line for line in csv_text.splitlines() if line.startswith("(first token),"))
    assert row.split(",")[1:8] == ["", "", "3", "4", "3", "0", "45.0"]
    rerank = next(line for line in csv_text.splitlines() if line.startswith("rerank,"))
    assert float(rerank.split(",")[CSV_HEADER.index("first_token_share")]) == pytest.approx(
        110 / 135
    )


def test_without_streaming_the_row_is_empty_and_nothing_else_shows(mk: Mk) -> None:
    spans = [s for s in mixed(mk) if s.trace_id == f"{3:032x}"]
    report = analyze(spans, diagnostics=Diagnostics())
    assert report.first_token is not None
    assert (report.first_token.timed, report.first_token.turns) == (0, 1)
    assert report.verdict.first_token_stage is None
    assert len(report.verdict.lines) == 1
    table = render_table(report, width=200)
    assert "share of time to first token" not in table
    assert "0 of 1 turns have one (1 streamed nothing" in table


# --- compare: the same bootstrap gate ---------------------------------------------------------


def test_compare_gates_a_ttft_only_regression(
    otlp_file: OtlpFile, make_pipeline: Pipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    # Same seed: every stage and turn duration is identical; only the first chunk moves,
    # from 10% to 60% into the generation.
    base = make_pipeline(120, seed=1, first_chunk=0.1)
    slow = make_pipeline(120, seed=1, first_chunk=0.6)
    c = compare(analyze(base, diagnostics=Diagnostics()), analyze(slow, diagnostics=Diagnostics()))
    regressed = {(d.stage, d.quantile) for d in c.regressions(10)}
    assert regressed == {(FIRST_TOKEN_ROW, "p50"), (FIRST_TOKEN_ROW, "p95")}
    base_file, slow_file = otlp_file("base.jsonl", base), otlp_file("slow.jsonl", slow)
    assert main(["compare", str(base_file), str(slow_file), "--fail-if-slower", "10"]) == 1
    out = capsys.readouterr().out
    assert "REGRESSION" in out
    assert "(first token)" in out
    assert main(["compare", str(base_file), str(base_file), "--fail-if-slower", "10"]) == 0


def test_compare_lists_a_ttft_that_appears_or_disappears(make_pipeline: Pipeline) -> None:
    streamed = analyze(make_pipeline(20, first_chunk=0.2), diagnostics=Diagnostics())
    plain = analyze(make_pipeline(20), diagnostics=Diagnostics())
    c = compare(streamed, plain)
    assert c.only_in_baseline == [FIRST_TOKEN_ROW]
    assert FIRST_TOKEN_ROW not in {d.stage for d in c.deltas}
    assert compare(plain, streamed).only_in_new == [FIRST_TOKEN_ROW]


def test_the_parallel_path_agrees(otlp_file: OtlpFile, make_pipeline: Pipeline) -> None:
    from rag_otel.analysis.parallel import Settings, analyze_files

    path = otlp_file("many.jsonl", make_pipeline(200, first_chunk=0.25))
    one = analyze_sources([str(path)], workers=1)
    two = analyze_files(
        [str(path)], Settings(), diagnostics=Diagnostics(), workers=3, min_bytes_per_worker=1
    )
    assert two is not None
    assert one.first_token == two.first_token
    assert one.first_token is not None
    assert one.first_token.timed == 200
    assert one.first_token_attribution == two.first_token_attribution


def test_the_plot_has_the_ttft_row_and_its_shares(make_pipeline: Pipeline, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    from rag_otel.analysis.plot import plot_report, report_figure

    report = analyze(make_pipeline(60, first_chunk=0.15), diagnostics=Diagnostics())
    fig = report_figure(report)
    latency, shares = ([t.get_text() for t in ax.get_yticklabels()] for ax in fig.axes[:2])
    plt.close(fig)
    assert latency[:2] == ["(first token)", "(turn)"]  # bottom up
    assert [s.split("\n")[0] for s in shares] == [
        "all turns",
        "p50 turns",
        "p95 turns",
        "first token: all turns",
        "first token: p50 turns",
        "first token: p95 turns",
    ]
    plot_report(report, tmp_path / "ttft.png")
    assert (tmp_path / "ttft.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_verdict_line_when_one_stage_leads_both_and_when_the_path_is_untraced(
    mk: Mk,
) -> None:
    same = [
        mk("turn", None, 0, 100, turn=True),
        mk("k", "turn", 0, 80, stage="rerank"),
        mk("g", "turn", 80, 100, stage="generate", first_chunk_ms=85),
    ]
    lines = analyze(same, diagnostics=Diagnostics()).verdict.lines
    assert lines[1] == "optimise this next: rerank for the first token too (94% of TTFT)"
    untraced = [
        mk("turn", None, 0, 100, turn=True),
        mk("g", "turn", 90, 100, stage="generate", first_chunk_ms=91),
    ]
    lines = analyze(untraced, diagnostics=Diagnostics()).verdict.lines
    assert lines[1:3] == (
        "optimise this next: generate for the first token too (1% of TTFT)",
        "note: 99% of the time to first token is in no stage (untraced remainder)",
    )

"""The what-if engine on data: worked examples, properties on random trees, the report."""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag_otel.analysis.layout import WIDEST_LEVEL
from rag_otel.analysis.model import Diagnostics, InputError, Span
from rag_otel.analysis.predictions import Predictions
from rag_otel.analysis.report import analyze
from rag_otel.analysis.traces import Turn, build_trace
from rag_otel.analysis.whatif import first_token_ns, parse_change, predict_turn

MS = 1_000_000
Mk = Callable[..., Span]


def one_turn(spans: list[Span]) -> Turn:
    [turn] = build_trace(spans, diagnostics=Diagnostics()).turns
    return turn


def ms(turn: Turn, change: str) -> tuple[float, float | None]:
    duration, first = predict_turn(turn, parse_change(change))
    return duration / MS, None if first is None else first / MS


@pytest.fixture
def hybrid(mk: Mk) -> Turn:
    """vector and bm25 in parallel, then rerank, then a streamed generation."""
    return one_turn(
        [
            mk("turn", None, 0, 100, turn=True),
            mk("v", "turn", 0, 40, stage="vector"),
            mk("b", "turn", 0, 25, stage="bm25"),
            mk("r", "turn", 40, 75, stage="rerank"),
            mk("g", "turn", 75, 100, stage="generate", first_chunk_ms=80),
        ]
    )


def test_the_docstring_example(hybrid: Turn) -> None:
    assert ms(hybrid, "vector=1") == (100, 80)
    assert ms(hybrid, "vector=0.5") == (85, 65)  # saves 15, not 20: bm25 becomes the longer
    assert ms(hybrid, "bm25=0") == (100, 80)  # slack: nothing
    assert ms(hybrid, "rerank=0.5") == (82.5, 62.5)
    assert ms(hybrid, "rerank=-40ms") == (65, 45)  # floored at 0
    assert ms(hybrid, "generate=0.5") == (87.5, 77.5)  # the first chunk scales with its stage
    assert ms(hybrid, "generate=0") == (75, 75)
    assert ms(hybrid, "vector=0.5+bm25=0.5") == (80, 60)
    assert ms(hybrid, "parallel:vector,rerank") == (65, 45)  # what waited for rerank still does


def test_sequential_siblings_made_parallel(mk: Mk) -> None:
    turn = one_turn(
        [
            mk("turn", None, 0, 100, turn=True),
            mk("v", "turn", 0, 40, stage="vector"),
            mk("b", "turn", 45, 70, stage="bm25"),  # 5 ms of the turn's own time before it
            mk("r", "turn", 70, 100, stage="rerank"),
        ]
    )
    assert ms(turn, "parallel:vector,bm25") == (70, None)
    assert ms(turn, "bm25=0") == (75, None)


def test_descendants_scale_with_their_stage(mk: Mk) -> None:
    turn = one_turn(
        [
            mk("turn", None, 0, 100, turn=True),
            mk("r", "turn", 10, 60, stage="retrieve"),
            mk("q", "r", 20, 50, stage="query"),
            mk("g", "turn", 60, 100, stage="generate", first_chunk_ms=70),
        ]
    )
    assert ms(turn, "retrieve=0.5") == (75, 45)
    assert ms(turn, "query=0.5") == (85, 55)  # retrieve's own time stays
    assert ms(turn, "retrieve=0.5+query=0.5") == (67.5, 37.5)


def test_a_first_chunk_between_children_keeps_its_gap(mk: Mk) -> None:
    turn = one_turn(
        [
            mk("turn", None, 0, 100, turn=True),
            mk("g", "turn", 10, 100, stage="generate", first_chunk_ms=50),
            mk("h", "g", 10, 40, stage="http"),  # the request, then 10 ms to the first chunk
        ]
    )
    assert ms(turn, "http=0.5") == (85, 35)


def test_follows_from_children_are_not_waited_for(mk: Mk) -> None:
    turn = one_turn(
        [
            mk("turn", None, 0, 50, turn=True),
            mk("g", "turn", 0, 40, stage="generate"),
            mk("a", "turn", 40, 50, stage="audit", follows_from=True),
        ]
    )
    assert ms(turn, "generate=0.5") == (30, None)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("rerank", "accepted forms"),
        ("rerank=fast", "accepted forms"),
        ("rerank=0.5+", "accepted forms"),
        ("parallel:vector", "two or more"),
        ("parallel:a,a", "two or more"),
        ("rerank=-0.5", "negative factor"),
        ("rerank=0.5+rerank=0.2", "changed twice"),
        ("rerank=nan", "finite"),
    ],
)
def test_bad_changes_are_one_line_errors(text: str, says: str) -> None:
    with pytest.raises(InputError, match=says) as caught:
        parse_change(text)
    assert "\n" not in str(caught.value)


def test_accepted_forms() -> None:
    assert parse_change("rerank=-40ms").scales[0].minus_ns == 40 * MS
    assert parse_change("rerank=-0.5s").scales[0].minus_ns == 500 * MS
    assert parse_change(" a = 0 + parallel:b, c ").text == "a = 0+parallel:b, c"
    assert parse_change("a=0+parallel:b,c").stages == ["a", "b", "c"]


# --- properties on random trees ---------------------------------------------------------

STAGES = ("a", "b", "c", "d")


@st.composite
def trees(draw: st.DrawFn) -> list[Span]:
    """A turn of nested stages at random times, maybe one streamed chunk."""
    spans = [Span("t", "turn", None, "rag.turn", 0, draw(st.integers(10, 1000)) * MS, is_turn=True)]
    todo = [(spans[0], 0)]
    n = 0
    while todo and n < 12:
        parent, depth = todo.pop()
        assert parent.start_ns is not None
        assert parent.end_ns is not None
        for _ in range(draw(st.integers(0, 3 if depth < 3 else 0))):
            a = draw(st.integers(parent.start_ns // MS, parent.end_ns // MS))
            b = draw(st.integers(a, parent.end_ns // MS))
            n += 1
            kid = Span(
                "t",
                f"s{n}",
                parent.span_id,
                "x",
                a * MS,
                b * MS,
                stage=draw(st.sampled_from(STAGES)),
                follows_from=draw(st.booleans()) and draw(st.booleans()),
            )
            spans.append(kid)
            todo.append((kid, depth + 1))
    if draw(st.booleans()):
        chunky = draw(st.sampled_from(spans))
        assert chunky.start_ns is not None
        assert chunky.end_ns is not None
        chunky.first_chunk_ns = draw(st.integers(chunky.start_ns, chunky.end_ns))
    return spans


@settings(max_examples=300, deadline=None)
@given(trees(), st.sampled_from(STAGES))
def test_factor_one_is_the_identity(spans: list[Span], stage: str) -> None:
    turn = one_turn(spans)
    assert predict_turn(turn, parse_change(f"{stage}=1")) == (
        turn.duration_ns,
        first_token_ns(turn),
    )


@settings(max_examples=300, deadline=None)
@given(trees(), st.sampled_from(STAGES), st.floats(0, 1), st.floats(0, 1))
def test_savings_never_grow_as_the_factor_grows(
    spans: list[Span], stage: str, x: float, y: float
) -> None:
    turn = one_turn(spans)
    lo, hi = sorted((x, y))
    fast, slow = (predict_turn(turn, parse_change(f"{stage}={f!r}")) for f in (lo, hi))
    assert fast[0] <= slow[0] + 1  # ns rounding
    if fast[1] is not None and slow[1] is not None:
        assert fast[1] <= slow[1] + 1


@settings(max_examples=300, deadline=None)
@given(trees(), st.sampled_from(STAGES), st.floats(0, 1), st.sampled_from(STAGES))
def test_a_prediction_never_makes_a_turn_longer(
    spans: list[Span], stage: str, factor: float, other: str
) -> None:
    turn = one_turn(spans)
    first = first_token_ns(turn)
    changes = [f"{stage}={factor!r}", f"{stage}=-5ms"]
    if other != stage:
        changes += [f"parallel:{stage},{other}", f"{stage}={factor!r}+parallel:{stage},{other}"]
    for text in changes:
        duration, ttft = predict_turn(turn, parse_change(text))
        assert duration <= turn.duration_ns + 1, text
        if ttft is not None and first is not None:
            assert ttft <= first + 1, text


@settings(max_examples=300, deadline=None)
@given(trees(), st.data())
def test_removing_a_stage_with_slack_changes_nothing(
    spans: list[Span], data: st.DataObject
) -> None:
    # a leaf that starts with its parent and ends after every sibling started but before
    # the last one ends: nothing waits for it, and it is not what its parent waits for last
    parent = data.draw(st.sampled_from(spans))
    assert parent.start_ns is not None
    kids = [s for s in spans if s.parent_id == parent.span_id and not s.follows_from]
    if not kids:
        return
    last_start = max(k.start_ns or 0 for k in kids)
    last_end = max(k.end_ns or 0 for k in kids)
    if last_end - last_start < 2:
        return
    spans.append(
        Span("t", "slack", parent.span_id, "x", parent.start_ns, last_start + 1, stage="slack")
    )
    turn = one_turn(spans)
    assert predict_turn(turn, parse_change("slack=0"))[0] == turn.duration_ns


# --- the report ---------------------------------------------------------------------------


def test_the_default_table_ranks_by_saving_not_share(mk: Mk) -> None:
    # vector has the largest share of the path, but bm25 is 2 ms shorter: halving vector
    # saves 2 ms; rerank's smaller share saves more, so rerank is the one to optimise
    spans = []
    for i in range(20):
        t = f"t{i}"
        spans += [
            mk("turn", None, 0, 100, turn=True, trace=t),
            mk("v", "turn", 0, 60, stage="vector", trace=t),
            mk("b", "turn", 0, 58, stage="bm25", trace=t),
            mk("r", "turn", 60, 100, stage="rerank", trace=t),
        ]
    report = analyze(spans)
    rows = {w.change: w for w in report.what_if}
    assert [w.change for w in report.what_if] == ["rerank=0.5", "vector=0.5", "bm25=0.5"]
    assert rows["rerank=0.5"].saving_p50_ms == pytest.approx(20)
    assert rows["vector=0.5"].saving_p50_ms == pytest.approx(2)
    assert rows["vector=0.5"].share == pytest.approx(0.6)
    assert report.verdict.stage == "rerank"
    assert report.verdict.lines[0] == (
        "optimise this next: rerank — twice as fast saves 20 ms at p50 (-20%), 20 ms at "
        "p95 (40% of turn time on the critical path)"
    )
    assert report.verdict.lines[1].startswith("not vector, though it has the largest share (60%)")


def test_a_stage_wrapping_other_stages_is_never_the_verdict(mk: Mk) -> None:
    # an agent step (a stage) holds the tool call (a stage): halving the step halves the
    # tool too, so its saving is the tool's; the verdict names the tool, the table marks it
    spans = []
    for i in range(10):
        t = f"t{i}"
        spans += [
            mk("turn", None, 0, 100, turn=True, trace=t),
            mk("s", "turn", 0, 90, stage="agent.step", trace=t),
            mk("k", "s", 1, 89, stage="lookup", trace=t),
            mk("g", "turn", 90, 100, stage="generate", trace=t),
        ]
    report = analyze(spans)
    rows = {w.stage: w for w in report.what_if}
    assert rows["agent.step"].contains_stages
    assert rows["agent.step"].saving_p50_ms > rows["lookup"].saving_p50_ms
    assert not rows["lookup"].contains_stages
    assert report.verdict.stage == "lookup"
    assert report.to_dict()["what_if"][0]["contains_stages"] is True


def test_missed_parallelism_is_suggested(mk: Mk) -> None:
    spans = []
    for i in range(20):
        t = f"t{i}"
        spans += [
            mk("turn", None, 0, 100, turn=True, trace=t),
            mk("v", "turn", 0, 40, stage="vector", trace=t),
            mk("b", "turn", 40, 70, stage="bm25", trace=t),
            mk("r", "turn", 70, 100, stage="rerank", trace=t),
        ]
    for s in spans:
        if s.stage in ("vector", "bm25"):
            s.stage_kind = "retrieval"
    report = analyze(spans)
    [line] = report.suggestions
    assert "parallel" in line
    assert "vector and bm25" in line
    assert "30 ms at p50 (30%)" in line
    assert "--what-if parallel:vector,bm25" in line
    data = json.loads(json.dumps(report.to_dict()))
    assert data["suggestions"] == [line]
    [row] = [w for w in data["what_if"] if w["change"] == "parallel:vector,bm25"] or [None]
    assert row is None  # a suggestion's change is in the table only when asked for
    asked = analyze(spans, what_if=[parse_change("parallel:vector,bm25")])
    [row] = [w for w in asked.to_dict()["what_if"] if w["change"] == "parallel:vector,bm25"]
    assert row["saving"]["p50_ms"] == pytest.approx(30)


def test_the_json_contract(mk: Mk) -> None:
    spans = [
        mk("turn", None, 0, 100, turn=True),
        mk("r", "turn", 0, 60, stage="rerank"),
        mk("g", "turn", 60, 100, stage="generate", first_chunk_ms=70),
    ]
    data = analyze(spans, what_if=[parse_change("rerank=-40ms")]).to_dict()
    rows = {w["change"]: w for w in data["what_if"]}
    assert set(rows) == {"rerank=0.5", "generate=0.5", "rerank=-40ms"}
    row = rows["rerank=0.5"]
    assert row["turn"] == {"p50_ms": 70.0, "p95_ms": 70.0}
    assert row["first_token"] == {"p50_ms": 40.0, "p95_ms": 40.0}
    assert row["saving"]["p50_ms"] == 30.0
    assert row["saving"]["p95_ms"] == 30.0
    assert rows["rerank=-40ms"]["turn"]["p50_ms"] == 60.0
    assert data["suggestions"] == []
    assert data["verdict"]["saving"]["change"] == "rerank=0.5"


def test_no_first_token_is_null(mk: Mk) -> None:
    spans = [mk("turn", None, 0, 10, turn=True), mk("r", "turn", 0, 6, stage="rerank")]
    [row] = analyze(spans).to_dict()["what_if"]
    assert row["first_token"] is None


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("rerankk=0.5", "unknown stage 'rerankk'; known stages: bm25, rerank, vector"),
        ("parallel:vector,rerank", "never siblings"),
    ],
)
def test_changes_the_traces_cannot_answer(mk: Mk, change: str, says: str) -> None:
    spans = [
        mk("turn", None, 0, 100, turn=True),
        mk("ret", "turn", 0, 40, name="retrieve"),
        mk("v", "ret", 0, 40, stage="vector"),
        mk("b", "ret", 0, 25, stage="bm25"),
        mk("r", "turn", 40, 75, stage="rerank"),
    ]
    with pytest.raises(InputError, match=says):
        analyze(spans, what_if=[parse_change(change)])


# --- the command line and the multi-process route -----------------------------------------


def sequential_retrieval(mk: Mk, n: int) -> list[Span]:
    """`n` turns: vector then bm25 one after the other (retrievals), rerank, a streamed
    generation; timestamps after 0 (a 0 in a file means "none")."""
    spans = []
    for i in range(n):
        t = f"{i + 1:032x}"
        v = 30 + i % 7
        spans += [
            mk("a0", None, 1, 151, turn=True, trace=t),
            mk("a1", "a0", 1, 1 + v, stage="vector", trace=t),
            mk("a2", "a0", 1 + v, 26 + v, stage="bm25", trace=t),
            mk("a3", "a0", 26 + v, 111, stage="rerank", trace=t),
            mk("a4", "a0", 111, 151, stage="generate", first_chunk_ms=121 + i % 5, trace=t),
        ]
    for s in spans:
        s.stage_kind = {"vector": "retrieval", "bm25": "retrieval"}.get(s.stage or "")
    return spans


def test_merged_predictions_keep_a_pair_seen_in_another_order(mk: Mk) -> None:
    """A pair first seen as (embed, bm25) in one chunk and (bm25, embed) in the other is one
    ``parallel:`` change after the merge: its suggestion is the whole input's."""
    from rag_otel.analysis.critical_path import attribute, shares

    spans = []
    for t in range(6):
        o = 1000 * t
        first, second = ("embed", "bm25") if t < 3 else ("bm25", "embed")
        spans += [
            mk(f"t{t}", None, o, o + 100, turn=True),
            mk(f"a{t}", f"t{t}", o, o + 30 + t, stage=first),
            mk(f"b{t}", f"t{t}", o + 30 + t, o + 60, stage=second),
            mk(f"g{t}", f"t{t}", o + 60, o + 100, stage="generate"),
        ]
    for span in spans:
        span.stage_kind = {"embed": "embedding", "bm25": "retrieval"}.get(span.stage or "")
    turns = build_trace(spans, diagnostics=Diagnostics()).turns
    durations = [turn.duration_ns for turn in turns]
    shared = shares(attribute(turn) for turn in turns)
    whole, one, other = Predictions(), Predictions(), Predictions()
    for i, turn in enumerate(turns):
        whole.add(turn, i)
        (one if i < 3 else other).add(turn, i if i < 3 else i - 3)
    one.merge(other, 3, 0)
    assert one.results(durations, [], shared) == whole.results(durations, [], shared)
    assert len(whole.results(durations, [], shared)[1]) == 1


def test_the_multi_process_route_merges_predictions(
    otlp_file: Callable[[str, list[Span]], Path], mk: Mk
) -> None:
    from rag_otel.analysis.parallel import Settings, analyze_files
    from rag_otel.analysis.pipeline import analyze_sources

    path = otlp_file("seq.jsonl", sequential_retrieval(mk, 400))
    asked = [parse_change("parallel:vector,bm25"), parse_change("rerank=-10ms+vector=0.5")]
    one = analyze_sources([str(path)], workers=1, what_if=asked)
    many = analyze_files(
        [str(path)],
        Settings(what_if=tuple(asked)),
        diagnostics=Diagnostics(),
        workers=3,
        min_bytes_per_worker=1,
    )
    assert many is not None
    assert one.what_if == many.what_if
    assert one.suggestions == many.suggestions
    assert len(one.suggestions) == 1
    assert {w.change for w in one.what_if} >= {"parallel:vector,bm25", "rerank=-10ms+vector=0.5"}


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("rerankk=0.5", "unknown stage 'rerankk'; known stages: bm25, generate, rerank, vector"),
        ("rerank:0.5", "accepted forms: STAGE=FACTOR"),
        ("rerank=-2", "negative factor"),
        ("parallel:vector,generate", "never siblings"),
    ],
)
def test_the_cli_exits_2_with_one_line(
    otlp_file: Callable[[str, list[Span]], Path],
    mk: Mk,
    capsys: pytest.CaptureFixture[str],
    change: str,
    says: str,
) -> None:
    from rag_otel.cli import main

    spans = sequential_retrieval(mk, 3)
    for s in spans:
        if s.stage == "generate":
            s.parent_id = "a3"  # generate inside rerank: not a sibling of vector
    path = otlp_file("seq.jsonl", spans)
    assert main(["analyze", str(path), "--what-if", change]) == 2
    err = capsys.readouterr().err
    assert says in err
    assert err.count("\n") == 1


def test_the_cli_table_json_csv_and_markdown_carry_it(
    otlp_file: Callable[[str, list[Span]], Path], mk: Mk, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag_otel.cli import main

    path = otlp_file("seq.jsonl", sequential_retrieval(mk, 30))
    args = ["analyze", str(path), "--what-if", "parallel:vector,bm25", "--what-if", "bm25=0"]
    assert main([*args, "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    changes = [w["change"] for w in doc["what_if"]]
    assert changes[-2:] == ["parallel:vector,bm25", "bm25=0"]
    assert "parallel" in doc["suggestions"][0]
    assert main([*args, "--format", "csv"]) == 0
    assert '"what if: parallel:vector,bm25",what-if,' in capsys.readouterr().out
    assert main([*args, "--format", "markdown"]) == 0
    md = capsys.readouterr().out
    assert "## What if" in md
    assert "| parallel:vector,bm25 |" in md
    assert main(args) == 0
    table = capsys.readouterr().out
    assert "what if: turn and first-token times predicted" in table
    assert "consider running vector and bm25 in parallel" in table


def test_prometheus_says_what_if_needs_trees(capsys: pytest.CaptureFixture[str]) -> None:
    from rag_otel.analysis.prometheus import NO_WHAT_IF_LINE
    from rag_otel.cli import main

    assert main(["analyze", "prometheus+http://127.0.0.1:9/", "--what-if", "rerank=0.5"]) == 2
    assert "--what-if needs trace trees" in capsys.readouterr().err
    assert "\n" not in NO_WHAT_IF_LINE


@st.composite
def flat_turns(draw: st.DrawFn) -> list[Span]:
    """A turn of leaf stages, some in levels (each waits for all of the one before)."""
    spans = [Span("t", "turn", None, "rag.turn", MS, 2000 * MS, is_turn=True)]
    at = 1 + draw(st.integers(0, 5))
    for level in range(draw(st.integers(1, 4))):
        width = draw(st.integers(1, 3))
        ends = []
        for k in range(width):
            start = at + draw(st.integers(0, 3)) * (k > 0)
            end = start + draw(st.integers(0, 60))
            ends.append(end)
            name = f"s{level}{k}"
            spans.append(Span("t", name, "turn", name, start * MS, end * MS, stage=name))
        at = max(ends) + draw(st.integers(0, 4))
    spans[0].end_ns = (at + draw(st.integers(0, 5))) * MS
    return spans


@settings(max_examples=300, deadline=None)
@given(st.one_of(flat_turns(), trees()), st.floats(0, 2), st.data())
def test_the_shortcuts_agree_with_the_full_re_lay(
    spans: list[Span], factor: float, data: st.DataObject
) -> None:
    from rag_otel.analysis.whatif import Plan, faster, parallel

    turn = one_turn(spans)
    plan = Plan(turn)
    stages = sorted(turn.stages)
    for stage, duration, first in plan.each_faster(factor):
        assert (duration, first) == pytest.approx(plan.relay(faster(stage, factor)), abs=1)
    # zero-length spans included: spans that start at one instant never wait for each
    # other, whichever is listed first
    if len(stages) >= 2:
        pair = tuple(data.draw(st.permutations(stages))[:2])
        change = parallel(pair)  # type: ignore[arg-type]
        assert plan.predict(change) == pytest.approx(plan.relay(change), abs=1)


LEAVES = (("embed", "embedding"), ("vector", "retrieval"), ("bm25", "retrieval"))
LEAVES += (("rerank", "rerank"), (None, None))


@st.composite
def leaf_turns(draw: st.DrawFn, n: int) -> list[Span]:
    """A trace of `n` turns of leaf children (the common shape), on a coarse grid so that
    children often start together, end as others start, or break the levels, with the
    odd repeated stage, FOLLOWS_FROM child, nested child or streamed chunk."""
    spans = []
    for t in range(n):
        turn = f"t{t}"
        kids = []
        for k in range(draw(st.integers(1, 5))):
            stage, kind = draw(st.sampled_from(LEAVES))
            a = draw(st.integers(0, 8))
            b = a + draw(st.integers(0, 4))
            kid = _child(t, k, a, b, stage, kind)
            kid.follows_from = draw(st.integers(0, 9)) == 0
            kids.append(kid)
        end = max(k.end_ns or 0 for k in kids) + draw(st.integers(0, 2)) * MS
        spans.append(Span("t", turn, None, "rag.turn", 1000 * t * MS, end, is_turn=True))
        spans += kids
        if draw(st.integers(0, 9)) == 0:  # a nested child
            parent = kids[0]
            assert parent.start_ns is not None
            spans.append(
                Span("t", f"{turn}.in", parent.span_id, "x", parent.start_ns, parent.start_ns)
            )
        for kid in kids:  # streamed chunks
            if draw(st.integers(0, 3)) == 0:
                assert kid.start_ns is not None
                kid.first_chunk_ns = kid.start_ns + draw(st.integers(-1, 5)) * MS
    return spans


def _child(t: int, k: int, a: int, b: int, stage: str | None, kind: str | None) -> Span:
    """Child `k` of turn `t` (span ``t{t}``), from ms `a` to `b` of its turn's second."""
    turn = f"t{t}"
    start, end = (1000 * t + a) * MS, (1000 * t + b) * MS
    return Span("t", f"{turn}.{k}", turn, "x", start, end, stage=stage, stage_kind=kind)


@st.composite
def same_shape_turns(draw: st.DrawFn, n: int) -> list[Span]:
    """A trace of `n` turns with the same children (stage, kind, order), at random times
    on a coarse grid: the shape's levels are learned from one turn (`Layout`) and most
    of the others hold them, some not (ties, zero-length children, a child ending as
    the next starts, levels that break), maybe one child streamed."""
    stages = draw(st.lists(st.sampled_from(LEAVES[:4]), min_size=2, max_size=4, unique=True))
    streamed = draw(st.integers(-1, len(stages) - 1))
    spans = []
    for t in range(n):
        turn = f"t{t}"
        kids = []
        at = 0
        for k, (stage, kind) in enumerate(stages):
            a = at + draw(st.integers(-2, 2)) if k else draw(st.integers(0, 2))
            a = max(a, 0)
            b = a + draw(st.integers(0, 4))
            at = b if draw(st.integers(0, 3)) else at  # mostly after the one before
            kid = _child(t, k, a, b, stage, kind)
            if k == streamed and draw(st.integers(0, 4)):
                kid.first_chunk_ns = (1000 * t + a + draw(st.integers(-1, 5))) * MS
            kids.append(kid)
        end = max(k.end_ns or 0 for k in kids) + draw(st.integers(0, 2)) * MS
        spans.append(Span("t", turn, None, "rag.turn", 1000 * t * MS, end, is_turn=True))
        spans += kids
    return spans


def test_turns_of_one_shape_are_worked_out_by_column(mk: Mk) -> None:
    """The second turn on of a shape is kept as times and worked out a column at a time
    (`Layout`), to the same answers as the plan's."""
    spans = []
    for t in range(3):
        o = 1000 * t
        kids = [
            mk(f"e{t}", f"turn{t}", o, o + 10 + t, stage="embed"),
            mk(f"v{t}", f"turn{t}", o + 10 + t, o + 50, stage="vector"),
            mk(f"b{t}", f"turn{t}", o + 10 + t, o + 35, stage="bm25"),
            mk(f"g{t}", f"turn{t}", o + 50, o + 100, stage="generate", first_chunk_ms=o + 70),
        ]
        for kid, kind in zip(kids, ("embedding", "retrieval", "retrieval", None), strict=True):
            kid.stage_kind = kind
        spans += [mk(f"turn{t}", None, o, o + 100, turn=True), *kids]
    predictions = Predictions()
    compare_with_the_plan(spans, predictions)
    [shape] = [s for s in predictions._shapes.values() if s is not None]
    assert shape.layout is not None
    assert [len(kids) for kids in shape.layout.levels] == [1, 2, 1]
    assert sum(len(rows) for rows in shape.rows.values()) == 2 * (2 + 2 * 4 + 2)


def test_a_level_too_wide_for_a_layout_is_worked_out_turn_by_turn(mk: Mk) -> None:
    """A level of more children than `WIDEST_LEVEL` learns no layout (its checks would grow
    with the square of its width): its turns are worked out one by one, as the plan does."""
    width = WIDEST_LEVEL + 4
    spans = []
    for t in range(3):
        o = 1000 * t
        kids = [  # one level: each starts after the first, before any has ended
            mk(f"k{t}.{k}", f"turn{t}", o + k, o + 100 + k, stage=f"s{k}") for k in range(width)
        ]
        spans += [mk(f"turn{t}", None, o, o + 200, turn=True), *kids]
    predictions = Predictions()
    compare_with_the_plan(spans, predictions)
    [shape] = [s for s in predictions._shapes.values() if s is not None]
    assert shape.layout is None
    assert not shape.rows
    assert len(shape.turn) == 3 * shape.width


@settings(max_examples=300, deadline=None)
@given(same_shape_turns(8))
def test_turns_of_one_shape_answer_as_the_plan_does(spans: list[Span]) -> None:
    compare_with_the_plan(spans)


@settings(max_examples=200, deadline=None)
@given(same_shape_turns(3), st.data())
def test_the_compiled_checks_are_the_checks(spans: list[Span], data: st.DataObject) -> None:
    """`Layout.holds` (compiled) answers as `Layout.holds_slowly` (the checks as data), on
    rows near the turns' own; so does a pickled layout's (compiled again: a worker's
    analyzer is pickled back to the parent)."""
    predictions = Predictions()
    turns = build_trace(spans, diagnostics=Diagnostics()).turns
    for i, turn in enumerate(turns):
        predictions.add(turn, i)
    for shape in predictions._shapes.values():
        if shape is None or shape.layout is None:
            continue
        width = 2 + 2 * (shape.width - len(shape.pairs) - 1)
        copied = pickle.loads(pickle.dumps(shape.layout))
        for _ in range(10):
            row = data.draw(st.lists(st.integers(-1, 12), min_size=width, max_size=width))
            row = [0, *sorted(row[1:])] if data.draw(st.booleans()) else row
            assert shape.layout.holds(row) == shape.layout.holds_slowly(row)
            assert copied.holds(row) == shape.layout.holds_slowly(row)


@settings(max_examples=300, deadline=None)
@given(leaf_turns(6))
def test_the_default_without_a_plan_answers_as_the_plan_does(spans: list[Span]) -> None:
    compare_with_the_plan(spans)


def compare_with_the_plan(spans: list[Span], leaves: Predictions | None = None) -> None:
    """The leaf route (`_add_leaves`, per turn or by column) and the plan's give every
    turn the same predictions, pairs and report rows."""
    from rag_otel.analysis.critical_path import attribute, shares

    class ViaPlan(Predictions):
        def _add_leaves(
            self, turn: Turn, at: int, first_token_at: int | None, first: int | None
        ) -> bool:
            return False

    turns = build_trace(spans, diagnostics=Diagnostics()).turns
    durations = [turn.duration_ns for turn in turns]
    first_tokens = [ns for turn in turns if (ns := first_token_ns(turn)) is not None]
    shared = shares(attribute(turn) for turn in turns)
    results = []
    for predictions in (leaves or Predictions(), ViaPlan()):
        at = 0
        for i, turn in enumerate(turns):
            first = first_token_ns(turn)
            predictions.add(turn, i, None if first is None else (at, first))
            at += first is not None
        kept = predicted(predictions, durations, first_tokens)
        order = {key: change.parallel[0] for key, change in predictions._pair_change.items()}
        pairs = (predictions._pairs, order)
        results.append((predictions.results(durations, first_tokens, shared), kept, pairs))
    assert results[0] == results[1]


def predicted(
    predictions: Predictions, durations: list[int], first_tokens: list[int]
) -> dict[str, tuple[dict[int, int], dict[int, int]]]:
    """Every turn's prediction, not only the percentiles: per change text, (turn number ->
    predicted duration, number among the times to first token -> predicted time), those
    that differ from the measurement, however they are kept."""
    columns = predictions._columns()
    out = {}
    for text in {*columns, *predictions._kept, *predictions._asked}:
        turns: dict[int, int] = {}
        firsts: dict[int, int] = {}
        kept = (*columns.get(text, ()), predictions._kept.get(text), predictions._asked.get(text))
        for k in kept:
            if k is not None:
                turns.update(zip(k.turn_at, k.turn, strict=True))
                firsts.update(zip(k.first_token_at, k.first_token, strict=True))
        turns = {i: ns for i, ns in turns.items() if ns != durations[i]}
        firsts = {i: ns for i, ns in firsts.items() if ns != first_tokens[i]}
        if turns or firsts:
            out[text] = (turns, firsts)
    return out

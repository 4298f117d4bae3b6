from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag_otel.analysis.critical_path import (
    Attribution,
    Orders,
    attribute,
    attribute_first_token,
    attribute_turn,
)
from rag_otel.analysis.model import Diagnostics, Span
from rag_otel.analysis.report import Analyzer, analyze
from rag_otel.analysis.traces import Trace, Turn, _build_walked, build_trace, group_traces

Mk = Callable[..., Span]
MS = 1_000_000


def test_orphans_duplicates_and_missing_timestamps_are_counted(mk: Mk) -> None:
    d = Diagnostics()
    spans = [
        mk("turn", None, 0, 100, turn=True),
        mk("e", "turn", 0, 10, stage="embed"),
        mk("e", "turn", 0, 10, stage="embed"),  # duplicate
        mk("o", "missing", 20, 30, stage="rerank"),  # orphan: parent not in the trace
        mk("x", "turn", None, None, stage="generate"),  # no timestamps
    ]
    trace = build_trace(spans, diagnostics=d)
    assert d.counts["duplicate-span-id"] == 1
    assert d.counts["orphan-span"] == 1
    assert d.counts["stage-outside-turn"] == 1
    assert d.counts["untimed-stage"] == 1
    assert len(trace.turns) == 1
    by_stage = {
        stage: (duration, turn) for stage, duration, _err, turn, _off in trace.stage_samples()
    }
    assert by_stage["rerank"] == (10_000_000, None)  # sampled, outside any turn
    assert by_stage["generate"] == (None, 0)  # in turn 0, not timed


@pytest.mark.timeout(10)
def test_cycles_in_parent_links_do_not_hang(mk: Mk) -> None:
    d = Diagnostics()
    spans = [
        mk("turn", None, 0, 100, turn=True),
        mk("a", "b", 10, 20, stage="a"),
        mk("b", "c", 10, 30, stage="b"),
        mk("c", "a", 5, 40, stage="c"),
        mk("self", "self", 1, 2, stage="s"),
    ]
    report = analyze(spans, diagnostics=d)
    assert d.counts["parent-cycle"] == 2
    assert {s.name for s in report.stages} == {"a", "b", "c", "s"}
    assert report.turn.count == 1


def test_incomplete_turn_is_counted_and_not_attributed(mk: Mk) -> None:
    d = Diagnostics()
    spans = [
        mk("turn", None, 0, None, turn=True),
        mk("g", "turn", 0, 10, stage="generate"),
    ]
    report = analyze(spans, diagnostics=d)
    assert d.counts["incomplete-turn"] == 1
    assert report.turn.count == 1
    assert report.turn.timed == 0
    assert report.attribution.overall.turns == 0
    [gen] = report.stages
    assert gen.count == 1
    assert gen.timed == 1
    assert d.counts.get("stage-outside-turn", 0) == 0


def test_traces_without_a_turn_span_use_their_roots(mk: Mk) -> None:
    d = Diagnostics()
    spans = [
        mk("root", None, 0, 50, name="GET /ask", trace="a"),
        mk("db", "root", 10, 40, name="SELECT", trace="a"),
    ]
    report = analyze(spans, diagnostics=d)
    assert d.counts["turn-from-root"] == 1
    assert report.turn.timed == 1
    assert report.stages == []
    every = analyze(spans, all_spans=True, diagnostics=Diagnostics())
    assert [s.name for s in every.stages] == ["SELECT"]
    assert every.attribution.overall.stages["SELECT"] == pytest.approx(30 / 50)


def test_group_traces_streams_with_a_bounded_window(mk: Mk) -> None:
    consumed = 0

    def source() -> Iterator[Span]:
        nonlocal consumed
        for t in range(20_000):
            for span in (
                mk("s", "r", 0, 1, stage="embed", trace=f"t{t}"),
                mk("r", None, 0, 2, turn=True, trace=f"t{t}"),
            ):
                consumed += 1
                yield span

    d = Diagnostics()
    held_back = 0  # spans read but not yet yielded: what the grouping keeps in memory
    yielded = 0
    for group, late in group_traces(source(), d, idle_window=1000):
        assert not late
        assert len(group) == 2
        yielded += len(group)
        held_back = max(held_back, consumed - yielded)
    assert yielded == 40_000
    assert held_back <= 1000 + 2 * 4096  # the window plus one eviction period
    assert not d


def test_late_spans_are_counted_and_sampled(mk: Mk) -> None:
    spans = [mk("r", None, 0, 10, turn=True, trace="late")]
    spans += [mk("s", "r", 0, 1, stage="x", trace=f"other{i}") for i in range(10_000)]
    spans.append(mk("g", "r", 1, 9, stage="generate", trace="late"))
    d = Diagnostics()
    groups = list(group_traces(iter(spans), d, idle_window=100))
    assert d.counts["late-span"] == 1
    assert [late for g, late in groups if g[0].trace_id == "late"] == [False, True]
    report = analyze(iter(spans), diagnostics=Diagnostics())  # default window: not late
    assert report.diagnostics.counts.get("late-span", 0) == 0


def test_nested_turns_are_each_analysed(mk: Mk) -> None:
    d = Diagnostics()
    spans = [
        mk("outer", None, 0, 100, turn=True),
        mk("inner", "outer", 10, 60, turn=True),
        mk("g", "inner", 20, 50, stage="generate"),
    ]
    report = analyze(spans, diagnostics=d)
    assert d.counts["nested-turn"] == 1
    assert report.turn.timed == 2
    [gen] = report.stages
    assert gen.count == 1


def test_parallel_analysis_equals_sequential(
    otlp_file: Callable[[str, list[Span]], Path], make_pipeline: Callable[..., list[Span]], mk: Mk
) -> None:
    from rag_otel.analysis.parallel import Settings, analyze_files
    from rag_otel.analysis.renderers import render

    # many small traces, plus one whose spans sit on both sides of a cut
    spans = make_pipeline(600, seed=9)
    straddle = [mk("r", None, 1000, 1030, turn=True, trace="f" * 32)]
    straddle += [
        mk(f"{i}", "r", 1000 + i, 1005 + i, stage="rerank", trace="f" * 32) for i in range(4)
    ]
    spans = spans[:2000] + straddle[1:] + spans[2000:] + straddle[:1]
    path = otlp_file("spans.jsonl", spans)
    d = Diagnostics()
    par = analyze_files([str(path)], Settings(), diagnostics=d, workers=3, min_bytes_per_worker=1)
    assert par is not None
    seq = analyze_files([str(path)], Settings(), diagnostics=Diagnostics(), workers=1)
    assert seq is None  # one worker: the caller reads sequentially
    from rag_otel.analysis.readers import read_spans

    d2 = Diagnostics()
    seq = analyze(read_spans(str(path), diagnostics=d2), diagnostics=d2, sources=[str(path)])
    assert render(par, "json") == render(seq, "json")
    assert par.turn.count == 601
    assert not d


def test_parallel_declines_what_it_cannot_split(tmp_path: Path) -> None:
    from rag_otel.analysis.parallel import Settings, analyze_files

    doc = tmp_path / "one.json"
    doc.write_text('{"resourceSpans": []}')
    gz = tmp_path / "x.jsonl.gz"
    gz.write_bytes(b"\x1f\x8b" + b"\0" * 100)
    for p in (doc, gz):
        assert (
            analyze_files([str(p)], Settings(), diagnostics=Diagnostics(), min_bytes_per_worker=1)
            is None
        )


# --- the flat-turn route (`traces._flat_trace`) against the walk, on generated turns ---------


@st.composite
def mostly_flat_turns(draw: st.DrawFn) -> list[Span]:
    """One turn of leaf stages, as rag-otel writes them, now and then off that shape: a
    nested, untimed, skewed, repeated or turn-marked child, a root that is no turn."""
    shaped = draw(st.booleans())  # half of the examples keep to the shape

    def off() -> bool:  # in the others, each departure from it in about 1 draw of 15
        return not shaped and draw(st.integers(0, 14)) == 0

    t0 = draw(st.integers(0, 50))
    t1 = t0 + draw(st.integers(0, 100))
    root = Span(
        "t", "root", "gone" if off() else None, "rag.turn", t0 * MS, None if off() else t1 * MS,
        is_turn=not off(),
        first_chunk_ns=draw(st.none() | st.integers(t0 - 5, t1 + 5)) if off() else None,
    )  # fmt: skip
    spans = []
    after = t0  # children one after the other at times, as a pipeline's stages run
    for i in range(draw(st.integers(0, 8))):
        start = draw(st.sampled_from([after, draw(st.integers(t0, t1))]))
        start = draw(st.integers(t0 - 5, t1)) if off() else min(start, t1)
        end = draw(st.integers(start, t1 + 5)) if off() else draw(st.integers(start, t1))
        after = end
        stream = draw(st.integers(0, 2)) == 0
        spans.append(
            Span(
                "t",
                f"s{i - 1}" if i and off() else f"s{i}",
                f"s{i - 1}" if i and off() else "root",
                f"op{i % 3}",
                None if off() else start * MS,
                end * MS,
                stage=draw(st.none() | st.sampled_from(["embed", "search", "generate"])),
                is_turn=off(),
                error=draw(st.booleans()),
                follows_from=off(),
                first_chunk_ns=draw(st.integers(start, end + 2)) * MS if stream else None,
            )
        )
    spans.insert(draw(st.integers(0, len(spans))), root)
    return spans


def _plain(trace: Trace) -> tuple[object, ...]:
    """A trace's content in order (its sets and dicts as lists), `Turn.flat` left out."""
    turns = [(t.span, t.root, list(t.stages), t.source, t.first_chunks) for t in trace.turns]
    return (
        turns,
        trace.stage_samples(),
        trace.incomplete_turns,
        list(trace.stage_first_spans().items()),
    )


def _in_order(plain: Attribution, first: Attribution | None) -> tuple[object, ...]:
    """Both attributions of a turn, with the order their charges were made in."""
    return plain, list(plain.charges.items()), first, first and list(first.charges.items())


def _attributions(turn: Turn) -> tuple[object, ...]:
    orders: Orders = {}
    return _in_order(attribute(turn, orders), attribute_first_token(turn, orders))


def _analysed(trace: Trace) -> tuple[object, ...]:
    """What the `Analyzer` makes of a trace (it reads a flat trace's samples from its tree)."""
    analyzer = Analyzer(default_what_if=False)
    analyzer.add(trace)
    report = analyzer.report()
    return report.to_dict(), {name: list(values) for name, values in report.samples.items()}


@settings(max_examples=400, deadline=None)
@given(mostly_flat_turns(), st.booleans())
def test_flat_route_builds_and_attributes_what_the_walk_does(
    spans: list[Span], all_spans: bool
) -> None:
    fast_diagnostics, walk_diagnostics = Diagnostics(), Diagnostics()
    fast = build_trace(spans, all_spans=all_spans, diagnostics=fast_diagnostics)
    walked = _build_walked(spans, all_spans, walk_diagnostics, False)
    assert _plain(fast) == _plain(walked)
    assert fast_diagnostics == walk_diagnostics
    assert _analysed(fast) == _analysed(walked)
    for fast_turn, walked_turn in zip(fast.turns, walked.turns, strict=True):
        assert not walked_turn.flat
        walked_attributions = _attributions(walked_turn)
        assert _attributions(fast_turn) == walked_attributions
        assert _in_order(*attribute_turn(fast_turn)) == walked_attributions
        assert _in_order(*attribute_turn(walked_turn)) == walked_attributions


def test_pipeline_turns_take_the_flat_route(make_pipeline: Callable[..., list[Span]]) -> None:
    # the property test above compares the routes only where the fast one is taken
    d = Diagnostics()
    turns = [
        turn
        for group, _late in group_traces(make_pipeline(20, first_chunk=0.3), d)
        for turn in build_trace(group, diagnostics=d).turns
    ]
    assert len(turns) == 20
    assert all(turn.flat for turn in turns)

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rag_otel.analysis.critical_path import (
    Attribution,
    attribute,
    critical_path,
    shares,
    turns_near,
)
from rag_otel.analysis.model import Diagnostics, Span
from rag_otel.analysis.traces import build_trace

MS = 1_000_000
Mk = Callable[..., Span]


def attribute_all(spans: list[Span], diagnostics: Diagnostics | None = None) -> list[Attribution]:
    d = diagnostics if diagnostics is not None else Diagnostics()
    return [attribute(t) for t in build_trace(spans, diagnostics=d).turns]


def ms(a: Attribution) -> dict[str, float]:
    out = {k: v / MS for k, v in a.charges.items()}
    out["(untraced)"] = a.remainder_ns / MS
    return out


def test_parallel_stages_are_not_double_charged(mk: Mk) -> None:
    # Two 10 ms stages overlapping under a 12 ms turn: only 12 ms exist to hand out.
    spans = [
        mk("turn", None, 0, 12, turn=True),
        mk("v", "turn", 1, 11, stage="vector"),
        mk("b", "turn", 0, 10, stage="bm25"),
    ]
    [a] = attribute_all(spans)
    assert ms(a) == pytest.approx({"vector": 10, "bm25": 1, "(untraced)": 1})
    s = shares([a])
    assert sum(s.stages.values()) + s.remainder == pytest.approx(1.0)
    # the one that ended last is on the path for the whole overlap
    assert s.stages["vector"] == pytest.approx(10 / 12)


def test_critical_path_lists_every_node_on_it_leaves_included(mk: Mk) -> None:
    # what the HTML waterfall highlights: the turn, then each span on the path with the
    # interval it is on it (leaf stages too, which the charging loop handles inline)
    spans = [
        mk("turn", None, 0, 12, turn=True),
        mk("v", "turn", 1, 11, stage="vector"),
        mk("b", "turn", 0, 10, stage="bm25"),
        mk("x", "turn", 11, 12),  # a leaf that is no stage
    ]
    [turn] = build_trace(spans, diagnostics=Diagnostics()).turns
    path = [(node.span.span_id, lo // MS, hi // MS) for node, lo, hi in critical_path(turn)]
    assert path == [("turn", 0, 12), ("b", 0, 1), ("v", 1, 11), ("x", 11, 12)]


def test_longer_parallel_child_takes_the_overlap(mk: Mk) -> None:
    spans = [
        mk("turn", None, 0, 12, turn=True),
        mk("v", "turn", 1, 11, stage="vector"),  # 10 ms
        mk("b", "turn", 0, 6, stage="bm25"),  # 6 ms, overlaps [1, 6]
    ]
    [a] = attribute_all(spans)
    assert ms(a) == pytest.approx({"vector": 10, "bm25": 1, "(untraced)": 1})


def test_nested_child_gets_its_own_time(mk: Mk) -> None:
    spans = [
        mk("turn", None, 0, 100, turn=True),
        mk("r", "turn", 10, 60, stage="retrieve.vector"),
        mk("q", "r", 20, 50, stage="chroma.query"),
        mk("g", "turn", 60, 95, stage="generate"),
    ]
    [a] = attribute_all(spans)
    assert ms(a) == pytest.approx(
        {"retrieve.vector": 20, "chroma.query": 30, "generate": 35, "(untraced)": 15}
    )


def test_non_stage_spans_pass_time_to_their_stage(mk: Mk) -> None:
    spans = [
        mk("turn", None, 0, 50, turn=True),
        mk("g", "turn", 0, 40, stage="generate"),
        mk("http", "g", 5, 35, name="POST /v1/chat"),  # not a stage: belongs to generate
        mk("log", "turn", 40, 45, name="log"),  # not a stage under the turn: untraced
    ]
    [a] = attribute_all(spans)
    assert ms(a) == pytest.approx({"generate": 40, "(untraced)": 10})


def test_gaps_are_the_untraced_remainder(mk: Mk) -> None:
    spans = [
        mk("turn", None, 0, 100, turn=True),
        mk("e", "turn", 10, 20, stage="embed"),
        mk("g", "turn", 50, 90, stage="generate"),
    ]
    [a] = attribute_all(spans)
    assert ms(a) == pytest.approx({"embed": 10, "generate": 40, "(untraced)": 50})


def test_clock_skew_is_clipped_and_counted(mk: Mk) -> None:
    d = Diagnostics()
    spans = [
        mk("turn", None, 0, 10, turn=True),
        mk("early", "turn", -5, 4, stage="embed"),  # starts before its parent
        mk("late", "turn", 6, 30, stage="generate"),  # ends after its parent
        mk("gone", "turn", 50, 60, stage="ghost"),  # entirely outside
    ]
    [a] = attribute_all(spans, d)
    assert ms(a) == pytest.approx({"embed": 4, "generate": 4, "(untraced)": 2})
    assert d.counts["clock-skew"] == 3
    assert a.duration_ns == sum(a.charges.values()) + a.remainder_ns


def test_follows_from_child_does_not_extend_the_path(mk: Mk) -> None:
    spans = [
        mk("turn", None, 0, 20, turn=True),
        mk("g", "turn", 0, 15, stage="generate"),
        mk("f", "turn", 10, 200, stage="feedback", follows_from=True),
    ]
    [a] = attribute_all(spans)
    assert ms(a) == pytest.approx({"generate": 15, "(untraced)": 5})


def test_sequential_chain_deep_tree_does_not_recurse(mk: Mk) -> None:
    # 5000 nested stages: an iterative walk, no RecursionError
    spans = [mk("turn", None, 0, 10_000, turn=True)]
    parent = "turn"
    for i in range(5000):
        spans.append(mk(f"s{i}", parent, i, 10_000 - i, stage=f"s{i % 3}"))
        parent = f"s{i}"
    [a] = attribute_all(spans)
    assert sum(a.charges.values()) + a.remainder_ns == a.duration_ns


def test_turns_near_picks_a_band_around_the_percentile() -> None:
    durations = list(range(100, 0, -1))  # turn i has duration 100 - i
    p95 = turns_near(durations, 0.95)
    # p95 of 1..100 is 95.05: the band is the five turns around it
    assert sorted(durations[i] for i in p95) == [93, 94, 95, 96, 97]
    assert turns_near([5], 0.95) == [0]
    assert len(turns_near([1, 2, 3], 0.5)) == 1


# --- property: for any span tree the shares add up to 100% and none is negative ---------------


@st.composite
def span_trees(draw: st.DrawFn) -> list[Span]:
    n = draw(st.integers(min_value=0, max_value=25))
    stages = ["embed", "vector", "bm25", "rerank", "generate"]
    t_start = draw(st.integers(0, 50))
    t_end = t_start + draw(st.integers(1, 500))
    spans = [Span("t", "root", None, "rag.turn", t_start * MS, t_end * MS, is_turn=True)]
    for i in range(n):
        parent = draw(st.sampled_from([s.span_id for s in spans]))
        start = draw(st.integers(-50, 600))  # may lie outside the parent: clock skew
        end = start + draw(st.integers(0, 300))
        stage = draw(st.one_of(st.none(), st.sampled_from(stages)))
        ff = draw(st.booleans()) and draw(st.booleans())
        spans.append(
            Span("t", f"s{i}", parent, f"op{i}", start * MS, end * MS, stage=stage, follows_from=ff)
        )
    return spans


@settings(max_examples=300, deadline=None)
@given(span_trees())
def test_shares_add_up_to_one_and_are_never_negative(spans: list[Span]) -> None:
    atts = attribute_all(spans)
    assert len(atts) == 1
    [a] = atts
    assert all(v >= 0 for v in a.charges.values())
    assert a.remainder_ns >= 0
    assert sum(a.charges.values()) + a.remainder_ns == a.duration_ns
    s = shares(atts)
    assert all(v >= 0 for v in s.stages.values())
    assert sum(s.stages.values()) + s.remainder == pytest.approx(1.0, abs=1e-9)

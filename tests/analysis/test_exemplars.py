"""Exemplar turns: the p50/p95/p99/slowest turn kept in bounded memory, the same however fed."""

from __future__ import annotations

import random
from pathlib import Path

from rag_otel.analysis.exemplars import ExemplarPool, bucket
from rag_otel.analysis.model import Diagnostics
from rag_otel.analysis.parallel import Settings, analyze_files
from rag_otel.analysis.pipeline import analyze_sources
from rag_otel.analysis.report import Analyzer, analyze
from rag_otel.analysis.stats import percentile
from rag_otel.analysis.traces import build_trace

from .conftest import pipeline, span, to_otlp_line


def test_buckets_are_monotonic_and_about_two_percent_wide() -> None:
    previous = -1
    for d in [*range(0, 5000), *range(5000, 10**9, 99_991)]:
        b = bucket(d)
        assert b >= previous
        previous = b
    for d in range(1000, 10**10, 7_654_321):  # a bucket is at most 1/32 of an octave wide
        assert bucket(d) < bucket(int(d * 1.032) + 1)


def test_each_label_is_the_turn_nearest_its_percentile() -> None:
    spans = pipeline(2000, seed=3)
    report = analyze(spans)
    durations = sorted(report.samples["(turn)"])
    by_label = {e["label"]: e for e in report.to_dict()["exemplars"]}
    assert list(by_label) == ["p50", "p95", "p99", "max"]
    for label, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
        target = percentile(durations, q) / 1e6
        assert abs(by_label[label]["duration_ms"] - target) / target < 0.025
    assert by_label["max"]["duration_ms"] == durations[-1] / 1e6
    ids = {s.trace_id for s in spans}
    assert all(e["trace_id"] in ids for e in by_label.values())
    assert all(e.turn.span.trace_id == by_label[e.label]["trace_id"] for e in report.exemplars)


def test_memory_is_bounded_by_buckets_not_turns() -> None:
    analyzer = Analyzer()
    analyzer.feed(pipeline(20_000, seed=5))
    pool = analyzer._exemplars
    # turns span well under a decade here: a few dozen buckets, two trees each at most
    assert len(pool) < 2 * 32 * 4
    assert len(pool) < 20_000 / 50


def test_the_choice_does_not_depend_on_order_or_on_merging() -> None:
    spans = pipeline(600, seed=9)
    diagnostics = Diagnostics()
    traces: dict[str, list] = {}
    for s in spans:
        traces.setdefault(s.trace_id, []).append(s)
    groups = list(traces.values())
    whole = Analyzer()
    for g in groups:
        whole.add(build_trace(g, diagnostics=diagnostics))
    shuffled = groups[:]
    random.Random(1).shuffle(shuffled)
    parts = [Analyzer(), Analyzer(), Analyzer()]
    for i, g in enumerate(shuffled):
        parts[i % 3].add(build_trace(g, diagnostics=diagnostics))
    merged = Analyzer()
    for part in parts:
        merged.merge(part)
    a, b = whole.report().to_dict(), merged.report().to_dict()
    assert a["exemplars"] == b["exemplars"]
    assert a["time_range"] == b["time_range"]


def test_multi_process_path_picks_what_one_process_picks(tmp_path: Path) -> None:
    path = tmp_path / "spans.jsonl"
    path.write_text("".join(to_otlp_line(s) + "\n" for s in pipeline(3000, seed=4)))
    parallel = analyze_files(
        [str(path)], Settings(), diagnostics=Diagnostics(), workers=2, min_bytes_per_worker=1
    )
    assert parallel is not None  # really split
    single = analyze_sources([str(path)], workers=1)
    assert parallel.to_dict()["exemplars"] == single.to_dict()["exemplars"]
    assert len(parallel.exemplars) == 4


def test_no_turns_no_exemplars() -> None:
    pool = ExemplarPool()
    assert pool.pick(p50_ns=None, p95_ns=None, p99_ns=None) == []


def test_pools_travel_between_processes_whatever_the_depth() -> None:
    """A worker pickles its pool back to the parent: a 3000-deep span chain must survive."""
    import pickle

    from rag_otel.analysis.html import report_html

    spans = [span("r", None, 0, 10_000, turn=True)]
    for i in range(3000):
        parent = "r" if i == 0 else f"s{i - 1}"
        spans.append(span(f"s{i}", parent, i, 10_000 - i, stage=f"st{i % 5}"))
    spans.append(span("fc", "r", 5, 20, stage="generate", first_chunk_ms=7))
    analyzer = Analyzer()
    analyzer.feed(spans)
    copy = pickle.loads(pickle.dumps(analyzer))
    a, b = analyzer.report(), copy.report()
    assert a.to_dict() == b.to_dict()
    assert report_html(a) == report_html(b)  # the same trees, drawn the same
    assert len({id(e.turn) for e in b.exemplars}) == 1  # one turn, still one object

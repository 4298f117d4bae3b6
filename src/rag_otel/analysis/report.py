"""`analyze()`: spans in, a `Report` out. The library API behind ``rag-otel analyze``.

    from rag_otel.analysis.model import Diagnostics
    from rag_otel.analysis.readers import read_spans
    from rag_otel.analysis.report import analyze
    from rag_otel.analysis.renderers import render

    diagnostics = Diagnostics()
    report = analyze(read_spans("spans.jsonl", diagnostics=diagnostics), diagnostics=diagnostics)
    print(report.verdict.lines[0])
    print(render(report, "markdown"))

Spans are consumed as a stream: traces are analysed as soon as they are
complete and dropped, so memory grows with the durations kept (one integer per
stage span and a few per turn), not with the input.
"""

from __future__ import annotations

import gc
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rag_otel.analysis.critical_path import (
    BAND_HALF_WIDTH,
    AttributionLog,
    Shares,
    attribute_turn,
    rank_order,
    shares,
    turns_near,
)
from rag_otel.analysis.exemplars import Exemplar, ExemplarPool
from rag_otel.analysis.model import Diagnostics, Span
from rag_otel.analysis.predictions import Predictions, WhatIf
from rag_otel.analysis.stats import PERCENTILE_METHOD, LatencyStats, summarize
from rag_otel.analysis.traces import (
    DEFAULT_IDLE_WINDOW,
    StageSample,
    Trace,
    Turn,
    build_trace,
    group_traces,
    stage_info,
)
from rag_otel.analysis.verdict import Verdict, decide
from rag_otel.analysis.whatif import Change

TURN_ROW = "(turn)"
"""Name of the whole-turn row in tables and comparisons."""
REMAINDER_ROW = "(untraced)"
"""Name of the untraced-remainder row in attribution tables."""
FIRST_TOKEN_ROW = "(first token)"
"""Name of the time-to-first-token row: from a turn's start to its first streamed chunk."""


@dataclass(slots=True)
class Attributions:
    """Critical-path shares over all turns, over the turns near p50 and near p95."""

    overall: Shares
    at_p50: Shares
    at_p95: Shares
    band_half_width: float
    """The p50 and p95 rows are the turns ranked within this many quantile points of it."""


@dataclass(slots=True)
class Report:
    stages: list[LatencyStats]
    """Per stage, in pipeline order (mean start offset within the turn)."""
    turn: LatencyStats
    """The same statistics for whole turns."""
    attribution: Attributions
    verdict: Verdict
    diagnostics: Diagnostics
    percentile_method: str = PERCENTILE_METHOD
    sources: list[str] = field(default_factory=list)
    all_spans: bool = False
    samples: dict[str, array[int]] = field(default_factory=dict, repr=False)
    """Durations (ns) per stage, under `TURN_ROW` per turn and under `FIRST_TOKEN_ROW` the
    time to first token of each turn that has one: for `compare` and plots."""
    first_token: LatencyStats | None = None
    """Time to first token (`FIRST_TOKEN_ROW`): ``timed`` turns had a first streamed chunk,
    out of ``turns`` analysed (the others have none, and no TTFT). None: not measured
    (a source without it)."""
    first_token_attribution: Attributions | None = None
    """Critical-path shares of the time to first token (over the turns that have one)."""
    exemplars: list[Exemplar] = field(default_factory=list, repr=False)
    """The p50, p95, p99 and slowest turn, with their trees (`rag_otel.analysis.exemplars`):
    the turns the HTML report draws. Empty for a source without turn trees."""
    time_range: tuple[int, int] | None = None
    """(first turn's start, last turn's end) in ns since the epoch; None without turns."""
    sample: dict[str, int] | None = None
    """When the statistics cover all spans but the critical path, the verdict and
    first-token attribution a sample of traces (a store source: `analysis.store`):
    ``{"traces", "turns", "of_turns"}``. None: all turns were attributed."""
    what_if: list[WhatIf] = field(default_factory=list)
    """What each change would save: the default table's rows (each stage of 5% or more of
    the critical path, at least 3, twice as fast; ranked by saving), then ``--what-if``'s."""
    suggestions: list[str] = field(default_factory=list)
    """Missed parallelism: sibling stages that ran one after the other, worth trying at once."""
    what_if_note: str | None = None
    """Why there is no what-if (a source without trace trees), or None."""

    def to_dict(self) -> dict[str, Any]:
        """Everything but the raw samples, as JSON-ready values."""

        def share_dict(s: Shares) -> dict[str, Any]:
            return {
                "turns": s.turns,
                "total_ms": s.total_ns / 1e6,
                "stages": dict(s.ranked()),
                "untraced": s.remainder,
            }

        def attribution_dict(a: Attributions) -> dict[str, Any]:
            return {
                "overall": share_dict(a.overall),
                "p50_turns": share_dict(a.at_p50),
                "p95_turns": share_dict(a.at_p95),
                "band_half_width": a.band_half_width,
            }

        ft, fa = self.first_token, self.first_token_attribution
        return {
            "sources": self.sources,
            "percentile_method": self.percentile_method,
            "all_spans": self.all_spans,
            "turn": _stats_dict(self.turn),
            "first_token": None if ft is None else _stats_dict(ft),
            "stages": [_stats_dict(s) for s in self.stages],
            "critical_path": attribution_dict(self.attribution),
            "first_token_critical_path": None if fa is None else attribution_dict(fa),
            "critical_path_sample": self.sample,
            "verdict": {
                "stage": self.verdict.stage,
                "share": self.verdict.share,
                "runner_up": self.verdict.runner_up,
                "runner_up_share": self.verdict.runner_up_share,
                "p50_stage": self.verdict.p50_stage,
                "p95_stage": self.verdict.p95_stage,
                "first_token_stage": self.verdict.first_token_stage,
                "first_token_share": self.verdict.first_token_share,
                "lines": list(self.verdict.lines),
                "saving": None if self.verdict.saving is None else self.verdict.saving.to_dict(),
            },
            "what_if": [w.to_dict() for w in self.what_if],
            "suggestions": list(self.suggestions),
            "what_if_note": self.what_if_note,
            "warnings": {
                code: {"count": n, "examples": self.diagnostics.examples.get(code, [])}
                for code, n in sorted(self.diagnostics.counts.items())
            },
            "exemplars": [e.to_dict() for e in self.exemplars],
            "time_range": None if self.time_range is None else _iso_range(self.time_range),
        }


def _iso_range(span: tuple[int, int]) -> dict[str, str]:
    """The report's time range in RFC 3339 to the microsecond (`isotime.rfc3339`, cut)."""
    from rag_otel.analysis.isotime import rfc3339

    return {"start": rfc3339(span[0])[:-4] + "Z", "end": rfc3339(span[1])[:-4] + "Z"}


def _stats_dict(s: LatencyStats) -> dict[str, Any]:
    return {
        "name": s.name,
        "kind": s.kind,
        "source": s.source,
        "count": s.count,
        "turns": s.turns,
        "timed": s.timed,
        "errors": s.errors,
        "mean_ms": s.mean_ms,
        "p50_ms": s.p50_ms,
        "p90_ms": s.p90_ms,
        "p95_ms": s.p95_ms,
        "p99_ms": s.p99_ms,
        "max_ms": s.max_ms,
    }


class _StageAcc:
    """One stage's samples so far. `count`, `turns` and `offset_n` are derived from the
    durations kept (an offset needs a duration), so that a sample costs `Analyzer.add` the
    fewest updates: a duration appended, an offset added."""

    __slots__ = (
        "durations",
        "errors",
        "kind",
        "no_offset",
        "no_turn",
        "offset_sum",
        "source",
        "untimed",
    )

    def __init__(self) -> None:
        # unsigned (see `AttributionLog`): never negative, `build_trace` samples a duration
        # only when end >= start (`traces._duration`)
        self.durations: array[int] = array("Q")
        self.errors = self.offset_sum = 0
        self.no_turn = 0
        """Samples that are not their turn's first of the stage, or in no turn (`turns`)."""
        self.untimed = 0
        """Samples without a duration."""
        self.no_offset = 0
        """Samples with a duration but no start offset (outside an analysed turn)."""
        self.kind: str | None = None
        """From the first trace that had the stage (see `traces.stage_info`)."""
        self.source: str | None = None

    @property
    def count(self) -> int:
        """Samples of the stage, timed or not."""
        return len(self.durations) + self.untimed

    @property
    def turns(self) -> int:
        """Turns the stage is in: its samples but those that are not a turn's first."""
        return self.count - self.no_turn

    @property
    def offset_n(self) -> int:
        """Samples with a start offset in their turn (summed in `offset_sum`)."""
        return len(self.durations) - self.no_offset


class Analyzer:
    """Streaming accumulator: feed spans (or built traces), then ask for the `Report`."""

    def __init__(
        self,
        *,
        all_spans: bool = False,
        diagnostics: Diagnostics | None = None,
        what_if: Sequence[Change] = (),
        default_what_if: bool = True,
    ) -> None:
        """``what_if``: the changes to predict (``--what-if``); ``default_what_if``: also
        the default table (each stage twice as fast) and the missed-parallelism check."""
        self.all_spans = all_spans
        self.diagnostics = diagnostics if diagnostics is not None else Diagnostics()
        self._stages: dict[str, _StageAcc] = {}
        self._turn_durations: array[int] = array("Q")
        self._turn_count = self._turn_errors = 0
        self._turn_sources: Counter[str] = Counter()
        self._attributions = AttributionLog()
        self._first_tokens: array[int] = array("Q")
        self._first_token_errors = 0
        self._first_token_attributions = AttributionLog()
        self._exemplars = ExemplarPool()
        self._kinds_known: set[str] = set()
        """Stages whose kind and source are set (from `Trace.stage_first_spans`)."""
        self._first_ns: int | None = None
        self._last_ns: int | None = None
        self._predictions = Predictions(what_if, default=default_what_if)

    def feed(
        self,
        spans: Iterable[Span],
        *,
        idle_window: int = DEFAULT_IDLE_WINDOW,
        held: list[list[Span]] | None = None,
        hold_head: int = 0,
        hold_tail: bool = False,
    ) -> None:
        """Analyse a stream of spans (lazy readers are consumed here).

        ``held``, ``hold_head`` and ``hold_tail`` are for one chunk of a larger input: see `group_traces`.

        The cyclic garbage collector is paused meanwhile and restored after: the
        span model, trace trees and accumulators hold no reference cycles (plain
        reference counting frees them), while the collector's passes over millions
        of short-lived parse objects would double the time of a large input.
        """
        diagnostics, all_spans = self.diagnostics, self.all_spans
        with gc_paused():
            groups = group_traces(
                spans,
                diagnostics,
                idle_window=idle_window,
                held=held,
                hold_head=hold_head,
                hold_tail=hold_tail,
            )
            for group, late in groups:
                self.add(
                    build_trace(group, all_spans=all_spans, diagnostics=diagnostics, late=late)
                )

    def add(self, trace: Trace) -> None:
        """Count one built trace in: its stage samples, then each turn (its duration, both
        critical paths, exemplar, what-if predictions). Once per trace: kept lean."""
        turns = trace.turns
        if trace.flat:
            once = self._add_flat(trace)
        else:
            once = self._add_samples(trace.samples, turns)
            first_spans = trace.first_spans
            if not first_spans.keys() <= self._kinds_known:
                self._learn_kinds(first_spans)
        self._turn_count += len(turns) + len(trace.incomplete_turns)
        predictions, durations, attributions = (
            self._predictions,
            self._turn_durations,
            self._attributions,
        )
        for turn in turns:
            self._turn_sources[turn.source] += 1
            at = len(durations)
            root = turn.root
            start, end = root.start, root.end
            durations.append(end - start)
            if turn.span.error:
                self._turn_errors += 1
            if not once:
                self._count_turn(turn)
            plain, first_token = attribute_turn(turn)
            attributions.add(plain)
            self._exemplars.offer(turn)
            self._span_time(start, end)
            first = None
            if first_token is not None:  # its index among the times to first token, the time
                first = len(self._first_tokens), first_token.duration_ns
                self._first_tokens.append(first_token.duration_ns)
                self._first_token_attributions.add(first_token)
                if turn.span.error:
                    self._first_token_errors += 1
            predictions.add(turn, at, first)
        for span in trace.incomplete_turns:
            if span.error:
                self._turn_errors += 1

    def _add_samples(self, samples: list[StageSample], turns: list[Turn]) -> bool:
        """Count the stage samples of a trace in; True when they also counted each stage's
        turn (one turn whose samples are its stages, each once: mostly)."""
        stages = self._stages
        once = len(turns) == 1 and len(turns[0].stages) == len(samples)
        for name, duration, error, _turn, offset in samples:
            try:
                acc = stages[name]
            except KeyError:
                acc = stages[name] = _StageAcc()
            if duration is None:
                acc.untimed += 1  # (and so no offset)
            else:
                acc.durations.append(duration)
                if offset is None:
                    acc.no_offset += 1
                else:
                    acc.offset_sum += offset
            if error:
                acc.errors += 1
            if not once:
                acc.no_turn += 1  # (each stage's turns counted back by `_count_turn`)
        return once

    def _add_flat(self, trace: Trace) -> bool:
        """`_add_samples` of a `Trace.flat` trace (its samples are the children of its one
        turn charged to a stage, each timed and in the turn: `Trace.stage_samples`), read
        from the children when each is of another stage (mostly). tests/analysis/test_traces.py
        compares the reports of flat traces and of the same traces walked."""
        turn = trace.turns[0]
        root = turn.root
        kids = root.children
        if len(turn.stages) == len(kids):  # each child of a stage, none twice: each once
            stages = self._stages
            t0 = root.start
            for kid in kids:
                try:
                    acc = stages[kid.key]  # type: ignore[index]
                except KeyError:
                    acc = stages[kid.key] = _StageAcc()  # type: ignore[index]
                start = kid.start
                acc.durations.append(kid.end - start)
                acc.offset_sum += start - t0
                if kid.span.error:
                    acc.errors += 1
            once = True
        else:
            once = self._add_samples(trace.stage_samples(), trace.turns)
        if not turn.stages <= self._kinds_known:
            self._learn_kinds(trace.stage_first_spans())
        return once

    def _count_turn(self, turn: Turn) -> None:
        """One more turn for each stage in `turn`."""
        stages = self._stages
        for name in turn.stages:
            acc = stages.get(name)
            if acc is None:  # (build_trace samples every stage of a turn: not met)
                acc = stages[name] = _StageAcc()
            acc.no_turn -= 1

    def _learn_kinds(self, first_spans: dict[str, Span]) -> None:
        """Each stage's kind and source, from the first trace that has it."""
        for name, span in first_spans.items():
            acc = self._stages[name]
            if acc.kind is None:
                info = stage_info(span)
                acc.kind = info.kind
                acc.source = info.source
            self._kinds_known.add(name)

    def _span_time(self, start: int, end: int) -> None:
        if self._first_ns is None or start < self._first_ns:
            self._first_ns = start
        if self._last_ns is None or end > self._last_ns:
            self._last_ns = end

    def merge(self, other: Analyzer) -> None:
        """Add another analyzer's results (of other traces) to this one's."""
        for name, theirs in other._stages.items():
            acc = self._stages.get(name)
            if acc is None:
                acc = self._stages[name] = _StageAcc()
            acc.durations.extend(theirs.durations)
            acc.untimed += theirs.untimed
            acc.errors += theirs.errors
            acc.no_offset += theirs.no_offset
            acc.no_turn += theirs.no_turn
            acc.offset_sum += theirs.offset_sum
            if acc.kind is None:
                acc.kind, acc.source = theirs.kind, theirs.source
        self._turn_sources.update(other._turn_sources)
        self._predictions.merge(
            other._predictions, len(self._turn_durations), len(self._first_tokens)
        )
        self._turn_durations.extend(other._turn_durations)
        self._turn_count += other._turn_count
        self._turn_errors += other._turn_errors
        self._attributions.extend(other._attributions)
        self._first_tokens.extend(other._first_tokens)
        self._first_token_errors += other._first_token_errors
        self._first_token_attributions.extend(other._first_token_attributions)
        self._exemplars.merge(other._exemplars)
        if other._first_ns is not None and other._last_ns is not None:
            self._span_time(other._first_ns, other._last_ns)
        if other.diagnostics is not self.diagnostics:
            self.diagnostics.merge(other.diagnostics)

    def report(self, sources: Sequence[str] = ()) -> Report:
        """The report; raises `InputError` when a ``what_if`` change names an unknown stage
        or parallel stages that are never siblings. The garbage collector is paused meanwhile,
        as in `feed`: the report makes many short-lived containers (band attributions,
        what-if columns and rows) and none of them holds a cycle."""
        with gc_paused():
            return self._report(sources)

    def _report(self, sources: Sequence[str]) -> Report:
        self._predictions.check(list(self._stages))
        order = sorted(self._stages.items(), key=_pipeline_order)
        stage_stats = [
            summarize(
                name,
                acc.durations,
                count=acc.count,
                turns=acc.turns,
                errors=acc.errors,
                kind=acc.kind,
                source=acc.source,
            )
            for name, acc in order
        ]
        durations = self._turn_durations
        turn_stats = summarize(
            TURN_ROW,
            durations,
            count=self._turn_count,
            turns=len(durations),
            errors=self._turn_errors,
            source=", ".join(src for src, _ in self._turn_sources.most_common()) or None,
        )
        atts = self._attributions
        ranked = rank_order(durations)
        attribution = Attributions(
            self._attributions.share_sum().shares(),
            shares(atts[i] for i in turns_near(durations, 0.50, order=ranked)),
            shares(atts[i] for i in turns_near(durations, 0.95, order=ranked)),
            band_half_width=BAND_HALF_WIDTH,
        )
        first_tokens = self._first_tokens
        first_token = summarize(
            FIRST_TOKEN_ROW,
            first_tokens,
            count=len(first_tokens),
            turns=len(durations),
            errors=self._first_token_errors,
        )
        fatts = self._first_token_attributions
        ranked = rank_order(first_tokens)
        first_token_attribution = Attributions(
            self._first_token_attributions.share_sum().shares(),
            shares(fatts[i] for i in turns_near(first_tokens, 0.50, order=ranked)),
            shares(fatts[i] for i in turns_near(first_tokens, 0.95, order=ranked)),
            band_half_width=BAND_HALF_WIDTH,
        )
        what_if, suggestions = self._predictions.results(
            durations, first_tokens, attribution.overall, (turn_stats, first_token)
        )
        verdict = decide(
            attribution.overall,
            attribution.at_p50,
            attribution.at_p95,
            first_token=first_token_attribution.overall,
            savings=what_if if self._predictions.default else None,
        )
        samples = {name: acc.durations for name, acc in order}
        samples[TURN_ROW] = durations
        samples[FIRST_TOKEN_ROW] = first_tokens
        return Report(
            stages=stage_stats,
            turn=turn_stats,
            attribution=attribution,
            verdict=verdict,
            diagnostics=self.diagnostics,
            sources=list(sources),
            all_spans=self.all_spans,
            samples=samples,
            first_token=first_token,
            first_token_attribution=first_token_attribution,
            exemplars=self._exemplars.pick(
                p50_ns=_ns(turn_stats.p50_ms),
                p95_ns=_ns(turn_stats.p95_ms),
                p99_ns=_ns(turn_stats.p99_ms),
            ),
            time_range=None
            if self._first_ns is None or self._last_ns is None
            else (self._first_ns, self._last_ns),
            what_if=what_if,
            suggestions=suggestions,
        )


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the block, restored after (on errors too)."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _ns(ms: float | None) -> float | None:
    return None if ms is None else ms * 1e6


def _pipeline_order(item: tuple[str, _StageAcc]) -> tuple[int, float, str]:
    name, acc = item
    if acc.offset_n == 0:
        return (1, 0.0, name)
    return (0, acc.offset_sum / acc.offset_n, name)


def analyze(
    spans: Iterable[Span],
    *,
    all_spans: bool = False,
    diagnostics: Diagnostics | None = None,
    sources: Sequence[str] = (),
    what_if: Sequence[Change] = (),
    default_what_if: bool = True,
) -> Report:
    """Group spans into turns, compute per-stage stats, attribute the critical path, decide.

    ``diagnostics`` collects non-fatal problems (pass the one given to the
    reader so that reading and analysing problems land in one summary).
    """
    analyzer = Analyzer(
        all_spans=all_spans,
        diagnostics=diagnostics,
        what_if=what_if,
        default_what_if=default_what_if,
    )
    analyzer.feed(spans)
    return analyzer.report(sources)

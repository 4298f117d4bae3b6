"""Store-side aggregates plus sampled turn trees, into the same `Report` the file analysis makes.

    from rag_otel.analysis.store import Aggregate, store_report

    report = store_report(aggregates, sampled_analyzer, sources=["chdb:///data"], of_turns=n)

The second route a source can take (the first: spans into `report.Analyzer`). A store
(ClickHouse) computes the per-stage, turn and first-token statistics over all its spans,
as `Aggregate` rows; the spans of a bounded sample of traces go through an `Analyzer` as
usual, which gives the critical-path shares, the verdict, first-token attribution and
whatever else the Analyzer derives from turn trees. The statistics replace the sample's;
everything else is the sample's, and `Report.sample` says how large it was.
"""

from __future__ import annotations

import dataclasses
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

from rag_otel.analysis.report import FIRST_TOKEN_ROW, TURN_ROW, Analyzer, Report
from rag_otel.analysis.stats import LatencyStats

_NS_PER_MS = 1_000_000.0


@dataclass(frozen=True, slots=True)
class Aggregate:
    """One stage's (or the turns', or the first tokens') statistics, computed by the store."""

    name: str
    count: int
    errors: int
    turns: int
    mean_ns: float | None
    quantiles_ns: tuple[float, float, float, float]
    """p50, p90, p95, p99 (`stats.QUANTILES`), type 7."""
    max_ns: float | None
    kind: str | None = None
    source: str | None = None
    offset_ns: float | None = None
    """Mean start offset within the turn (orders stages as the pipeline runs them)."""
    sample: Sequence[int] = ()
    """A bounded sample of the durations (ns), for `compare` and plots."""

    @classmethod
    def empty(cls, name: str) -> Aggregate:
        """The statistics of a row the store returned none of (no turn, no first token)."""
        return cls(name, 0, 0, 0, None, (0, 0, 0, 0), None)

    def stats(self, turns: int | None = None) -> LatencyStats:
        timed = self.count if self.mean_ns is not None else 0
        ms = [None if timed == 0 else q / _NS_PER_MS for q in self.quantiles_ns]
        return LatencyStats(
            self.name,
            self.count,
            self.turns if turns is None else turns,
            timed,
            self.errors,
            None if self.mean_ns is None or timed == 0 else self.mean_ns / _NS_PER_MS,
            ms[0],
            ms[1],
            ms[2],
            ms[3],
            None if self.max_ns is None or timed == 0 else self.max_ns / _NS_PER_MS,
            self.kind,
            self.source,
        )


def _order(a: Aggregate) -> tuple[int, float, str]:
    if a.offset_ns is None:
        return (1, 0.0, a.name)
    return (0, a.offset_ns, a.name)


def store_report(
    stages: Sequence[Aggregate],
    turn: Aggregate,
    first_token: Aggregate | None,
    sampled: Analyzer,
    *,
    sources: Sequence[str],
    sampled_traces: int,
) -> Report:
    """The `Report` of a store: its statistics, the sample's attribution and verdict."""
    report = sampled.report(sources)
    ordered = sorted(stages, key=_order)
    samples: dict[str, array[int]] = {a.name: array("q", a.sample) for a in ordered}
    samples[TURN_ROW] = array("q", turn.sample)
    samples[FIRST_TOKEN_ROW] = array("q", first_token.sample if first_token else ())
    ft = (first_token or Aggregate.empty(FIRST_TOKEN_ROW)).stats(turns=turn.count)
    return dataclasses.replace(
        report,
        stages=[a.stats() for a in ordered],
        turn=turn.stats(turns=turn.count),
        first_token=ft,
        samples=samples,
        sample={
            "traces": sampled_traces,
            "turns": report.turn.count,
            "of_turns": turn.count,
        },
    )
